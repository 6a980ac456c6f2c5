from django.urls import path

from accounts.consumers import NotificationConsumer
from meetings.consumers import RoomConsumer

websocket_urlpatterns = [
    path("ws/notifications/", NotificationConsumer.as_asgi()),
    path("ws/meetings/<id:booking_id>/", RoomConsumer.as_asgi()),
]
