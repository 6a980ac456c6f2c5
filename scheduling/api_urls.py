from django.urls import path

from scheduling import api

urlpatterns = [
    path("slots/", api.SlotListApi.as_view(), name="api-slots"),
    path("slots/<id:slot_id>/", api.SlotDetailApi.as_view(), name="api-slot"),
    path("teachers/", api.TeacherListApi.as_view(), name="api-teachers"),
    path("teachers/<id:teacher_id>/", api.TeacherDetailApi.as_view(), name="api-teacher"),
    path("bookings/", api.BookingListApi.as_view(), name="api-bookings"),
    path("bookings/<id:booking_id>/", api.BookingDetailApi.as_view(), name="api-booking"),
    path("bookings/<id:booking_id>/accept/", api.booking_accept_view, name="api-booking-accept"),
    path("bookings/<id:booking_id>/decline/", api.booking_decline_view, name="api-booking-decline"),
    path("bookings/<id:booking_id>/cancel/", api.booking_cancel_view, name="api-booking-cancel"),
    path("bookings/<id:booking_id>/join/", api.booking_join_view, name="api-booking-join"),
    path(
        "bookings/<id:booking_id>/complete/",
        api.booking_complete_view,
        name="api-booking-complete",
    ),
    path("subscription/", api.SubscriptionApi.as_view(), name="api-subscription"),
    path(
        "subscription/upgrade/",
        api.SubscriptionUpgradeApi.as_view(),
        name="api-subscription-upgrade",
    ),
    path("bookings/<id:booking_id>/rating/", api.RatingApi.as_view(), name="api-booking-rating"),
    path(
        "bookings/<id:booking_id>/reschedule/",
        api.BookingRescheduleApi.as_view(),
        name="api-booking-reschedule",
    ),
    path(
        "bookings/<id:booking_id>/reschedule/accept/",
        api.booking_reschedule_accept_view,
        name="api-booking-reschedule-accept",
    ),
    path(
        "bookings/<id:booking_id>/reschedule/decline/",
        api.booking_reschedule_decline_view,
        name="api-booking-reschedule-decline",
    ),
    path("match/", api.MatchApi.as_view(), name="api-match"),
    path("match/propose/", api.MatchProposeApi.as_view(), name="api-match-propose"),
    path("match/<id:request_id>/", api.MatchDetailApi.as_view(), name="api-match-detail"),
]
