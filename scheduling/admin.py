from django.contrib import admin

from scheduling.models import (
    AvailabilitySlot,
    Booking,
    BookingEvent,
    CalendarFeed,
    MatchRequest,
    RescheduleRequest,
    RoomVisit,
)


@admin.register(AvailabilitySlot)
class AvailabilitySlotAdmin(admin.ModelAdmin):
    list_display = ["id", "teacher", "skill", "start", "end", "created_at"]
    list_filter = ["skill", "start"]
    search_fields = ["teacher__username", "skill__name"]
    date_hierarchy = "start"
    list_select_related = ["teacher", "skill"]
    raw_id_fields = ["teacher"]
    autocomplete_fields = ["skill"]


class BookingEventInline(admin.TabularInline):
    model = BookingEvent
    extra = 0
    can_delete = False
    readonly_fields = ["at", "from_status", "to_status", "actor", "note"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Booking)
class BookingAdmin(admin.ModelAdmin):
    """Read-mostly: state changes go through the services (the API or the pages), never raw edits."""

    list_display = ["id", "status", "learner", "teacher", "skill", "start", "end", "created_at"]
    list_filter = ["status", "counts_for_quota", "start", "skill"]
    search_fields = ["learner__username", "teacher__username", "message", "reason"]
    date_hierarchy = "start"
    list_select_related = ["learner", "teacher", "skill"]
    inlines = [BookingEventInline]
    readonly_fields = [
        field.name for field in Booking._meta.fields if field.name not in {"message", "reason"}
    ]


@admin.register(MatchRequest)
class MatchRequestAdmin(admin.ModelAdmin):
    list_display = ["id", "learner", "skill", "window_start", "window_end", "status", "created_at"]
    list_filter = ["status", "skill"]
    search_fields = ["learner__username", "skill__name", "message"]
    list_select_related = ["learner", "skill"]
    raw_id_fields = ["learner", "booking"]


@admin.register(BookingEvent)
class BookingEventAdmin(admin.ModelAdmin):
    list_display = ["booking", "from_status", "to_status", "actor", "at"]
    list_filter = ["to_status", "at"]
    search_fields = ["booking__id", "actor__username", "note"]
    list_select_related = ["booking", "actor"]
    raw_id_fields = ["booking", "actor"]


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    """The token is a credential: staff can see that a feed exists and revoke it, not read it."""

    list_display = ["user", "created_at"]
    search_fields = ["user__username"]
    list_select_related = ["user"]
    fields = ["user", "created_at"]
    readonly_fields = ["user", "created_at"]

    def has_add_permission(self, request):
        return False


@admin.register(RoomVisit)
class RoomVisitAdmin(admin.ModelAdmin):
    list_display = ["booking", "user", "joined_at", "left_at"]
    list_filter = ["joined_at", ("left_at", admin.EmptyFieldListFilter)]
    search_fields = ["user__username", "booking__id"]
    list_select_related = ["user", "booking"]
    raw_id_fields = ["booking", "user"]


@admin.register(RescheduleRequest)
class RescheduleRequestAdmin(admin.ModelAdmin):
    """Read-only: moves are asked and answered through the services (pages or API)."""

    list_display = ["id", "booking", "status", "from_start", "start", "created_at", "answered_at"]
    list_filter = ["status", "created_at"]
    search_fields = ["booking__learner__username", "booking__teacher__username", "message"]
    list_select_related = ["booking__learner", "booking__teacher"]
    readonly_fields = [field.name for field in RescheduleRequest._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # part of the session's history, like its events
