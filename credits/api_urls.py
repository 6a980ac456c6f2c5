from django.urls import path

from credits import api

urlpatterns = [
    path("bookings/<id:booking_id>/rating/", api.RatingApi.as_view(), name="api-booking-rating"),
]
