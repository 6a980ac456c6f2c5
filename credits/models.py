from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Rating(models.Model):
    """A learner's 1-5 stars for one completed session (one per booking)."""

    booking = models.OneToOneField(
        "scheduling.Booking", on_delete=models.CASCADE, related_name="rating"
    )
    teacher = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings_received"
    )
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ratings_given"
    )
    stars = models.PositiveSmallIntegerField()
    feedback = models.TextField(blank=True, max_length=2000)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=Q(stars__gte=1, stars__lte=5), name="rating_stars_1_5")
        ]
        indexes = [models.Index(fields=["teacher", "-created_at"], name="rating_teacher_recent")]

    def __str__(self) -> str:
        return f"{self.stars}★ for {self.teacher} (booking {self.booking_id})"


class TeacherRating(models.Model):
    """Running totals per teacher and the ranking score they give, kept in step with
    ``Rating`` by ``credits.services``, so ranking thousands of teachers is one indexed
    join, not an aggregate per request. A teacher without a row has the prior score."""

    teacher = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="rating_summary",
    )
    count = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    # Reliability: sessions taught (both came), sessions the teacher missed, and sessions
    # the teacher cancelled within 24 hours of their start.
    sessions_taught = models.PositiveIntegerField(default=0)
    no_shows = models.PositiveIntegerField(default=0)
    late_cancels = models.PositiveIntegerField(default=0)
    # credits.selectors.teacher_score of the totals: written with them, never computed in SQL.
    score = models.FloatField()

    def __str__(self) -> str:
        return f"{self.teacher}: {self.count} ratings"


