"""Site-wide views: health check and error pages (JSON under /api/, HTML elsewhere)."""

from django.http import JsonResponse
from django.shortcuts import render

from skilllink.errors import AppError, Forbidden, NotFound, json_error_response
from skilllink.outages import health_report


def health(request):
    """200 ``{"status": "ok", "database": "ok", "cache": "ok", "channel_layer": "ok"}``, or 503
    with ``"status": "unavailable"`` and ``"down"`` for each dependency that is."""
    checks, healthy = health_report()
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503
    )


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
