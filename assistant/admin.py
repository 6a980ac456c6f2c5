from django.contrib import admin

from assistant.models import Exchange, SessionRecap


@admin.register(Exchange)
class ExchangeAdmin(admin.ModelAdmin):
    list_display = ("id", "asked_by", "booking", "status", "model", "created_at", "total_ms")
    list_filter = ("status", "model")
    search_fields = ("asked_by__username", "prompt")
    raw_id_fields = ("booking", "asked_by", "stopped_by")
    readonly_fields = ("html",)
    date_hierarchy = "created_at"


@admin.register(SessionRecap)
class SessionRecapAdmin(admin.ModelAdmin):
    list_display = ("booking", "status", "model", "claimed_at", "finished_at", "attempts")
    list_filter = ("status",)
    raw_id_fields = ("booking",)
    readonly_fields = ("html",)
