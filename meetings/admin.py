from django.contrib import admin

from meetings.models import ChatMessage


@admin.register(ChatMessage)
class ChatMessageAdmin(admin.ModelAdmin):
    list_display = ["booking", "sender", "short_text", "sent_at"]
    list_filter = ["sent_at"]
    search_fields = ["text", "sender__username", "booking__id"]
    list_select_related = ["sender", "booking"]
    raw_id_fields = ["booking", "sender"]
    date_hierarchy = "sent_at"

    @admin.display(description="text")
    def short_text(self, obj):
        return obj.text[:80]
