from django.urls import path

from assistant import api

urlpatterns = [
    path("assistant/", api.AssistantStatusApi.as_view(), name="api-assistant"),
    path("assistant/ask/", api.AssistantAskApi.as_view(), name="api-assistant-ask"),
]
