"""``/ws/meetings/<booking_id>/``: chat, WebRTC signaling and presence for one session.

Thin by design: every rule lives in ``meetings.services`` / ``scheduling.transitions``.
Signals go to the *other* participant only, through their inbox group.

Chat is saved before it is broadcast, without making the socket wait for the
database: ``chat.send`` is checked (text, window, rate) and handed to the batched
writer, and a per-socket publisher broadcasts each message, in the order it was
sent, as soon as its row is committed. Meanwhile the socket keeps delivering the
other side's frames. A message whose save fails is not broadcast; its sender gets
an ``error`` frame ``chat_not_saved``.
"""

import asyncio
import logging
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from assistant import selectors as assistant_selectors
from assistant.services import room as assistant_room
from meetings import selectors, services
from meetings.chat_writer import chat_writer
from scheduling.attendance import room_connections
from scheduling.rules import room_access
from scheduling.transitions import booking_complete
from skilllink.errors import AppError
from skilllink.realtime import group_send, meeting_group, meeting_inbox_group
from skilllink.sockets import CLOSE_TRY_AGAIN, FrameLimit, JsonSocketConsumer

logger = logging.getLogger(__name__)


CLOSE_ROOM_ENDED = 4000
# On disconnect, messages already accepted still get broadcast (they are saved):
# wait this long for the last ones.
PUBLISH_DRAIN_SECONDS = 5.0


