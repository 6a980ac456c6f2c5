"""The Redis pub/sub channel layer, with pipelined publishes, bounded inboxes and a signal
when Redis comes back.

Three changes to channels-redis 4.3's ``RedisPubSubChannelLayer``, everything else
(subscriptions, groups, serialization) is upstream's:

1. **Pipelined publishes.** Upstream publishes one message per round trip, holding a
   per-shard lock from the write until Redis answers, so a process's group sends queue
   one behind the other. At chat rates (a thousand publishes a second per process here)
   that lock, not the CPU, set the latency. Here each ``publish`` joins an outbox and one
   flusher sends everything queued since the previous batch as one pipeline under the
   lock. Every caller still returns only once Redis has taken its message (or raises its
   error). Upstream has no batching option (``RedisSingleShardConnection.publish``).
2. **Bounded inboxes.** Upstream gives every local channel an unbounded
   ``asyncio.Queue``: behind a client that stops reading, everything its groups publish
   piles up in memory until the socket is dropped (60 KB signal frames left ~46 MB per
   stalled client). Here a channel's inbox holds at most ``SOCKET_INBOX_BYTES``; past
   that it drops what it holds and keeps a single ``{"type": "layer.overflow"}`` message,
   which ends that socket (``skilllink.sockets``: close 4008, the page reconnects and
   catches up from the database). Upstream: django/channels_redis#384 and
   django/channels#1361 (per-channel queues grow without bound behind slow readers).
3. **Pause and resumption.** When the subscriber connection fails (Redis unreachable),
   every local channel gets ``{"type": "layer.paused"}`` once, so sockets can tell their
   pages that live updates are paused. When it comes back (redis-py reconnects and
   re-subscribes by itself), every local channel gets ``{"type": "layer.resumed"}``: what
   was published meanwhile is lost, so each socket catches up from the database (missed
   chat, unread notifications). Upstream's ``on_reconnect`` argument is accepted but never
   called in 4.3, and it has no disconnect hook.

These lean on upstream's private names (``RedisSingleShardConnection``,
``_subscribe_to_channel``, ``_ensure_redis``, ``_redis``, ``_pubsub``, ``_lock``,
``_shards``, ``_layers``, ``_wrap_close``); ``tests/cluster/test_channel_layer.py``
checks they exist, so an upgrade that changes them fails loudly.
"""

from __future__ import annotations

import asyncio
import collections
import logging

from channels_redis import pubsub
from django.conf import settings
from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

MAX_BATCH = 500
RESUMED = {"type": "layer.resumed"}
PAUSED = {"type": "layer.paused"}
OVERFLOW = {"type": "layer.overflow"}


class Inbox:
    """One local channel's messages (serialized bytes), bounded in bytes.

    Duck-types the two ``asyncio.Queue`` methods upstream uses: ``put_nowait`` (from the
    receive task) and ``get`` (the one consumer reading the channel).
    """

    __slots__ = ("_has_items", "_items", "_size", "limit", "overflow", "overflowed")

    def __init__(self, *, limit: int, overflow: bytes) -> None:
        self._items: collections.deque[bytes] = collections.deque()
        self._size = 0
        self._has_items = asyncio.Event()
        self.limit = limit
        self.overflow = overflow
        self.overflowed = False

    def put_nowait(self, data: bytes) -> None:
        if self.overflowed:
            return  # the socket is being dropped: hold nothing more for it
        if self._size + len(data) > self.limit:
            self.overflowed = True
            self._items.clear()
            self._size = 0
            data = self.overflow
        self._items.append(data)
        self._size += len(data)
        self._has_items.set()

    def put_marker(self, data: bytes) -> None:
        """A control message (``layer.resumed``): always kept, unless already overflowing."""
        if not self.overflowed:
            self._items.append(data)
            self._has_items.set()

    async def get(self) -> bytes:
        while not self._items:
            self._has_items.clear()
            await self._has_items.wait()
        data = self._items.popleft()
        self._size = max(0, self._size - len(data))
        return data

    def qsize(self) -> int:
        return len(self._items)

    @property
    def size(self) -> int:
        return self._size