# --- The credit ledger -------------------------------------------------------------------
#
# Append-only double entry: every movement is a ``Transfer`` whose ``LedgerEntry`` rows net
# to zero across accounts. Only ``credits.services`` writes these tables. The booking a
# transfer is for is a plain integer (``booking_id``), never a foreign key: credits does
# not import scheduling.


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk ``update()``/``delete()`` would rewrite history: refused (the database refuses too)."""

    def update(self, **kwargs):
        raise TypeError(f"{self.model.__name__} rows are append-only: record a new transfer.")

    def delete(self):
        raise TypeError(f"{self.model.__name__} rows are append-only: record a new transfer.")

    update.alters_data = True
    delete.alters_data = True


class AppendOnlyModel(models.Model):
    """A row written once: ``save()`` only inserts, ``delete()`` is refused."""

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError(
                f"{type(self).__name__} rows are append-only: record a new transfer instead."
            )
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError(f"{type(self).__name__} rows are append-only: record a new transfer.")


class Account(models.Model):
    """Where credits sit: one per user, plus the single escrow and platform accounts.

    For user accounts ``available`` is the stored sum of the account's entries and ``held``
    the sum of its open holds in escrow (both updated in the transaction that writes the
    entries; the CHECKs keep them from going negative). A user's balance is
    ``available + held``. The escrow and platform balances are not stored (always 0 here):
    every hold and grant would otherwise update, and so lock, the same row. Read them with
    ``credits.selectors.credits_account_balance``.
    """

    class Kind(models.TextChoices):
        USER = "user", "User"
        ESCROW = "escrow", "Escrow"
        PLATFORM = "platform", "Platform"

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.USER)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        # A user with ledger history is deactivated, never deleted: deleting the account's
        # entries would make credits vanish.
        on_delete=models.PROTECT,
        related_name="credit_account",
    )
    available = models.BigIntegerField(default=0)
    held = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        permissions = [("adjust_credits", "Can adjust credit balances (with a reason)")]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind="user", user__isnull=False) | (~Q(kind="user") & Q(user=None)),
                name="credit_account_user_iff_user_kind",
            ),
            models.CheckConstraint(
                condition=Q(available__gte=0),
                name="credit_account_available_not_negative",
                violation_error_message="The available balance cannot go below zero.",
            ),
            models.CheckConstraint(
                condition=Q(held__gte=0), name="credit_account_held_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(kind="user") | Q(available=0, held=0),
                name="credit_account_system_balance_not_stored",
            ),
            models.UniqueConstraint(
                fields=["kind"],
                condition=~Q(kind="user"),
                name="credit_account_one_per_system_kind",
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.USER:
            return f"{self.user} ({self.available} available, {self.held} held)"
        return f"{self.get_kind_display()} account"

    @property
    def balance(self) -> int:
        return self.available + self.held


class Transfer(AppendOnlyModel):
    """One movement of credits; its entries net to zero."""

    class Kind(models.TextChoices):
        GRANT = "grant", "Sign-up grant"
        HOLD = "hold", "Hold"
        RELEASE = "release", "Hold returned"
        PAYMENT = "payment", "Session payment"
        ADJUSTMENT = "adjustment", "Staff adjustment"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    reason = models.CharField(max_length=500, blank=True)
    booking_id = models.PositiveBigIntegerField(null=True, blank=True)
    # Unique, so a retried call (a second settlement, a resubmitted admin form) finds the
    # transfer it already made instead of moving credits twice.
    idempotency_key = models.CharField(max_length=100, unique=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="credit_transfers_made",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [
            models.Index(
                fields=["booking_id"],
                condition=Q(booking_id__isnull=False),
                name="transfer_booking",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="adjustment") | ~Q(reason=""),
                name="transfer_adjustment_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=["hold", "release", "payment"]) | Q(booking_id__isnull=False),
                name="transfer_booking_kinds_have_booking",
            ),
        ]

    def __str__(self) -> str:
        booking = f" for booking {self.booking_id}" if self.booking_id else ""
        return f"{self.get_kind_display()} #{self.pk}{booking}"


class LedgerEntry(AppendOnlyModel):
    """One leg of a transfer: ``amount`` credits into (+) or out of (-) ``account``."""

    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="entries")
    # Indexed by ledger_entry_account_recent (account first).
    account = models.ForeignKey(
        Account, on_delete=models.PROTECT, related_name="entries", db_index=False
    )
    amount = models.BigIntegerField()

    class Meta:
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(condition=~Q(amount=0), name="ledger_entry_amount_not_zero"),
            models.UniqueConstraint(
                fields=["transfer", "account"], name="ledger_entry_one_per_account_and_transfer"
            ),
        ]
        indexes = [models.Index(fields=["account", "-id"], name="ledger_entry_account_recent")]

    def __str__(self) -> str:
        return f"{self.amount:+d} on {self.account} (transfer {self.transfer_id})"


class Hold(models.Model):
    """Credits of one learner in escrow for one booking, until released or paid out.

    Written by ``credits.services`` only: created with its ``hold`` transfer, closed once
    (``closed_by``, the release transfer) by a release or a settlement. Locking this row
    is what makes closing idempotent under concurrency.
    """

    booking_id = models.PositiveBigIntegerField(unique=True)
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="holds")
    amount = models.PositiveBigIntegerField()
    opened_by = models.OneToOneField(Transfer, on_delete=models.PROTECT, related_name="hold_opened")
    closed_by = models.OneToOneField(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="hold_closed"
    )
    created_at = models.DateTimeField(default=timezone.now)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_hold_amount_positive"),
            models.CheckConstraint(
                condition=Q(closed_by__isnull=True, closed_at__isnull=True)
                | Q(closed_by__isnull=False, closed_at__isnull=False),
                name="credit_hold_closed_together",
            ),
        ]
        indexes = [
            models.Index(
                fields=["account"], condition=Q(closed_by__isnull=True), name="credit_hold_open"
            )
        ]

    def __str__(self) -> str:
        state = "closed" if self.closed_by_id else "open"
        return f"{self.amount} held for booking {self.booking_id} ({state})"

    @property
    def is_open(self) -> bool:
        return self.closed_by_id is None
