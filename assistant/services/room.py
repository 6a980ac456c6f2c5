"""The assistant in a session's room: one answer streamed to everyone in it.

``room_answer_start`` accepts the question (``exchange_start``: checks, quota, the
room's claim) and runs the answer in a task of its own, so the socket that asked goes
on handling chat and signaling while it streams. The task fans out to the room's
group through the channel layer — ``assistant.started``, ``assistant.delta`` (each
chunk as it arrives), then ``assistant.done`` (Markdown and sanitized HTML) or
``assistant.error`` — so both participants, in all their tabs and on any server
process, see the same answer in the same order. The asker's socket may close
meanwhile: the answer still completes and is saved.

Stopping works across processes too: ``room_answer_stop`` sends ``assistant.stop`` to
the room's assistant group, which the answering task (wherever it runs) listens to.
"""

import asyncio
import logging
import time
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from accounts.models import User
from assistant import client, rendering
from assistant.client import AssistantNoAnswer, AssistantTimeout, AssistantUpstreamError
from assistant.models import Exchange
from assistant.selectors import quota_for
from assistant.services.exchanges import (
    Accepted,
    answer_deadline_seconds,
    done_event,
    error_event,
    exchange_finish,
    exchange_start,
    started_event,
)
from skilllink.errors import AppError, ValidationFailed
from skilllink.realtime import group_send, meeting_group

logger = logging.getLogger(__name__)

# Answers running in this process: a strong reference keeps each task alive after the
# socket that started it has gone.
_running: set[asyncio.Task] = set()


def assistant_group(booking_id: int) -> str:
    """The answering task of a room listens here for ``assistant.stop``."""
    return f"assistant.{booking_id}"


