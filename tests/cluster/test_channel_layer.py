"""The pub/sub channel layer with pipelined publishes (``skilllink/channel_layer.py``),
against the real Redis."""

import asyncio
import secrets

import pytest
import redis.exceptions

from skilllink.channel_layer import RedisPubSubChannelLayer

pytestmark = pytest.mark.redis


def make_layer(url: str, prefix: str | None = None) -> RedisPubSubChannelLayer:
    prefix = prefix or f"skilllink-layer-test-{secrets.token_hex(4)}"
    return RedisPubSubChannelLayer(hosts=[{"address": url}], prefix=prefix)


async def test_a_burst_of_concurrent_group_sends_arrives_whole_and_in_order(redis_url):
    prefix = f"skilllink-layer-test-{secrets.token_hex(4)}"
    layer = make_layer(redis_url, prefix)
    other = make_layer(redis_url, prefix)  # another process's layer: same Redis, same prefix
    try:
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        # 300 sends started in one go: they leave in pipelines, in the order they began.
        await asyncio.gather(
            *(layer.group_send("room", {"type": "chat.message", "n": n}) for n in range(300))
        )
        received = [(await asyncio.wait_for(layer.receive(channel), 5))["n"] for _ in range(300)]
        assert received == list(range(300))
        # A subscriber in another layer (another process) gets them too.
        other_channel = await other.new_channel()
        await other.group_add("room", other_channel)
        await layer.group_send("room", {"type": "chat.message", "n": "across"})
        assert (await asyncio.wait_for(other.receive(other_channel), 5))["n"] == "across"
    finally:
        await layer.flush()
        await other.flush()


async def test_every_waiting_sender_gets_the_error_when_redis_is_down():
    layer = make_layer("redis://127.0.0.1:1/0")  # nothing listens there
    try:
        results = await asyncio.gather(
            *(layer.group_send("room", {"type": "x", "n": n}) for n in range(20)),
            return_exceptions=True,
        )
        assert len(results) == 20
        assert all(isinstance(r, redis.exceptions.ConnectionError) for r in results), results
    finally:
        await layer.flush()
