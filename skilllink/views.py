"""Site-wide views: health check and error pages (JSON under /api/, HTML elsewhere)."""

from django.db import connection
from django.http import JsonResponse
from django.shortcuts import render

from skilllink.errors import AppError, Forbidden, NotFound, json_error_response


def health(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


def _error(request, error: AppError, template: str):
    if request.path.startswith("/api/"):
        return json_error_response(error)
    return render(request, template, {"error": error}, status=error.status)


def page_not_found(request, exception=None):
    return _error(request, NotFound("There is nothing at this address."), "404.html")


def permission_denied(request, exception=None):
    return _error(request, Forbidden("You do not have permission to see this."), "403.html")


def server_error(request):
    error = AppError("Something went wrong on our side.", code="server_error", status=500)
    if request.path.startswith("/api/"):
        return json_error_response(error)
    return render(request, "500.html", status=500)