class RoomConsumer(JsonSocketConsumer):
    # No frame of the room is larger; each kind has its own, smaller cap (frame_limits).
    max_frame_bytes = 64 * 1024

    def frame_limits(self) -> dict[str, FrameLimit]:
        signal, other = settings.SOCKET_SIGNAL_RATE, settings.SOCKET_FRAME_RATE
        chat_messages, chat_seconds = settings.CHAT_RATE_LIMIT.split("/")
        chat_rate = f"{2 * int(chat_messages)}/{chat_seconds}"
        # 2,000 characters of chat (a prompt: ASSISTANT_MAX_PROMPT_CHARS) at up to 12 bytes
        # each (an emoji as two JSON \u escapes), plus the frame around them.
        prompt_bytes = min(self.max_frame_bytes, 12 * settings.ASSISTANT_MAX_PROMPT_CHARS + 1024)
        return {
            # SDP offers and answers: a few KB, more with many media sections.
            "signal.description": FrameLimit("signal", signal, settings.SOCKET_SIGNAL_SDP_BYTES),
            # An ICE candidate line is a few hundred bytes; they come in bursts.
            "signal.candidate": FrameLimit(
                "signal", signal, settings.SOCKET_SIGNAL_CANDIDATE_BYTES
            ),
            # Chat has its own per-person limit (CHAT_RATE_LIMIT, with its own message); per
            # socket, a bucket twice as large stops a flood before it reaches that count.
            "chat.send": FrameLimit("chat", chat_rate, 12 * services.CHAT_MAX_LENGTH + 1024),
            "assistant.ask": FrameLimit("frame", other, max(16 * 1024, prompt_bytes)),
            "frame": FrameLimit("frame", other, 4 * 1024),
        }

    def frame_kind(self, content: dict[str, Any]) -> str:
        if content["type"] == "signal":
            data = content.get("data")
            described = isinstance(data, dict) and "description" in data
            return "signal.description" if described else "signal.candidate"
        return content["type"]

    async def connect(self):
        self.visit = None
        self.close_task = None
        self.chat_outbox: asyncio.Queue | None = None
        self.own_connections = 1  # this user's sockets in the room, from presence
        self.publisher: asyncio.Task | None = None
        # The newest chat message that reached this socket through history or the channel
        # layer: after a layer outage, everything newer is sent again (the page skips ids
        # it has). Its own messages go straight down the socket and cannot be missed.
        self.last_chat_id = 0
        if not self.user.is_authenticated:
            await self.refuse_unauthenticated()
            return
        self.booking_id = int(self.scope["url_route"]["kwargs"]["booking_id"])
        try:
            booking, self.visit = await database_sync_to_async(services.room_enter)(
                user=self.user, booking_id=self.booking_id
            )
        except AppError:
            # Strangers, closed rooms, cancelled sessions: one answer, nothing revealed.
            await self.refuse_forbidden()
            return
        self.group = meeting_group(self.booking_id)
        self.inbox = meeting_inbox_group(self.booking_id, self.user.pk)
        self.other_id = (
            booking.teacher_id if booking.learner_id == self.user.pk else booking.learner_id
        )
        if not await self.groups_join(self.group, self.inbox):
            await database_sync_to_async(services.room_leave)(visit_id=self.visit.pk)
            self.visit = None
            await self.refuse(CLOSE_TRY_AGAIN)
            return
        await self.accept()
        closes = room_access(booking=booking, now=timezone.now()).closes
        self.closes_at = closes
        self.close_task = asyncio.get_running_loop().call_later(
            max(0.0, (closes - timezone.now()).total_seconds()),
            lambda: asyncio.ensure_future(self._window_over()),
        )
        history = await database_sync_to_async(selectors.chat_history)(booking_id=self.booking_id)
        if history:
            self.last_chat_id = max(message["id"] for message in history)
        assistant = await database_sync_to_async(assistant_selectors.room_state)(
            booking_id=self.booking_id, user=self.user
        )
        await self.send_json(
            {
                "type": "room",
                "booking": {
                    "id": booking.pk,
                    "status": booking.status,
                    "start": booking.start.isoformat(),
                    "end": booking.end.isoformat(),
                    "closes_at": closes.isoformat(),
                },
                "you": self.user.pk,
                "peer": self.other_id,
                # Fixed by the server so the two sides never both back off or both insist.
                "polite": booking.learner_id == self.user.pk,
                "ice_servers": settings.SKILLLINK_ICE_SERVERS,
                "history": history,
                # The assistant panel's state: configured?, this user's quota, saved exchanges.
                "assistant": assistant,
            }
        )
        await self._broadcast_presence()

    async def disconnect(self, code):
        if self.close_task is not None:
            self.close_task.cancel()
        if self.publisher is not None:
            try:
                await asyncio.wait_for(self.chat_outbox.join(), PUBLISH_DRAIN_SECONDS)
            except TimeoutError:
                logger.warning("Room %s: chat publisher did not drain", self.booking_id)
            self.publisher.cancel()
        if self.visit is None:
            return
        await database_sync_to_async(services.room_leave)(visit_id=self.visit.pk)
        await self.groups_leave()
        await self._broadcast_presence()

    async def _broadcast_presence(self):
        connections = await database_sync_to_async(room_connections)(booking_id=self.booking_id)
        await group_send(
            self.group,
            {
                "type": "presence.changed",
                "participants": sorted(connections),
                "connections": [[user_id, n] for user_id, n in connections.items()],
            },
        )

    async def catch_up(self) -> None:
        """After a channel layer outage: the chat saved meanwhile, and who is here now."""
        missed = await database_sync_to_async(selectors.chat_history_after)(
            booking_id=self.booking_id, after_id=self.last_chat_id
        )
        for message in missed:
            await self._deliver_chat(message)
        await self._assistant_catch_up()
        await self._broadcast_presence()

    async def _deliver_chat(self, message: dict[str, Any]) -> None:
        """A message that came through the layer (or its catch-up): counted for catch-up."""
        self.last_chat_id = max(self.last_chat_id, message["id"])
        await self.send_json({"type": "chat.message", "message": message})

    async def _window_over(self):
        await self.send_json({"type": "room.closed", "detail": "The session's time is over."})
        await self.close(code=CLOSE_ROOM_ENDED)

    # --- Frames from the browser -----------------------------------------------------

    async def handle_chat_send(self, content: dict[str, Any]) -> None:
        # The hot path stays off the ORM thread except for the batched insert:
        # access was checked at entry, the window is known, the limit is in memory.
        text = services.chat_clean_text(content.get("text"))
        now = timezone.now()
        if now > self.closes_at:
            raise AppError("The session's time is over.", code="room_closed", status=403)
        services.chat_rate_hit(user_id=self.user.pk)
        saved = chat_writer.submit(
            booking_id=self.booking_id, sender_id=self.user.pk, text=text, sent_at=now
        )
        if self.publisher is None:
            self.chat_outbox = asyncio.Queue()
            self.publisher = asyncio.get_running_loop().create_task(self._publish_chat())
        self.chat_outbox.put_nowait((saved, text, now))

    async def _publish_chat(self) -> None:
        """Broadcast this socket's messages in order, each once its row is committed."""
        while True:
            saved, text, sent_at = await self.chat_outbox.get()
            try:
                message_id = await saved
            except Exception:
                logger.exception("Room %s: a chat message could not be saved", self.booking_id)
                await self.send_error(
                    "chat_not_saved", "Your message could not be saved. Please send it again."
                )
            else:
                payload = selectors.chat_payload(
                    message_id=message_id,
                    sender_id=self.user.pk,
                    sender_name=self.user.username,
                    text=text,
                    sent_at=sent_at,
                )
                # The sender's copy goes straight down this socket; only the other
                # participant's copy crosses the channel layer (their inbox group), and
                # the sender's own inbox only when they are here in another tab too.
                event = {"type": "chat.message", "message": payload}
                await self.send_json(event)
                delivered = await group_send(
                    meeting_inbox_group(self.booking_id, self.other_id), event
                )
                if self.own_connections > 1:
                    delivered &= await group_send(
                        self.inbox, {**event, "origin": self.channel_name}
                    )
                if not delivered:
                    # Saved: the other side gets it when the layer is back (catch_up).
                    await self.send_json(
                        {
                            "type": "error",
                            "code": "chat_delayed",
                            "detail": "Saved, but live delivery is interrupted: the other "
                            "side will see it once the connection recovers.",
                            "message_id": message_id,
                        }
                    )
            finally:
                self.chat_outbox.task_done()

    async def handle_signal(self, content: dict[str, Any]) -> None:
        data = content.get("data")
        if not isinstance(data, dict) or not ({"description", "candidate"} & data.keys()):
            raise AppError('"data" must hold a "description" or a "candidate".', code="invalid")
        # Only the other participant's sockets get it (their inbox group): nothing echoes
        # back through the layer to the sender.
        relayed = await group_send(
            meeting_inbox_group(self.booking_id, self.other_id),
            {"type": "signal.relay", "from": self.user.pk, "data": data},
        )
        if not relayed:
            raise AppError(
                "Live delivery is interrupted; the call reconnects once it is back.",
                code="signal_not_delivered",
                status=503,
            )

    async def handle_room_end(self, content: dict[str, Any]) -> None:
        await database_sync_to_async(booking_complete)(booking_id=self.booking_id, user=self.user)

    # --- Events from the group -------------------------------------------------------

    async def chat_message(self, event):
        if event.get("origin") == self.channel_name:
            return  # this socket's own message, already shown here
        await self._deliver_chat(event["message"])

    async def signal_relay(self, event):
        if event["from"] != self.user.pk:
            await self.send_json({"type": "signal", "from": event["from"], "data": event["data"]})

    async def presence_changed(self, event):
        self.own_connections = dict(event.get("connections", ())).get(self.user.pk, 1)
        await self.send_json({"type": "presence", "participants": event["participants"]})

    async def room_ended(self, event):
        await self.send_json({"type": "room.ended", "by": event["by"], "status": event["status"]})
        await self.close(code=CLOSE_ROOM_ENDED)

    # --- The assistant (assistant.services.room streams; this socket only asks and relays) --

    async def _assistant_catch_up(self) -> None:
        """After a layer outage: the assistant panel's state again (answers finished meanwhile)."""
        state = await database_sync_to_async(assistant_selectors.room_state)(
            booking_id=self.booking_id, user=self.user
        )
        await self.send_json({"type": "assistant.state", **state})

    async def handle_assistant_ask(self, content: dict[str, Any]) -> None:
        include_chat = content.get("include_chat") is True
        try:
            if timezone.now() > self.closes_at:
                raise services.RoomClosed("The session's time is over.")
            chat = None
            if include_chat:
                chat = await database_sync_to_async(selectors.chat_lines)(
                    self.booking_id, settings.ASSISTANT_CHAT_CONTEXT_MESSAGES
                )
            quota = await assistant_room.room_answer_start(
                user=self.user,
                booking_id=self.booking_id,
                prompt=content.get("prompt"),
                include_chat=include_chat,
                chat=chat,
            )
        except AppError as error:
            await self._assistant_refusal(error)
        else:
            await self.send_json({"type": "assistant.quota", "quota": quota})

    async def handle_assistant_stop(self, content: dict[str, Any]) -> None:
        try:
            await assistant_room.room_answer_stop(
                user=self.user, booking_id=self.booking_id, request_id=content.get("request_id")
            )
        except AppError as error:
            await self._assistant_refusal(error)

    async def _assistant_refusal(self, error: AppError) -> None:
        # Only the asker hears a refusal (no request_id: nothing started); an answer that
        # started ends for the whole room (assistant_error below).
        frame = {"type": "assistant.error", "request_id": None, **error.as_dict()}
        if getattr(error, "retry_after", None):
            frame["retry_after"] = error.retry_after
        await self.send_json(frame)

    async def assistant_started(self, event):
        await self.send_json(event)

    async def assistant_delta(self, event):
        await self.send_json(event)

    async def assistant_done(self, event):
        await self.send_json(event)

    async def assistant_error(self, event):
        await self.send_json(event)
