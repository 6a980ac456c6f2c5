"""URLs of the composed pages and endpoints (names without a namespace)."""

from django.urls import path

from skilllink.wiring import api, pages

urlpatterns = [
    path("dashboard/", pages.dashboard, name="dashboard"),
    path("sessions/<id:booking_id>/", pages.session_detail, name="session_detail"),
    path("api/me/", api.MeApi.as_view(), name="api-me"),
]
