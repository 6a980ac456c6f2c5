from django.conf import settings
from django.db import models
from django.utils import timezone


class ChatMessage(models.Model):
    """A line of a session's chat: saved before it is broadcast, kept after the session."""

    booking = models.ForeignKey(
        "scheduling.Booking", on_delete=models.CASCADE, related_name="chat_messages"
    )
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="chat_messages"
    )
    text = models.TextField(max_length=2000)
    sent_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["sent_at", "id"]
        indexes = [models.Index(fields=["booking", "sent_at"], name="chat_booking_time")]

    def __str__(self) -> str:
        return f"{self.sender}: {self.text[:40]}"
