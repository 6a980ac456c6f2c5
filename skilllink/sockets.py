"""Base WebSocket consumer: JSON frames with a ``type``, refusals as error frames.

Subclasses implement ``handle_<type>`` coroutines (dots in the type become
underscores); every refusal is ``{"type": "error", "code", "detail"}`` and the
socket stays open.

Sending is safe against the two ways a socket goes away under a consumer:
- the peer closed (or we closed) while group events were still queued for us: those
  frames are dropped quietly, and the ``websocket.disconnect`` that follows runs
  ``disconnect()`` as usual;
- a slow client: the server stops writing when the client stops reading, so a send
  waits. The Redis pub/sub layer queues group events without bound behind it, so a
  send that cannot finish within ``SOCKET_SEND_TIMEOUT`` seconds ends the connection (the
  usual ``disconnect()`` cleanup runs, close code 4008). What is queued for one
  socket is thus bounded by what its groups send in that time. The deadline is kept
  by one watchdog per event loop (``SendWatchdog``), not a timer per send: almost
  every send finishes at once, and arming and cancelling a timer for each cost more
  than the send itself at chat rates.
"""

import asyncio
import contextlib
import functools
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import orjson
from asgiref.sync import sync_to_async
from channels.consumer import get_handler_name
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from skilllink.errors import AppError
from skilllink.ratelimit import socket_slot_claim, socket_slot_release
from skilllink.realtime import user_sockets_group
from skilllink.ws_auth import CLOSE_FORBIDDEN, CLOSE_NOT_AUTHENTICATED

logger = logging.getLogger(__name__)


CLOSE_TOO_SLOW = 4008
# "Try again later" (RFC 6455): live delivery is down (Redis); pages reconnect with backoff.
CLOSE_TRY_AGAIN = 1013
# Too many refused frames (floods, oversize frames), or too many sockets from one address.
CLOSE_ABUSE = 4429


async def _close_before_accept(receive, send, code: int) -> None:
    """Answer the handshake by accepting and closing at once with ``code`` (so a browser can
    read it), without running the consumer."""
    message = await receive()
    if message["type"] == "websocket.connect":
        await send({"type": "websocket.accept"})
        await send({"type": "websocket.close", "code": code})


