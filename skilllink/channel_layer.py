"""The Redis pub/sub channel layer, with publishes sent in pipelines.

channels-redis 4.3's pub/sub layer publishes one message per round trip, holding a
per-shard lock from the write until Redis answers, so a process's group sends queue
one behind the other. At chat rates (a thousand publishes a second per process
here) that lock, not the CPU, set the latency, and it grew without bound once
Redis's answers slowed under load. This subclass keeps everything else of the
upstream layer (subscriptions, receiving, groups, serialization) and changes only
``publish``: each call joins an outbox, and one flusher sends everything queued
since the previous batch as one pipeline under the lock. Every caller still
returns only once Redis has taken its message (or raises its error).
"""

from __future__ import annotations

import asyncio
import logging

from channels_redis import pubsub

logger = logging.getLogger(__name__)

MAX_BATCH = 500


class BatchingShardConnection(pubsub.RedisSingleShardConnection):
    def __init__(self, host, channel_layer):
        super().__init__(host, channel_layer)
        self._outbox: list[tuple[str, bytes, asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None

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


class RedisPubSubChannelLayer(pubsub.RedisPubSubChannelLayer):
    """``channels_redis.pubsub.RedisPubSubChannelLayer`` with batched publishes."""

    def _get_layer(self):
        loop = asyncio.get_running_loop()
        try:
            layer = self._layers[loop]
        except KeyError:
            layer = BatchingLoopLayer(*self._args, **self._kwargs, channel_layer=self)
            self._layers[loop] = layer
            pubsub._wrap_close(self, loop)
        return layer