class ResumingPubSub(PubSub):
    """redis-py's PubSub, telling the layer each time its connection fails and each time it
    is made again."""

    def __init__(self, *args, on_resume, on_pause, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._on_resume = on_resume
        self._on_pause = on_pause

    async def on_connect(self, connection) -> None:
        await super().on_connect(connection)  # re-subscribes every channel and group
        self._on_resume()

    async def get_message(self, *args, **kwargs):
        try:
            return await super().get_message(*args, **kwargs)
        except (OSError, RedisError):  # the connection failed; upstream's loop retries
            self._on_pause()
            raise


class BatchingShardConnection(pubsub.RedisSingleShardConnection):
    def __init__(self, host, channel_layer):
        super().__init__(host, channel_layer)
        self._outbox: list[tuple[str, bytes, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None

    def _ensure_redis(self):
        if self._redis is None:
            super()._ensure_redis()
            self._pubsub = ResumingPubSub(
                self._redis.connection_pool,
                on_resume=self.channel_layer.resumed,
                on_pause=self.channel_layer.paused,
            )

    async def publish(self, channel, message):
        future = asyncio.get_running_loop().create_future()
        self._outbox.append((channel, message, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.ensure_future(self._flush())
        await future

    async def _flush(self) -> None:
        while self._outbox:
            batch, self._outbox = self._outbox[:MAX_BATCH], self._outbox[MAX_BATCH:]
            try:
                async with self._lock:
                    self._ensure_redis()
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for channel, message, _ in batch:
                            pipe.publish(channel, message)
                        await pipe.execute()
            except Exception as error:  # noqa: BLE001 - handed to every waiting sender
                for _, _, future in batch:
                    if not future.done():
                        future.set_exception(error)
            else:
                for _, _, future in batch:
                    if not future.done():
                        future.set_result(None)


class BatchingLoopLayer(pubsub.RedisPubSubLoopLayer):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._shards = [BatchingShardConnection(shard.host, self) for shard in self._shards]
        serialize = self.channel_layer.serialize
        self._overflow = serialize(OVERFLOW)
        self._resumed = serialize(RESUMED)
        self._paused = serialize(PAUSED)
        self.is_paused = False

    async def _subscribe_to_channel(self, channel):
        self.channels[channel] = Inbox(limit=settings.SOCKET_INBOX_BYTES, overflow=self._overflow)
        await self._get_shard(channel).subscribe(channel)

    async def discard_channel(self, channel: str) -> None:
        """Forget a local channel whose consumer has ended: its inbox, its groups, its
        subscription. Upstream does this only when a pending ``receive`` is cancelled; a
        consumer cut off while handling a message (a stalled send) has none, and its inbox
        and subscriptions were kept for the life of the process."""
        self.channels.pop(channel, None)
        for group_channel, members in list(self.groups.items()):
            members.discard(channel)
            if not members:
                del self.groups[group_channel]
                await self._unsubscribe_quietly(group_channel)
        await self._unsubscribe_quietly(channel)

    async def _unsubscribe_quietly(self, name: str) -> None:
        try:
            await self._get_shard(name).unsubscribe(name)
        except Exception as error:  # noqa: BLE001 - Redis down: it forgets us on reconnect
            logger.info("Could not unsubscribe %s (%r)", name, error)

    def resumed(self) -> None:
        """The subscriber connection is back: every local channel learns it (see above)."""
        self.is_paused = False
        logger.warning("Redis pub/sub connection restored; %d sockets catch up", len(self.channels))
        for inbox in list(self.channels.values()):
            inbox.put_marker(self._resumed)

    def paused(self) -> None:
        """The subscriber connection failed: every local channel learns it, once per outage."""
        if self.is_paused:
            return
        self.is_paused = True
        logger.warning(
            "Redis pub/sub connection lost; live updates paused on %d sockets", len(self.channels)
        )
        for inbox in list(self.channels.values()):
            inbox.put_marker(self._paused)


class RedisPubSubChannelLayer(pubsub.RedisPubSubChannelLayer):
    """``channels_redis.pubsub.RedisPubSubChannelLayer`` with the changes above."""

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        try:
            layer = self._layers[loop]
        except KeyError:
            layer = BatchingLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            pubsub._wrap_close(self, loop)
        return layer
