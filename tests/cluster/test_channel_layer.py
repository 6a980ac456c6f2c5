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


async def test_a_channel_that_falls_behind_holds_a_bounded_inbox_then_one_overflow_message(
    redis_url, settings
):
    settings.SOCKET_INBOX_BYTES = 2_000
    layer = make_layer(redis_url)
    try:
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        # Nobody reads: the first few fit, then the inbox drops them all for one marker.
        for n in range(20):
            await layer.group_send("room", {"type": "signal.relay", "n": n, "pad": "x" * 300})
        first = await asyncio.wait_for(layer.receive(channel), 5)
        inbox = layer._get_layer().channels[channel]
        deadline = asyncio.get_running_loop().time() + 5
        while first["type"] != "layer.overflow":
            assert asyncio.get_running_loop().time() < deadline, first
            first = await asyncio.wait_for(layer.receive(channel), 5)
        assert inbox.overflowed and inbox.size <= settings.SOCKET_INBOX_BYTES
        await layer.group_send("room", {"type": "signal.relay", "n": "late"})
        await asyncio.sleep(0.2)
        assert inbox.qsize() == 0  # nothing more is held for a socket being dropped
    finally:
        await layer.flush()


async def test_discarding_a_channel_frees_its_inbox_groups_and_subscriptions(redis_url):
    layer = make_layer(redis_url)
    try:
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        loop_layer = layer._get_layer()
        assert channel in loop_layer.channels and loop_layer.groups
        await layer.discard_channel(channel)
        assert channel not in loop_layer.channels
        assert loop_layer.groups == {}
        assert loop_layer._shards[0]._subscribed_to == set()
    finally:
        await layer.flush()


async def test_every_local_channel_hears_when_redis_goes_and_comes_back(private_redis):
    layer = make_layer(private_redis.url)
    try:
        channel = await layer.new_channel()
        await layer.group_add("room", channel)
        private_redis.stop()
        # The channel hears that live delivery is paused, once however long it lasts...
        paused = await asyncio.wait_for(layer.receive(channel), 15)
        assert paused == {"type": "layer.paused"}
        await asyncio.sleep(1.5)
        private_redis.start()
        # ...and when it is back.
        resumed = await asyncio.wait_for(layer.receive(channel), 15)
        assert resumed == {"type": "layer.resumed"}
        # ...and the group subscription was restored with it.
        await layer.group_send("room", {"type": "chat.message", "n": 1})
        assert (await asyncio.wait_for(layer.receive(channel), 5))["n"] == 1
    finally:
        await layer.flush()


def test_the_upstream_private_names_the_layer_relies_on_still_exist():
    """skilllink/channel_layer.py subclasses channels-redis internals (see its docstring);
    an upgrade that renames them must fail here, not in production."""
    import inspect

    import channels_redis
    from channels_redis import pubsub
    from redis.asyncio.client import PubSub

    assert channels_redis.__version__ == "4.3.0", "re-check skilllink/channel_layer.py"
    shard = pubsub.RedisSingleShardConnection
    for name in ("_ensure_redis", "_receive_message", "publish", "subscribe", "unsubscribe"):
        assert callable(getattr(shard, name)), name
    source = inspect.getsource(shard)
    for attribute in ("self._lock", "self._redis", "self._pubsub", "self._subscribed_to"):
        assert attribute in source, attribute
    loop_layer = inspect.getsource(pubsub.RedisPubSubLoopLayer)
    for attribute in ("self._shards", "self.channels", "self.groups", "_subscribe_to_channel"):
        assert attribute in loop_layer, attribute
    assert "put_nowait" in inspect.getsource(shard._receive_message)
    assert callable(pubsub._wrap_close)
    assert "_layers" in inspect.getsource(pubsub.RedisPubSubChannelLayer)
    assert inspect.iscoroutinefunction(PubSub.on_connect)
    assert inspect.iscoroutinefunction(PubSub.get_message)
    assert "get_message" in inspect.getsource(shard._do_receiving)
