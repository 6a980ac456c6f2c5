from django.urls import path

from credits import api

urlpatterns = [
    path("credits/", api.CreditsApi.as_view(), name="api-credits"),
]
