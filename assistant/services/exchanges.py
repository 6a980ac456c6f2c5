"""Questions to the assistant: accept one (checks, quota, the room's claim), finish it,
and the one-shot path for the API and the assistant page."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from assistant import client, prompts, rendering
from assistant.client import AssistantNoAnswer, ModelRequest
from assistant.models import Exchange
from assistant.selectors import quota_for
from scheduling.models import Booking
from scheduling.transitions import booking_get_for_user
from skilllink.errors import AppError, Conflict, RateLimited, ValidationFailed
from skilllink.realtime import meeting_group, send_all_on_commit

# A claim whose process died is released this long after the answer's deadline.
CLAIM_GRACE = timedelta(seconds=15)

ChatSource = Callable[[int, int], Sequence[tuple[str, str]]]
_chat_source: ChatSource | None = None


def chat_source_register(source: ChatSource) -> None:
    """Set how the assistant reads a session's chat: ``source(booking_id, limit)`` returns
    the last ``limit`` lines as ``(sender name, text)``, oldest first.

    The chat belongs to ``meetings``, which sits above this app and registers its reader
    at startup (``MeetingsConfig.ready``); the room passes its chat explicitly instead.
    """
    global _chat_source
    _chat_source = source


def chat_lines(*, booking_id: int, limit: int) -> list[tuple[str, str]]:
    """The session's last ``limit`` chat lines through the registered reader (none without)."""
    if _chat_source is None or limit <= 0:
        return []
    return list(_chat_source(booking_id, limit))


def answer_deadline_seconds() -> float:
    """The longest an answer may take, the SDK's retry included; the stream is cut there."""
    return settings.GEMINI_TIMEOUT_SECONDS * (client.RETRY_ATTEMPTS + 1)


def prompt_clean(prompt: object) -> str:
    """The question as it will be sent, or ``ValidationFailed``."""
    if not isinstance(prompt, str):
        raise ValidationFailed('"prompt" must be a string.', fields={"prompt": ["Not a string."]})
    prompt = prompt.strip()
    if not prompt:
        raise ValidationFailed("Type a question first.", fields={"prompt": ["Empty question."]})
    limit = settings.ASSISTANT_MAX_PROMPT_CHARS
    if len(prompt) > limit:
        raise ValidationFailed(
            f"Questions are limited to {limit:,} characters; this one has {len(prompt):,}.",
            fields={"prompt": [f"At most {limit:,} characters."]},
        )
    return prompt


