from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Exchange(models.Model):
    """One question to the assistant and its answer: in a session's room (``booking`` set)
    or on the assistant page (``booking`` None).

    A row is written when the question is accepted (status ``streaming``: the claim) and
    finished once the answer is complete, stopped or failed. At most one answer per
    booking streams at a time: a partial unique index, so the rule holds across server
    processes. A claim whose process died is released after ``deadline_at``.
    """

    class Status(models.TextChoices):
        STREAMING = "streaming", "Answering"
        DONE = "done", "Answered"
        STOPPED = "stopped", "Stopped"
        FAILED = "failed", "Failed"

    booking = models.ForeignKey(
        "scheduling.Booking",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="assistant_exchanges",
    )
    asked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assistant_exchanges"
    )
    prompt = models.TextField()
    include_chat = models.BooleanField(default=False)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STREAMING)
    markdown = models.TextField(blank=True)
    html = models.TextField(blank=True)  # rendered and sanitized on the server
    truncated = models.BooleanField(default=False)  # cut at ASSISTANT_MAX_OUTPUT_TOKENS
    error_code = models.CharField(max_length=40, blank=True)
    error_detail = models.CharField(max_length=500, blank=True)
    model = models.CharField(max_length=100)
    # Cleared when the failure was the service's (timeout, upstream error): such a
    # question does not use up the asker's daily quota.
    counts_for_quota = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    deadline_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    stopped_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    first_chunk_ms = models.PositiveIntegerField(null=True, blank=True)
    total_ms = models.PositiveIntegerField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    output_tokens = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["booking"],
                condition=Q(status="streaming"),
                name="assistant_one_answer_per_room",
                violation_error_message="The assistant is already answering in this session.",
            )
        ]
        indexes = [
            models.Index(fields=["asked_by", "created_at"], name="assistant_asker_time"),
            models.Index(fields=["booking", "created_at"], name="assistant_booking_time"),
        ]

    def __str__(self) -> str:
        return f"Exchange {self.pk} by {self.asked_by_id} ({self.status})"


class SessionRecap(models.Model):
    """The assistant's recap of a completed session: what was covered, action items, a
    next topic. Written in the background after completion (``recaps_run_due``), never
    by the request that completed the session; the row is also the claim (one per
    booking), so two workers never write the same recap.
    """

    class Status(models.TextChoices):
        RUNNING = "running", "Being written"
        DONE = "done", "Ready"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Nothing to recap"

    booking = models.OneToOneField(
        "scheduling.Booking", on_delete=models.CASCADE, related_name="assistant_recap"
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    markdown = models.TextField(blank=True)
    html = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)  # why it failed or was skipped
    model = models.CharField(max_length=100, blank=True)
    claimed_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)

    def __str__(self) -> str:
        return f"Recap of booking {self.booking_id} ({self.status})"