class SendWatchdog:
    """Deadlines for sends in progress, checked by one task per event loop.

    A sending task registers before it awaits the send and leaves when the send
    returns. Every ``period`` seconds the watchdog cancels the tasks whose deadline
    has passed and marks them, so the send can tell its own expiry (``expired``) from
    any other cancellation. A send therefore ends between ``timeout`` and ``timeout +
    period`` seconds after it started.
    """

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task | None = None
        self.pending: dict[asyncio.Task, float] = {}
        self.expired: set[asyncio.Task] = set()

    def enter(self, task: asyncio.Task, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        if loop is not self.loop or self.task is None or self.task.done():
            self.loop, self.pending, self.expired = loop, {}, set()
            self.task = loop.create_task(self._watch(min(1.0, timeout / 4)))
        self.pending[task] = loop.time() + timeout

    def forget(self, task: asyncio.Task) -> None:
        """Unregister ``task`` (its send returned, or raised)."""
        self.pending.pop(task, None)

    def leave(self, task: asyncio.Task) -> bool:
        """Unregister ``task``; True if the watchdog cancelled its send."""
        self.forget(task)
        if task in self.expired:
            self.expired.discard(task)
            task.uncancel()
            return True
        return False

    async def _watch(self, period: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(period)
            now = loop.time()
            for task, deadline in list(self.pending.items()):
                if deadline <= now and task not in self.expired:
                    self.expired.add(task)
                    task.cancel()


send_watchdog = SendWatchdog()


# --- Frame limits: what one socket may send ------------------------------------------


def parse_bucket(rate: str) -> tuple[float, float]:
    """``"100/10"`` -> (capacity 100 frames, refilled at 10 per second): up to a whole
    window's worth at once (an ICE candidate burst), then the window's average."""
    frames, seconds = rate.split("/")
    capacity = float(frames)
    return capacity, capacity / float(seconds)


class TokenBucket:
    """A token bucket: ``take()`` spends one token, or says how long until one is back."""

    __slots__ = ("capacity", "refill", "stamp", "tokens")

    def __init__(self, rate: str) -> None:
        self.capacity, self.refill = parse_bucket(rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self) -> float:
        """0 when a token was spent; else the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.refill)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.refill if self.refill > 0 else math.inf


@dataclass(frozen=True)
class FrameLimit:
    """One kind of frame's limits: ``bucket`` names the token bucket it spends from (kinds
    may share one), ``rate`` fills it (``"frames/seconds"``), ``max_bytes`` caps one frame."""

    bucket: str
    rate: str
    max_bytes: int


class JsonSocketConsumer(AsyncWebsocketConsumer):
    max_frame_bytes = 16 * 1024
    socket_gone = False  # closed by either side: nothing more can be sent
    joined: tuple[str, ...] = ()  # groups joined with groups_join, left on disconnect
    expiry_timer: asyncio.TimerHandle | None = None  # closes a token socket at its expiry
    limits: dict[str, FrameLimit]  # frame_limits(), read when the socket opens
    buckets: dict[str, TokenBucket]  # this socket's buckets, by FrameLimit.bucket
    refusals: TokenBucket | None = None

    def frame_limits(self) -> dict[str, FrameLimit]:
        """Limits per frame kind (``frame_kind``); ``"frame"`` covers every other kind."""
        return {"frame": FrameLimit("frame", settings.SOCKET_FRAME_RATE, self.max_frame_bytes)}

    def frame_kind(self, content: dict[str, Any]) -> str:
        """Which entry of ``frame_limits`` a frame falls under (override to split a type)."""
        return content["type"]

    async def __call__(self, scope, receive, send):
        """Channels' ``AsyncConsumer.__call__`` with a cheaper event loop.

        Stock Channels waits on its two sources (the client, the channel layer) with
        ``asyncio.wait`` and a new task per message; here one long-lived task per
        source reads a message and dispatches it itself, under a lock, so no message
        waits in a queue for another task to pick it up. Same contract: messages are
        dispatched one at a time (per source in arrival order), ``StopConsumer`` ends
        it, and on exit the readers are cancelled (the channel layer then
        unsubscribes). A source is not read again until its message was handled: a
        client that sends faster than it is served fills uvicorn's bounded queue, and
        uvicorn then stops reading its socket (backpressure).

        Relies on Channels 4.3's consumer internals (``channel_layer_alias``, ``base_send``,
        ``channel_receive``, ``get_handler_name``, ``StopConsumer``; upstream's loop is
        ``channels.utils.await_many_dispatch``, see django/channels#1924);
        ``tests/test_upstream_names.py`` fails if an upgrade changes them.
        """
        self.scope = scope
        self.limits, self.buckets = self.frame_limits(), {}
        # The client's address: the peer, or what a trusted proxy said (FORWARDED_ALLOW_IPS).
        address = (scope.get("client") or ("unknown",))[0]
        cap = settings.SOCKETS_PER_ADDRESS
        if cap > 0:
            claimed = await sync_to_async(socket_slot_claim, thread_sensitive=False)(
                address=address, limit=cap
            )
            if not claimed:
                logger.warning("Refusing %s: %s has %d sockets open", scope["path"], address, cap)
                await _close_before_accept(receive, send, CLOSE_ABUSE)
                return
        try:
            await self._run(receive, send)
        finally:
            if cap > 0:
                await sync_to_async(socket_slot_release, thread_sensitive=False)(address=address)

    async def _run(self, receive, send) -> None:
        scope = self.scope
        self.channel_layer = get_channel_layer(self.channel_layer_alias)
        self.base_send = send
        sources = [receive]
        if self.channel_layer is not None:
            try:
                self.channel_name = await self.channel_layer.new_channel()
            except Exception as error:  # noqa: BLE001 - the layer (Redis) is unreachable
                logger.warning("Refusing %s: channel layer unavailable (%r)", scope["path"], error)
                await _close_before_accept(receive, send, CLOSE_TRY_AGAIN)
                return
            self.channel_receive = functools.partial(self.channel_layer.receive, self.channel_name)
            sources.append(self.channel_receive)
        one_at_a_time = asyncio.Lock()

        async def pump(source) -> None:
            while True:
                message = await source()
                async with one_at_a_time:
                    await self.dispatch(message)

        readers = [asyncio.create_task(pump(source)) for source in sources]
        try:
            done, _ = await asyncio.wait(readers, return_when=asyncio.FIRST_COMPLETED)
            for reader in done:
                error = reader.exception()
                if error is not None and not isinstance(error, StopConsumer):
                    raise error
        finally:
            for reader in readers:
                reader.cancel()
            await asyncio.gather(*readers, return_exceptions=True)
            # Our Redis layer frees the channel's inbox and subscriptions now, whatever the
            # readers were doing when cancelled (skilllink.channel_layer.discard_channel).
            discard = getattr(self.channel_layer, "discard_channel", None)
            if discard is not None:
                await discard(self.channel_name)

    async def dispatch(self, message):
        """Channels' dispatch without its per-message ``close_old_connections``.

        Stock Channels hops to the ORM thread before *every* frame and group event to
        close stale database connections; at chat rates that hop, on the one shared
        thread, was the bottleneck of the room socket. Our consumers touch the
        database only through ``database_sync_to_async``, which closes stale
        connections on entering and leaving that thread, so the hop is redundant.
        """
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def send(self, text_data=None, bytes_data=None, close=False):
        if self.socket_gone:
            return
        if text_data is not None:
            message = {"type": "websocket.send", "text": text_data}
        elif bytes_data is not None:
            message = {"type": "websocket.send", "bytes": bytes_data}
        else:
            message = None
        if message is not None:
            task = asyncio.current_task()
            send_watchdog.enter(task, settings.SOCKET_SEND_TIMEOUT)
            try:
                await self.base_send(message)
            except asyncio.CancelledError:
                if not send_watchdog.leave(task):
                    raise  # not ours: the consumer is being cancelled
                logger.warning(
                    "Closing %s: the client read nothing for %.0f s",
                    self.scope.get("path"),
                    settings.SOCKET_SEND_TIMEOUT,
                )
                self.socket_gone = True
                # The usual cleanup (disconnect(), leaving groups), then the consumer
                # ends; the server drops the connection when the application returns.
                await self.websocket_disconnect({"type": "websocket.disconnect", "code": 4008})
            except OSError:  # the peer went away; its websocket.disconnect follows
                self.socket_gone = True
                return
            finally:
                send_watchdog.forget(task)
        if close:
            await self.close(close)

    async def close(self, code=None, reason=None):
        if self.socket_gone:
            return
        self.socket_gone = True
        with contextlib.suppress(OSError):  # the peer is already gone
            await super().close(code=code, reason=reason)

    async def accept(self, subprotocol=None, headers=None):
        """Accept, then keep the socket only as long as its credentials: it joins the user's
        sockets group (``auth.revoked`` closes it when the password changes or the account
        is deactivated) and, opened with a token, closes when the token expires."""
        await super().accept(subprotocol, headers)
        if not self.user.is_authenticated:
            return
        group = user_sockets_group(self.user.pk)
        try:
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined = (*self.joined, group)
        except Exception as error:  # noqa: BLE001 - the layer (Redis) is unreachable
            # The socket still works; revocation then reaches it through its token's
            # expiry or its next reconnect.
            logger.warning("%s: cannot watch for revocation (%r)", self.scope["path"], error)
        expires_at = self.scope.get("token_expires_at")
        if expires_at is not None:
            loop = asyncio.get_running_loop()
            self.expiry_timer = loop.call_later(
                max(0.0, expires_at - time.time()),
                lambda: asyncio.ensure_future(self.credentials_ended("token_expired")),
            )

    async def credentials_ended(self, code: str) -> None:
        """Say why, then close with 4401 (pages do not reconnect on it; scripts log in again)."""
        detail = {
            "token_expired": "The access token expired; connect again with a fresh one.",
            "token_revoked": "Signed out: the password changed or the account was deactivated.",
        }[code]
        await self.send_error(code, detail)
        await self.close(code=CLOSE_NOT_AUTHENTICATED)

    async def auth_revoked(self, event) -> None:
        await self.credentials_ended("token_revoked")

    async def websocket_disconnect(self, message):
        self.socket_gone = True
        if self.expiry_timer is not None:
            self.expiry_timer.cancel()
        await self.groups_leave()
        await super().websocket_disconnect(message)

    async def groups_join(self, *groups: str) -> bool:
        """Join ``groups`` (left again when the socket ends). False, logged, when the channel
        layer is unreachable: the caller then refuses the socket (``CLOSE_TRY_AGAIN``)."""
        try:
            for group in groups:
                await self.channel_layer.group_add(group, self.channel_name)
                self.joined = (*self.joined, group)
        except Exception as error:  # noqa: BLE001 - the layer (Redis) is unreachable
            logger.warning("%s: channel layer unavailable (%r)", self.scope["path"], error)
            await self.groups_leave()
            return False
        return True

    async def groups_leave(self) -> None:
        joined, self.joined = self.joined, ()
        for group in joined:
            try:
                await self.channel_layer.group_discard(group, self.channel_name)
            except Exception as error:  # noqa: BLE001 - Redis down: our layer forgets it anyway
                logger.info("Could not leave %s (%r)", group, error)

    # --- Channel layer control messages (skilllink.channel_layer) ------------------------

    live_paused = False  # the page was told live updates are paused

    async def layer_paused(self, event) -> None:
        """The layer is unreachable: tell the page (it shows that live updates are paused)."""
        self.live_paused = True
        await self.send_json(
            {
                "type": "live",
                "state": "paused",
                "detail": "Live updates are paused; they resume by themselves.",
            }
        )

    async def layer_resumed(self, event) -> None:
        """The layer was unreachable and is back: what was published meanwhile is lost."""
        if self.live_paused:
            self.live_paused = False
            await self.send_json({"type": "live", "state": "live"})
        await self.catch_up()

    async def layer_overflow(self, event) -> None:
        """This socket fell so far behind that the layer dropped its messages: end it, and
        the page reconnects and catches up from the database."""
        logger.warning("Closing %s: too far behind its channel layer inbox", self.scope["path"])
        await self.close(code=CLOSE_TOO_SLOW)

    async def catch_up(self) -> None:
        """Send the client what it may have missed while the layer was down (override)."""

    async def refuse(self, code: int) -> None:
        """Accept only to close with an application close code the browser can read."""
        await super().accept()
        await self.close(code=code)

    async def refuse_unauthenticated(self) -> None:
        await self.refuse(CLOSE_NOT_AUTHENTICATED)

    async def refuse_forbidden(self) -> None:
        await self.refuse(CLOSE_FORBIDDEN)

    @property
    def user(self):
        return self.scope["user"]

    async def send_json(self, content: dict[str, Any]) -> None:
        await self.send(text_data=orjson.dumps(content).decode())

    async def send_error(self, code: str, detail: str) -> None:
        await self.send_json({"type": "error", "code": code, "detail": detail})

    async def refuse_frame(self, frame: dict[str, Any]) -> None:
        """Answer a refused frame; past ``SOCKET_REFUSALS`` refusals in their window the
        client is flooding or broken: close the socket (4429)."""
        if self.refusals is None:
            self.refusals = TokenBucket(settings.SOCKET_REFUSALS)
        if self.refusals.take() > 0:
            logger.warning(
                "Closing %s from %s: too many refused frames",
                self.scope.get("path"),
                (self.scope.get("client") or ("?",))[0],
            )
            await self.close(code=CLOSE_ABUSE)
            return
        await self.send_json({"type": "error", **frame})

    async def _limit_frame(self, content: dict[str, Any], size: int) -> bool:
        """True if the frame may be handled; otherwise it was refused (``too_large``,
        ``rate_limited``) and counted toward closing the socket."""
        limit = self.limits.get(self.frame_kind(content)) or self.limits["frame"]
        if size > limit.max_bytes:
            await self.refuse_frame(
                {
                    "code": "too_large",
                    "detail": f"{content['type']} frames are limited to {limit.max_bytes} bytes.",
                    "limit": limit.max_bytes,
                }
            )
            return False
        bucket = self.buckets.get(limit.bucket)
        if bucket is None:
            bucket = self.buckets[limit.bucket] = TokenBucket(limit.rate)
        wait = bucket.take()
        if wait > 0:
            await self.refuse_frame(
                {
                    "code": "rate_limited",
                    "detail": f"You're sending {content['type']} frames too fast. "
                    f"Wait {math.ceil(wait)} s.",
                    "retry_after": round(wait, 2),
                }
            )
            return False
        return True

    async def receive(self, text_data=None, bytes_data=None):
        raw = text_data if text_data is not None else bytes_data
        if raw is None:
            return
        size = len(raw.encode() if isinstance(raw, str) else raw)
        if size > self.max_frame_bytes:
            await self.refuse_frame(
                {
                    "code": "frame_too_large",
                    "detail": f"Frames are limited to {self.max_frame_bytes} bytes.",
                }
            )
            return
        try:
            content = orjson.loads(raw)
        except orjson.JSONDecodeError:
            await self.refuse_frame({"code": "invalid", "detail": "Frames must be JSON objects."})
            return
        if not isinstance(content, dict) or not isinstance(content.get("type"), str):
            await self.refuse_frame(
                {"code": "invalid", "detail": 'Frames must be JSON objects with a "type".'}
            )
            return
        handler = getattr(self, "handle_" + content["type"].replace(".", "_"), None)
        if handler is None:
            await self.refuse_frame(
                {"code": "unknown_type", "detail": f"Unknown frame type {content['type']!r}."}
            )
            return
        if not await self._limit_frame(content, size):
            return
        try:
            await handler(content)
        except AppError as error:
            await self.send_json({"type": "error", **error.as_dict()})

    async def handle_ping(self, content: dict[str, Any]) -> None:
        await self.send_json({"type": "pong"})
