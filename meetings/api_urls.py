from django.urls import path

from meetings import api

urlpatterns = [
    path(
        "bookings/<id:booking_id>/messages/",
        api.BookingMessagesApi.as_view(),
        name="api-booking-messages",
    ),
]