def _in_words(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


def quota_check(*, user: User, now: datetime) -> None:
    """``RateLimited`` (429, with ``retry_after``) once today's questions are used up."""
    quota = quota_for(user=user, now=now)
    if quota.remaining > 0:
        return
    wait = (quota.resets_at - now).total_seconds()
    detail = (
        f"You have asked the assistant {quota.limit} questions today, your daily limit. "
        f"It resets at midnight ({user.timezone}), in {_in_words(wait)}."
    )
    if not user.is_premium(now) and quota.limit < settings.ASSISTANT_DAILY_PROMPTS_PREMIUM:
        detail += f" Premium allows {settings.ASSISTANT_DAILY_PROMPTS_PREMIUM} a day."
    raise RateLimited(detail, retry_after=max(1, int(wait) + 1))


def session_brief(booking: Booking, asker: User) -> prompts.SessionBrief:
    return prompts.SessionBrief(
        skill=booking.skill.name if booking.skill else None,
        teacher=booking.teacher.username,
        learner=booking.learner.username,
        booking_message=booking.message,
        asker=asker.username,
    )


def _release_abandoned(*, booking_id: int, now: datetime) -> None:
    """Fail a claim past its deadline: the process that held it is gone."""
    Exchange.objects.filter(
        booking_id=booking_id, status=Exchange.Status.STREAMING, deadline_at__lt=now
    ).update(
        status=Exchange.Status.FAILED,
        error_code="assistant_interrupted",
        error_detail="The answer was interrupted (the server stopped).",
        counts_for_quota=False,
        finished_at=now,
    )


@dataclass
class Accepted:
    """A question that passed every check: its saved row (the claim) and the model call."""

    exchange: Exchange
    request: ModelRequest


def exchange_start(
    *,
    user: User,
    prompt: object,
    booking_id: int | None = None,
    chat: Sequence[tuple[str, str]] | None = None,
    include_chat: bool = False,
    now: datetime | None = None,
) -> Accepted:
    """Accept a question, or raise why not.

    Checks, in order: the assistant is configured (503 ``assistant_unavailable``), the
    prompt (400 ``invalid``), the booking is the user's (404), the daily quota (429
    ``rate_limited``), no other answer streams in that session (409
    ``assistant_in_progress``). Saves the exchange as ``streaming``, which is the
    session's claim until ``exchange_finish``. ``chat`` (the room passes it) is quoted
    when ``include_chat``; without it the registered chat reader is used.
    """
    client.require_configured()
    text = prompt_clean(prompt)
    now = now or timezone.now()
    booking = None
    with transaction.atomic():
        if booking_id is not None:
            booking = booking_get_for_user(user=user, booking_id=booking_id, now=now)
        # One question at a time per person, so two tabs cannot both take the last one;
        # the plan is read fresh (an upgrade counts at once, whatever the socket holds).
        fresh = User.objects.select_for_update().get(pk=user.pk)
        quota_check(user=fresh, now=now)
        if booking is not None:
            _release_abandoned(booking_id=booking.pk, now=now)
        exchange = Exchange(
            booking=booking,
            asked_by=user,
            prompt=text,
            include_chat=bool(include_chat and booking is not None),
            model=settings.GEMINI_MODEL,
            created_at=now,
            deadline_at=now + timedelta(seconds=answer_deadline_seconds()) + CLAIM_GRACE,
        )
        try:
            with transaction.atomic():
                exchange.save()
        except IntegrityError:
            raise Conflict(
                "The assistant is still answering in this session. Wait for it, or stop it.",
                code="assistant_in_progress",
            ) from None
    if booking is not None:
        system = prompts.session_system_instruction(session_brief(booking, user))
        if exchange.include_chat and chat is None:
            chat = chat_lines(booking_id=booking.pk, limit=settings.ASSISTANT_CHAT_CONTEXT_MESSAGES)
        quoted_chat = chat if exchange.include_chat else None
    else:
        system = prompts.page_system_instruction(asker=user.username)
        quoted_chat = None
    request = ModelRequest(
        system_instruction=system,
        contents=prompts.question(prompt=text, asker=user.username, chat=quoted_chat),
        max_output_tokens=settings.ASSISTANT_MAX_OUTPUT_TOKENS,
    )
    return Accepted(exchange=exchange, request=request)


# Failures of the service (not of the asker) give the question back.
_REFUNDED = {
    "assistant_timeout",
    "assistant_upstream_error",
    "assistant_overloaded",
    "assistant_no_answer",
    "assistant_interrupted",
    "assistant_unavailable",
}


def exchange_finish(
    *,
    exchange: Exchange,
    status: str,
    markdown: str = "",
    html: str = "",
    error: AppError | None = None,
    truncated: bool = False,
    stopped_by_id: int | None = None,
    first_chunk_ms: int | None = None,
    total_ms: int | None = None,
    prompt_tokens: int | None = None,
    output_tokens: int | None = None,
    now: datetime | None = None,
) -> bool:
    """Store how the exchange ended; releases the session's claim. False if it had already
    been ended (released as abandoned): nothing is written then."""
    now = now or timezone.now()
    fields = {
        "status": status,
        "markdown": markdown,
        "html": html,
        "truncated": truncated,
        "error_code": error.code if error else "",
        "error_detail": error.detail[:500] if error else "",
        "counts_for_quota": not (error and error.code in _REFUNDED),
        "stopped_by_id": stopped_by_id,
        "first_chunk_ms": first_chunk_ms,
        "total_ms": total_ms,
        "prompt_tokens": prompt_tokens,
        "output_tokens": output_tokens,
        "finished_at": now,
    }
    updated = Exchange.objects.filter(pk=exchange.pk, status=Exchange.Status.STREAMING).update(
        **fields
    )
    for name, value in fields.items():
        setattr(exchange, name, value)
    return bool(updated)


def started_event(exchange: Exchange) -> dict:
    """``assistant.started``: the question, for everyone in the room."""
    return {
        "type": "assistant.started",
        "request_id": exchange.pk,
        "asked_by": {"id": exchange.asked_by_id, "name": exchange.asked_by.username},
        "prompt": exchange.prompt,
        "include_chat": exchange.include_chat,
        "created_at": exchange.created_at.isoformat(),
    }


def done_event(exchange: Exchange) -> dict:
    return {
        "type": "assistant.done",
        "request_id": exchange.pk,
        "markdown": exchange.markdown,
        "html": exchange.html,
        "truncated": exchange.truncated,
        "model": exchange.model,
        "first_chunk_ms": exchange.first_chunk_ms,
        "total_ms": exchange.total_ms,
    }


def error_event(exchange: Exchange, error: AppError) -> dict:
    """``assistant.error`` of a started answer, with whatever text had arrived (rendered)."""
    return {
        "type": "assistant.error",
        "request_id": exchange.pk,
        "code": error.code,
        "detail": error.detail,
        "markdown": exchange.markdown,
        "html": exchange.html,
    }


def exchange_ask(
    *,
    user: User,
    prompt: object,
    booking_id: int | None = None,
    include_chat: bool = False,
    now: datetime | None = None,
) -> Exchange:
    """Ask and wait for the whole answer (the API and the assistant page): the same
    checks, quota, claim and rendering as the room, without streaming. A question about
    a session also appears in its room (``assistant.started`` then ``.done``/``.error``).
    Raises the failure's ``AppError`` after saving it."""
    accepted = exchange_start(
        user=user, prompt=prompt, booking_id=booking_id, include_chat=include_chat, now=now
    )
    exchange = accepted.exchange
    room = meeting_group(exchange.booking_id) if exchange.booking_id else None
    if room:
        send_all_on_commit([(room, started_event(exchange))])
    try:
        answer = client.answer_once(accepted.request)
    except AppError as error:
        exchange_finish(exchange=exchange, status=Exchange.Status.FAILED, error=error)
        if room:
            send_all_on_commit([(room, error_event(exchange, error))])
        raise
    html = rendering.markdown_html(answer.text)
    if not html.strip():
        error = AssistantNoAnswer("The AI service sent an empty answer.")
        exchange_finish(exchange=exchange, status=Exchange.Status.FAILED, error=error)
        raise error
    exchange_finish(
        exchange=exchange,
        status=Exchange.Status.DONE,
        markdown=answer.text,
        html=html,
        truncated=answer.truncated,
        total_ms=answer.total_ms,
        prompt_tokens=answer.prompt_tokens,
        output_tokens=answer.output_tokens,
    )
    if room:
        send_all_on_commit([(room, done_event(exchange))])
    return exchange
