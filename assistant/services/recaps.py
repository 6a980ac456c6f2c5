"""Post-session recaps: what was covered, action items, a suggested next topic.

``recaps_run_due`` is the background step (one of the periodic jobs of
``skilllink.wiring.periodic``, never run by the request that completed the session). It claims each
completed session without a recap by inserting its ``SessionRecap`` row (one per
booking: a second worker's insert fails and it moves on), asks the model, and stores
the recap or why there is none. The session itself is never touched: it stays
completed whatever happens here.
"""

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from accounts.services import notification_send
from assistant import client, prompts, rendering, selectors
from assistant.client import ModelRequest
from assistant.models import Exchange, SessionRecap
from assistant.services.exchanges import chat_lines, session_brief
from scheduling.models import Booking
from scheduling.payloads import booking_payload
from skilllink.errors import AppError
from skilllink.realtime import send_all_on_commit, user_group

logger = logging.getLogger(__name__)

RECAP_LOOKBACK = selectors.RECAP_LOOKBACK
# A claim still "running" after this long was abandoned (its worker died): taken over.
RECAP_LEASE = timedelta(minutes=10)
RECAP_CHAT_LINES = 200
RECAP_EXCHANGES = 20


def _claim(*, booking_id: int, now: datetime) -> SessionRecap | None:
    """The recap row, claimed for this worker; None if another worker has it."""
    try:
        with transaction.atomic():
            return SessionRecap.objects.create(
                booking_id=booking_id,
                status=SessionRecap.Status.RUNNING,
                claimed_at=now,
                model=settings.GEMINI_MODEL,
            )
    except IntegrityError:
        pass
    taken = SessionRecap.objects.filter(
        booking_id=booking_id,
        status=SessionRecap.Status.RUNNING,
        claimed_at__lt=now - RECAP_LEASE,
    ).update(claimed_at=now, attempts=F("attempts") + 1, model=settings.GEMINI_MODEL)
    return SessionRecap.objects.get(booking_id=booking_id) if taken else None


def _store(
    recap: SessionRecap,
    *,
    status: str,
    now: datetime,
    markdown: str = "",
    html: str = "",
    error: str = "",
) -> bool:
    """Finish the recap if this worker still holds its claim; False otherwise."""
    return bool(
        SessionRecap.objects.filter(
            pk=recap.pk, status=SessionRecap.Status.RUNNING, claimed_at=recap.claimed_at
        ).update(
            status=status,
            markdown=markdown,
            html=html,
            error=error[:500],
            finished_at=now,
        )
    )


def _refresh_session_pages(booking: Booking) -> None:
    """Both participants' open pages of the session re-render (the recap is part of it)."""
    payload = booking_payload(booking)
    send_all_on_commit(
        [
            (user_group(user_id), {"type": "booking.updated", "booking": payload})
            for user_id in (booking.learner_id, booking.teacher_id)
        ]
    )


def recap_write(*, recap: SessionRecap, now: datetime | None = None) -> str:
    """Write the claimed ``recap``: ask the model and store the result, or store why not.
    Returns the status stored. The learner is notified when it is ready."""
    now = now or timezone.now()
    booking = Booking.objects.select_related("learner", "teacher", "skill").get(pk=recap.booking_id)
    brief = session_brief(booking, booking.learner)
    chat = chat_lines(booking_id=booking.pk, limit=RECAP_CHAT_LINES)
    exchanges = [
        (e.asked_by.username, e.prompt, e.markdown)
        for e in Exchange.objects.filter(
            booking=booking, status__in=[Exchange.Status.DONE, Exchange.Status.STOPPED]
        )
        .select_related("asked_by")
        .order_by("created_at", "id")[:RECAP_EXCHANGES]
    ]
    if not chat and not exchanges:
        with transaction.atomic():
            if _store(
                recap,
                status=SessionRecap.Status.SKIPPED,
                now=now,
                error="Nothing was written in the chat or asked of the assistant, so there is "
                "nothing to recap.",
            ):
                _refresh_session_pages(booking)
        return SessionRecap.Status.SKIPPED
    request = ModelRequest(
        system_instruction=prompts.recap_system_instruction(brief),
        contents=prompts.recap_contents(brief=brief, chat=chat, exchanges=exchanges),
        max_output_tokens=prompts.RECAP_MAX_OUTPUT_TOKENS,
    )
    try:
        answer = client.answer_once(request)
        html = rendering.markdown_html(answer.text)
    except AppError as error:
        logger.warning("Recap of booking %s failed: %s", booking.pk, error.detail)
        with transaction.atomic():
            if _store(
                recap, status=SessionRecap.Status.FAILED, now=timezone.now(), error=error.detail
            ):
                _refresh_session_pages(booking)
        return SessionRecap.Status.FAILED
    with transaction.atomic():
        if _store(
            recap,
            status=SessionRecap.Status.DONE,
            now=timezone.now(),
            markdown=answer.text,
            html=html,
        ):
            skill = booking.skill.name if booking.skill else "your"
            notification_send(
                user=booking.learner,
                kind="assistant.recap",
                title=f"Recap of your {skill} session with {booking.teacher.username}",
                body="What you covered, action items and a suggested next topic.",
                url=f"/sessions/{booking.pk}/#recap",
            )
            _refresh_session_pages(booking)
    return SessionRecap.Status.DONE


def recaps_run_due(*, now: datetime | None = None, limit: int = 10) -> int:
    """Write recaps for completed sessions that have none (at most ``limit`` per run).

    Idempotent and safe to run in several processes at once (each session is claimed
    by one ``SessionRecap`` insert). Does nothing without ``GEMINI_API_KEY``. Blocks
    for up to ``limit`` model calls (each bounded by ``GEMINI_TIMEOUT_SECONDS`` and one
    retry). Returns how many recaps it finished (written, failed or skipped).
    """
    if not client.configured():
        return 0
    now = now or timezone.now()
    finished = 0
    for booking_id in selectors.recaps_due(
        now=now, since=now - RECAP_LOOKBACK, stale_before=now - RECAP_LEASE, limit=limit
    ):
        recap = _claim(booking_id=booking_id, now=now)
        if recap is None:
            continue
        try:
            recap_write(recap=recap, now=now)
        except Exception:
            logger.exception("Recap of booking %s failed", booking_id)
            _store(
                recap,
                status=SessionRecap.Status.FAILED,
                now=timezone.now(),
                error="An internal error stopped the recap.",
            )
        finished += 1
    return finished
