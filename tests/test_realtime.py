"""Pushes after commit (skilllink.realtime): order, rollbacks, and one hop per request.

The real in-memory channel layer receives them; ``async_to_sync`` (asgiref's, the hop from
synchronous code to an event loop) is counted by a wrapper that calls through to it.
"""

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from skilllink import realtime
from skilllink.realtime import pushes_in_one_hop, send_all_on_commit, send_on_commit, user_group
from tests.factories import in_future, make_learner, make_slot, make_teacher

pytestmark = pytest.mark.django_db


def listen(group: str) -> str:
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return channel


def received(channel: str) -> list[dict]:
    """Everything waiting on ``channel`` (one event loop for all of it)."""

    async def drain() -> list[dict]:
        layer, events = get_channel_layer(), []
        while True:
            try:
                events.append(await asyncio.wait_for(layer.receive(channel), 0.05))
            except TimeoutError:
                return events

    return async_to_sync(drain)()


@pytest.fixture
def hops(monkeypatch) -> list[int]:
    """How many times the pushes crossed to an event loop."""
    calls: list[int] = []

    def counting(function):
        calls.append(1)
        return async_to_sync(function)

    monkeypatch.setattr(realtime, "async_to_sync", counting)
    return calls


def test_pushes_in_one_block_go_out_in_order_in_one_hop_after_commit(
    django_capture_on_commit_callbacks, hops
):
    channel = listen("g")
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        with pushes_in_one_hop():
            send_on_commit("g", {"type": "t", "n": 1})
            send_all_on_commit([("g", {"type": "t", "n": 2}), ("g", {"type": "t", "n": 3})])
            with pushes_in_one_hop():  # nested: joins the outer block
                send_on_commit("g", {"type": "t", "n": 4})
        assert hops == []  # nothing before commit
    assert [event["n"] for event in received(channel)] == [1, 2, 3, 4]
    assert hops == [1]


def test_a_rolled_back_savepoint_drops_only_its_own_pushes(
    django_capture_on_commit_callbacks, hops
):
    channel = listen("g")
    with (
        django_capture_on_commit_callbacks(execute=True),
        transaction.atomic(),
        pushes_in_one_hop(),
    ):
        send_on_commit("g", {"type": "t", "n": 1})
        with pytest.raises(RuntimeError), transaction.atomic():
            send_on_commit("g", {"type": "t", "n": 2})
            raise RuntimeError("the slot was taken meanwhile")
        send_on_commit("g", {"type": "t", "n": 3})
    assert [event["n"] for event in received(channel)] == [1, 3]
    assert hops == [1]


def test_a_block_that_raises_or_a_transaction_rolled_back_sends_nothing(
    django_capture_on_commit_callbacks, hops
):
    channel = listen("g")
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(ValueError), transaction.atomic(), pushes_in_one_hop():
            send_on_commit("g", {"type": "t", "n": 1})
            raise ValueError("refused")
        with pytest.raises(ValueError), transaction.atomic():
            with pushes_in_one_hop():
                send_on_commit("g", {"type": "t", "n": 2})
            raise ValueError("refused after the block")
    assert received(channel) == []
    assert hops == []
    # The block is over: later pushes go out on their own again.
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        send_on_commit("g", {"type": "t", "n": 3})
    assert [event["n"] for event in received(channel)] == [3]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_block_sends_at_its_end():
    channel = listen("g")
    with pushes_in_one_hop():
        send_on_commit("g", {"type": "t", "n": 1})
        assert received(channel) == []
    assert [event["n"] for event in received(channel)] == [1]


def test_a_booking_request_pushes_its_update_notification_and_balance_in_one_hop(
    client, django_capture_on_commit_callbacks, hops
):
    teacher, learner = make_teacher(), make_learner()
    slot = make_slot(teacher, start=in_future(days=2))
    to_learner, to_teacher = listen(user_group(learner.pk)), listen(user_group(teacher.pk))
    client.force_login(learner)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(
            "/api/bookings/", data=json.dumps({"slot": slot.pk}), content_type="application/json"
        )
    assert answer.status_code == 201, answer.content
    assert hops == [1]
    learner_kinds = [event["type"] for event in received(to_learner)]
    teacher_kinds = [event["type"] for event in received(to_teacher)]
    assert learner_kinds == ["credits.changed", "booking.updated"]  # the hold, then the booking
    assert teacher_kinds == ["booking.updated", "notification.created"]