async def room_answer_start(
    *,
    user: User,
    booking_id: int,
    prompt: object,
    include_chat: bool = False,
    chat: list[tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Accept the question and start streaming its answer to the room.

    ``chat``: the room's recent lines as ``(sender name, text)``, quoted when
    ``include_chat``. Raises the refusal's ``AppError`` (see ``exchange_start``); returns
    the asker's quota after this question (``{used, limit, remaining, resets_at}``).
    """

    def accept() -> tuple[Accepted, dict[str, Any]]:
        accepted = exchange_start(
            user=user, prompt=prompt, booking_id=booking_id, chat=chat, include_chat=include_chat
        )
        return accepted, quota_for(user=user).payload()

    accepted, quota = await database_sync_to_async(accept)()
    task = asyncio.get_running_loop().create_task(
        _Answer(accepted).run(), name=f"assistant-answer-{accepted.exchange.pk}"
    )
    _running.add(task)
    task.add_done_callback(_running.discard)
    return quota


async def room_answer_stop(*, user: User, booking_id: int, request_id: object = None) -> None:
    """Ask the room's answering task to stop (``request_id``: only that answer; None: the
    one running). Nothing happens when no answer is running. Caller checked access."""
    if request_id is not None and (not isinstance(request_id, int) or isinstance(request_id, bool)):
        raise ValidationFailed('"request_id" must be an answer\'s id.')
    await get_channel_layer().group_send(
        assistant_group(booking_id),
        {
            "type": "assistant.stop",
            "request_id": request_id,
            "by": user.pk,
            "by_name": user.username,
        },
    )


async def room_answers_wait(timeout: float = 10.0) -> None:
    """Wait for this process's running answers to end (tests)."""
    if _running:
        await asyncio.wait(list(_running), timeout=timeout)


class _Answer:
    """One answer streaming to a room (see the module docstring); ``run`` is its task."""

    def __init__(self, accepted: Accepted) -> None:
        self.exchange = accepted.exchange
        self.request = accepted.request
        self.layer = get_channel_layer()
        self.room = meeting_group(self.exchange.booking_id)
        self.parts: list[str] = []
        self.usage: dict[str, int | None] = {"prompt_tokens": None, "output_tokens": None}
        self.finish_reason: str | None = None
        self.started = time.perf_counter()
        self.first_chunk_ms: int | None = None
        self.stopped_by: int | None = None
        self.stopped_by_name = ""
        self.finishing = False  # past the last chunk: a stop comes too late
        self.live = True  # the channel layer took the last frame

    def _elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)

    async def run(self) -> None:
        control = assistant_group(self.exchange.booking_id)
        try:
            channel = await self.layer.new_channel()
            await self.layer.group_add(control, channel)
        except Exception:
            logger.exception("Assistant answer %s: the channel layer failed", self.exchange.pk)
            await self._end(Exchange.Status.FAILED, _interrupted())
            return
        listener = asyncio.get_running_loop().create_task(
            self._listen_for_stop(channel, asyncio.current_task())
        )
        try:
            await self._stream()
        except asyncio.CancelledError:
            if self.stopped_by is None:
                # Not a stop: the server is shutting down. Record it while we still can.
                await self._end(Exchange.Status.FAILED, _interrupted())
                raise
            asyncio.current_task().uncancel()
            who = self.stopped_by_name or "a participant"
            stopped = AppError(f"Stopped by {who}.", code="assistant_stopped")
            await self._end(Exchange.Status.STOPPED, stopped)
        except TimeoutError:
            seconds = answer_deadline_seconds()
            timeout = AssistantTimeout(
                f"The answer took longer than {seconds:g} s and was cut off."
            )
            await self._end(Exchange.Status.FAILED, timeout)
        except AppError as error:
            await self._end(Exchange.Status.FAILED, error)
        except Exception:
            logger.exception("Assistant answer %s failed", self.exchange.pk)
            failed = AssistantUpstreamError("The assistant failed. Try again in a moment.")
            await self._end(Exchange.Status.FAILED, failed)
        finally:
            # Stop listening, leave the group, free the channel (our Redis layer's
            # discard_channel: its inbox and subscriptions).
            listener.cancel()
            try:
                await self.layer.group_discard(control, channel)
                discard = getattr(self.layer, "discard_channel", None)
                if discard is not None:
                    await discard(channel)
            except Exception as error:  # noqa: BLE001 - Redis down: it forgets us on reconnect
                logger.info(
                    "Assistant answer %s: could not leave its group (%r)", self.exchange.pk, error
                )

    async def _publish(self, event: dict) -> None:
        """Send to the room; while the channel layer is down (Redis), the answer goes on and
        is saved: sockets get it from the database when the layer is back (``catch_up``)."""
        if self.live or event["type"] != "assistant.delta":
            self.live = await group_send(self.room, event)

    async def _stream(self) -> None:
        exchange = self.exchange
        await self._publish(started_event(exchange))
        async with asyncio.timeout(answer_deadline_seconds()):
            async for piece in client.answer_stream(self.request):
                if piece.text:
                    if self.first_chunk_ms is None:
                        self.first_chunk_ms = self._elapsed_ms()
                    self.parts.append(piece.text)
                    await self._publish(
                        {"type": "assistant.delta", "request_id": exchange.pk, "text": piece.text}
                    )
                if piece.prompt_tokens is not None:
                    self.usage["prompt_tokens"] = piece.prompt_tokens
                if piece.output_tokens is not None:
                    self.usage["output_tokens"] = piece.output_tokens
                self.finish_reason = piece.finish_reason or self.finish_reason
        self.finishing = True
        markdown = "".join(self.parts)
        html = await asyncio.to_thread(rendering.markdown_html, markdown) if markdown else ""
        if not html.strip():
            raise AssistantNoAnswer("The AI service sent an empty answer.")
        await database_sync_to_async(exchange_finish)(
            exchange=exchange,
            status=Exchange.Status.DONE,
            markdown=markdown,
            html=html,
            truncated=self.finish_reason == "MAX_TOKENS",
            first_chunk_ms=self.first_chunk_ms,
            total_ms=self._elapsed_ms(),
            **self.usage,
        )
        await self._publish(done_event(exchange))

    async def _end(self, status: str, error: AppError) -> None:
        """Save an answer that did not complete (keeping the text that arrived) and tell the
        room. Best effort: a failure here is logged, and a claim left behind is released
        at its deadline."""
        self.finishing = True
        markdown = "".join(self.parts)
        try:
            html = await asyncio.to_thread(rendering.markdown_html, markdown) if markdown else ""
            await database_sync_to_async(exchange_finish)(
                exchange=self.exchange,
                status=status,
                markdown=markdown,
                html=html,
                error=error,
                stopped_by_id=self.stopped_by,
                first_chunk_ms=self.first_chunk_ms,
                total_ms=self._elapsed_ms(),
                **self.usage,
            )
            await self._publish(error_event(self.exchange, error))
        except Exception:
            logger.exception("Assistant answer %s: could not record its end", self.exchange.pk)

    async def _listen_for_stop(self, channel: str, task: asyncio.Task) -> None:
        while True:
            try:
                message = await self.layer.receive(channel)
            except asyncio.CancelledError:
                raise
            except Exception:
                # The layer failed: the answer goes on, it just cannot be stopped.
                logger.exception("Assistant answer %s: stop listener failed", self.exchange.pk)
                return
            if message.get("type") != "assistant.stop" or self.finishing:
                continue
            if message.get("request_id") not in (None, self.exchange.pk):
                continue
            self.stopped_by, self.stopped_by_name = message.get("by"), message.get("by_name", "")
            task.cancel()
            return


def _interrupted() -> AppError:
    return AppError(
        "The answer was interrupted (the server stopped).", code="assistant_interrupted"
    )
