"""/ws/meetings/<id>/ on the real ASGI app: who gets in, chat, signaling, presence, ending."""

import asyncio
from datetime import timedelta

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.utils import timezone
from rest_framework.test import APIClient

from meetings.models import ChatMessage
from scheduling.models import Booking, RoomVisit
from scheduling.transitions import booking_cancel
from skilllink.asgi import application
from tests.conftest import access_token_for, scheduled_booking
from tests.factories import make_learner

pytestmark = pytest.mark.django_db(transaction=True)


async def scheduled(minutes_from_now: int = 5):
    return await database_sync_to_async(scheduled_booking)(
        starts_in=timedelta(minutes=minutes_from_now)
    )


async def room_socket(user, booking_id) -> WebsocketCommunicator:
    token = await database_sync_to_async(access_token_for)(user)
    return WebsocketCommunicator(application, f"/ws/meetings/{booking_id}/?token={token}")


async def enter(user, booking_id):
    socket = await room_socket(user, booking_id)
    connected, _ = await socket.connect()
    assert connected
    room = await socket.receive_json_from()
    assert room["type"] == "room"
    return socket, room


async def until(socket, frame_type, limit=6):
    for _ in range(limit):
        frame = await socket.receive_json_from(timeout=2)
        if frame["type"] == frame_type:
            return frame
    raise AssertionError(f"no {frame_type} frame")


async def assert_refused(socket, code):
    connected, _ = await socket.connect()
    assert connected
    assert await socket.receive_output() == {"type": "websocket.close", "code": code}


async def test_unauthenticated_is_closed_4401():
    booking, _, _ = await scheduled()
    socket = WebsocketCommunicator(
        application,
        f"/ws/meetings/{booking.pk}/",
        headers=[(b"origin", b"http://localhost"), (b"host", b"localhost")],
    )
    await assert_refused(socket, 4401)


async def test_stranger_is_closed_4403_and_nothing_is_recorded():
    booking, _, _ = await scheduled()
    stranger = await database_sync_to_async(make_learner)()
    await assert_refused(await room_socket(stranger, booking.pk), 4403)
    assert not await database_sync_to_async(RoomVisit.objects.exists)()


async def test_outside_the_window_is_closed_4403():
    booking, learner, _ = await scheduled(minutes_from_now=60)
    await assert_refused(await room_socket(learner, booking.pk), 4403)
    refreshed = await database_sync_to_async(Booking.objects.get)(pk=booking.pk)
    assert refreshed.status == "scheduled"


async def test_cancelled_booking_is_closed_4403():
    booking, learner, _ = await scheduled()
    await database_sync_to_async(booking_cancel)(booking_id=booking.pk, user=learner)
    await assert_refused(await room_socket(learner, booking.pk), 4403)


async def test_unknown_booking_is_closed_4403():
    learner = await database_sync_to_async(make_learner)()
    await assert_refused(await room_socket(learner, 999999), 4403)


async def test_entering_starts_the_session_and_presence_is_shared():
    booking, learner, teacher = await scheduled()
    learner_socket, room = await enter(learner, booking.pk)
    assert room["polite"] is True and room["peer"] == teacher.pk and room["you"] == learner.pk
    assert room["history"] == []
    assert (await until(learner_socket, "presence"))["participants"] == [learner.pk]
    refreshed = await database_sync_to_async(Booking.objects.get)(pk=booking.pk)
    assert refreshed.status == "in_progress"

    teacher_socket, room = await enter(teacher, booking.pk)
    assert room["polite"] is False
    expected = sorted([learner.pk, teacher.pk])
    assert (await until(learner_socket, "presence"))["participants"] == expected
    assert (await until(teacher_socket, "presence"))["participants"] == expected

    await teacher_socket.disconnect()
    assert (await until(learner_socket, "presence"))["participants"] == [learner.pk]
    visit = await database_sync_to_async(RoomVisit.objects.get)(user=teacher)
    assert visit.left_at is not None
    await learner_socket.disconnect()


async def test_chat_is_saved_then_broadcast_and_replayed_on_join():
    booking, learner, teacher = await scheduled()
    learner_socket, _ = await enter(learner, booking.pk)
    teacher_socket, _ = await enter(teacher, booking.pk)
    await learner_socket.send_json_to(
        {"type": "chat.send", "text": "  <script>alert(1)</script> hi  "}
    )
    for socket in (learner_socket, teacher_socket):
        frame = await until(socket, "chat.message")
        assert frame["message"]["text"] == "<script>alert(1)</script> hi"
        assert frame["message"]["sender"] == learner.pk
    saved = await database_sync_to_async(ChatMessage.objects.get)()
    assert saved.text == "<script>alert(1)</script> hi"
    await teacher_socket.disconnect()
    again, room = await enter(teacher, booking.pk)
    assert [m["text"] for m in room["history"]] == ["<script>alert(1)</script> hi"]
    await again.disconnect()
    await learner_socket.disconnect()

    api = APIClient()
    api.credentials(
        HTTP_AUTHORIZATION=f"Bearer {await database_sync_to_async(access_token_for)(teacher)}"
    )
    messages = await database_sync_to_async(api.get)(f"/api/bookings/{booking.pk}/messages/")
    assert [m["text"] for m in messages.json()] == ["<script>alert(1)</script> hi"]


async def test_signal_goes_to_the_other_participant_only_and_is_not_echoed():
    booking, learner, teacher = await scheduled()
    learner_socket, _ = await enter(learner, booking.pk)
    teacher_socket, _ = await enter(teacher, booking.pk)
    await until(learner_socket, "presence")
    await until(teacher_socket, "presence")
    await until(learner_socket, "presence")  # the teacher's arrival
    offer = {"description": {"type": "offer", "sdp": "v=0\r\n"}}
    await learner_socket.send_json_to({"type": "signal", "data": offer})
    frame = await until(teacher_socket, "signal")
    assert frame == {"type": "signal", "from": learner.pk, "data": offer}
    assert await learner_socket.receive_nothing(timeout=0.3)
    await learner_socket.disconnect()
    await teacher_socket.disconnect()


async def test_bad_frames_get_errors_and_the_socket_stays_open(settings):
    booking, learner, _ = await scheduled()
    socket, _ = await enter(learner, booking.pk)
    await until(socket, "presence")
    await socket.send_to(text_data="not json")
    assert (await socket.receive_json_from())["code"] == "invalid"
    await socket.send_json_to({"type": "signal", "data": "nope"})
    assert (await socket.receive_json_from())["code"] == "invalid"
    await socket.send_json_to({"type": "chat.send", "text": 42})
    assert (await socket.receive_json_from())["code"] == "invalid"
    await socket.send_json_to({"type": "chat.send", "text": "x" * 2001})
    assert (await socket.receive_json_from())["code"] == "invalid"
    await socket.send_json_to({"type": "chat.send", "text": "   "})
    assert (await socket.receive_json_from())["code"] == "invalid"
    await socket.send_to(
        text_data='{"type": "signal", "data": {"candidate": "' + "a" * 70000 + '"}}'
    )
    assert (await socket.receive_json_from())["code"] == "frame_too_large"
    await socket.send_json_to({"type": "chat.send", "text": "still here"})
    assert (await until(socket, "chat.message"))["message"]["text"] == "still here"
    assert await database_sync_to_async(ChatMessage.objects.count)() == 1
    await socket.disconnect()


async def test_chat_is_rate_limited_per_user(settings):
    settings.CHAT_RATE_LIMIT = "3/60"
    booking, learner, _ = await scheduled()
    socket, _ = await enter(learner, booking.pk)
    await until(socket, "presence")
    for n in range(3):
        await socket.send_json_to({"type": "chat.send", "text": f"m{n}"})
        await until(socket, "chat.message")
    await socket.send_json_to({"type": "chat.send", "text": "too many"})
    error = await socket.receive_json_from()
    assert (error["type"], error["code"]) == ("error", "rate_limited")
    assert await database_sync_to_async(ChatMessage.objects.count)() == 3
    await socket.disconnect()


async def test_either_participant_ends_and_the_other_side_sees_it():
    booking, learner, teacher = await scheduled(minutes_from_now=-5)
    learner_socket, _ = await enter(learner, booking.pk)
    teacher_socket, _ = await enter(teacher, booking.pk)
    await teacher_socket.send_json_to({"type": "room.end"})
    ended = await until(learner_socket, "room.ended")
    assert ended["by"] == teacher.pk and ended["status"] == "completed"
    refreshed = await database_sync_to_async(Booking.objects.get)(pk=booking.pk)
    assert refreshed.status == "completed" and refreshed.ended_by_id == teacher.pk
    await learner_socket.disconnect()
    await teacher_socket.disconnect()


async def test_a_burst_of_chat_from_both_sides_is_saved_and_delivered_in_order(settings):
    settings.CHAT_RATE_LIMIT = "1000/10"
    booking, learner, teacher = await scheduled()
    learner_socket, _ = await enter(learner, booking.pk)
    teacher_socket, _ = await enter(teacher, booking.pk)
    for n in range(25):
        await learner_socket.send_json_to({"type": "chat.send", "text": f"l{n}"})
        await teacher_socket.send_json_to({"type": "chat.send", "text": f"t{n}"})
    received = []
    while len(received) < 50:
        frame = await teacher_socket.receive_json_from(timeout=5)
        if frame["type"] == "chat.message":
            received.append(frame["message"])
    assert [m["text"] for m in received if m["sender"] == learner.pk] == [
        f"l{n}" for n in range(25)
    ]
    assert len({m["id"] for m in received}) == 50
    saved = await database_sync_to_async(
        lambda: list(ChatMessage.objects.order_by("id").values_list("id", "text"))
    )()
    assert sorted(m["id"] for m in received) == [pk for pk, _ in saved]
    await learner_socket.disconnect()
    await teacher_socket.disconnect()


async def test_a_message_whose_save_fails_is_not_broadcast_and_its_sender_is_told():
    booking, learner, teacher = await scheduled()
    learner_socket, _ = await enter(learner, booking.pk)
    teacher_socket, _ = await enter(teacher, booking.pk)
    await until(learner_socket, "presence")
    await until(learner_socket, "presence")  # the teacher's arrival
    # The session's row disappears under the open room (a staff deletion, say): the
    # insert breaks its foreign key and the batch rolls back.
    await database_sync_to_async(lambda: Booking.objects.filter(pk=booking.pk).delete())()
    await learner_socket.send_json_to({"type": "chat.send", "text": "lost?"})
    error = await until(learner_socket, "error")
    assert error["code"] == "chat_not_saved"
    while not await teacher_socket.receive_nothing(timeout=0.3):  # presence frames only
        frame = await teacher_socket.receive_json_from()
        assert frame["type"] == "presence", frame
    assert not await database_sync_to_async(ChatMessage.objects.exists)()
    await learner_socket.disconnect()
    await teacher_socket.disconnect()


async def test_messages_sent_just_before_leaving_still_reach_the_other_side(settings):
    settings.CHAT_RATE_LIMIT = "1000/10"
    booking, learner, teacher = await scheduled()
    learner_socket, _ = await enter(learner, booking.pk)
    teacher_socket, _ = await enter(teacher, booking.pk)
    for n in range(10):
        await learner_socket.send_json_to({"type": "chat.send", "text": f"bye {n}"})
    await learner_socket.disconnect()
    texts = []
    while len(texts) < 10:
        frame = await teacher_socket.receive_json_from(timeout=5)
        if frame["type"] == "chat.message":
            texts.append(frame["message"]["text"])
    assert texts == [f"bye {n}" for n in range(10)]
    await teacher_socket.disconnect()


async def test_a_message_reaches_the_senders_other_tab_once_and_the_sender_once():
    booking, learner, teacher = await scheduled()
    first_tab, _ = await enter(learner, booking.pk)
    second_tab, _ = await enter(learner, booking.pk)
    teacher_socket, _ = await enter(teacher, booking.pk)
    # Wait until the first tab has heard of the second (presence counts sockets).
    for _ in range(6):
        frame = await first_tab.receive_json_from(timeout=2)
        if frame["type"] == "presence" and frame["participants"] == sorted(
            [learner.pk, teacher.pk]
        ):
            break
    await first_tab.send_json_to({"type": "chat.send", "text": "from tab one"})
    for socket in (first_tab, second_tab, teacher_socket):
        message = (await until(socket, "chat.message"))["message"]
        assert message["text"] == "from tab one"
    for socket in (first_tab, second_tab, teacher_socket):
        while not await socket.receive_nothing(timeout=0.3):
            frame = await socket.receive_json_from()
            assert frame["type"] != "chat.message", frame  # exactly one copy each
    for socket in (first_tab, second_tab, teacher_socket):
        await socket.disconnect()


async def test_postgres_chat_writer_survives_a_lost_connection(settings):
    """PostgreSQL: the writer's own connection dies (a server restart, say): that
    batch's sender is told, nothing half-saved is broadcast, the next message goes
    through on a new connection, and the ids keep the send order."""
    from django.db import connection

    from meetings.chat_writer import chat_writer
    from tests.conftest import skip_unless_postgres

    skip_unless_postgres()
    settings.CHAT_RATE_LIMIT = "1000/10"
    booking, learner, teacher = await scheduled()
    learner_socket, _ = await enter(learner, booking.pk)
    teacher_socket, _ = await enter(teacher, booking.pk)
    await learner_socket.send_json_to({"type": "chat.send", "text": "one"})
    assert (await until(teacher_socket, "chat.message"))["message"]["text"] == "one"
    pid = chat_writer._pg.info.backend_pid

    def terminate():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", [pid])

    await database_sync_to_async(terminate)()
    await learner_socket.send_json_to({"type": "chat.send", "text": "two"})
    assert (await until(learner_socket, "error"))["code"] == "chat_not_saved"
    for text in ("three", "four"):
        await learner_socket.send_json_to({"type": "chat.send", "text": text})
    delivered = [(await until(teacher_socket, "chat.message"))["message"] for _ in range(2)]
    assert [m["text"] for m in delivered] == ["three", "four"]
    assert chat_writer._pg.info.backend_pid != pid
    saved = await database_sync_to_async(
        lambda: list(ChatMessage.objects.order_by("id").values_list("text", flat=True))
    )()
    assert saved == ["one", "three", "four"]
    assert delivered[0]["id"] < delivered[1]["id"]
    await learner_socket.disconnect()
    await teacher_socket.disconnect()


@pytest.mark.parametrize("size", [1, 8, 9, 40])
async def test_postgres_batch_insert_keeps_order_and_values(size):
    """Both statement forms (plain values up to 8 rows, arrays above) save every row
    as given and return the ids in batch order."""
    from meetings.services import chat_db_connect, chat_save_batch_async
    from tests.conftest import skip_unless_postgres

    skip_unless_postgres()
    booking, learner, teacher = await scheduled()
    sent_at = timezone.now()
    rows = [
        (booking.pk, (learner, teacher)[n % 2].pk, f"m{n} <b>&", sent_at + timedelta(seconds=n))
        for n in range(size)
    ]
    conn = await chat_db_connect()
    try:
        ids = await chat_save_batch_async(conn, rows)
    finally:
        await conn.close()
    assert ids == sorted(ids) and len(set(ids)) == size
    saved = await database_sync_to_async(
        lambda: list(
            ChatMessage.objects.order_by("id").values_list(
                "id", "booking_id", "sender_id", "text", "sent_at"
            )
        )
    )()
    assert saved == [(pk, *row) for pk, row in zip(ids, rows, strict=True)]


@pytest.mark.parametrize(
    "text",
    ["nul \x00 inside", "bell \x07", "escape \x1b[31m red", "c1 \x85 next line", "del \x7f"],
)
async def test_chat_with_control_characters_is_refused_before_it_is_saved(text):
    """The same ``invalid`` refusal on SQLite and PostgreSQL (where NUL cannot be stored),
    checked before the text joins a shared insert batch."""
    booking, learner, _ = await scheduled()
    socket, _ = await enter(learner, booking.pk)
    await socket.send_json_to({"type": "chat.send", "text": text})
    error = await until(socket, "error")
    assert error["code"] == "invalid" and "control characters" in error["detail"]
    assert not await database_sync_to_async(ChatMessage.objects.exists)()
    await socket.send_json_to({"type": "chat.send", "text": "line one\r\n\tline two"})
    saved = (await until(socket, "chat.message"))["message"]
    assert saved["text"] == "line one\n\tline two"  # line breaks and tabs are kept
    await socket.disconnect()


async def test_a_batch_that_fails_for_one_rows_reason_saves_all_the_others():
    """Messages of several rooms share one insert; one row the database refuses (its
    session was deleted meanwhile) fails alone."""
    from django.utils import timezone

    from meetings.chat_writer import chat_writer

    rooms = [await scheduled(minutes_from_now=5 + 60 * n) for n in range(3)]
    doomed = rooms[1][0]
    await database_sync_to_async(lambda: Booking.objects.filter(pk=doomed.pk).delete())()
    now = timezone.now()
    # Submitted in one go, so they are written as one batch.
    futures = [
        chat_writer.submit(booking_id=booking.pk, sender_id=learner.pk, text=f"m{n}", sent_at=now)
        for n, (booking, learner, _) in enumerate(rooms * 2)
    ]
    results = await asyncio.gather(*futures, return_exceptions=True)
    failed = [n for n, result in enumerate(results) if isinstance(result, Exception)]
    assert failed == [1, 4]  # the deleted session's two messages, nothing else
    saved = await database_sync_to_async(
        lambda: sorted(ChatMessage.objects.values_list("text", flat=True))
    )()
    assert saved == ["m0", "m2", "m3", "m5"]


async def test_ending_a_session_before_its_start_is_refused_and_changes_nothing():
    booking, _, teacher = await scheduled(minutes_from_now=5)
    socket, _ = await enter(teacher, booking.pk)  # the early join starts it (in progress)
    await socket.send_json_to({"type": "room.end"})
    error = await until(socket, "error")
    assert error["code"] == "session_not_started"
    refreshed = await database_sync_to_async(Booking.objects.get)(pk=booking.pk)
    assert refreshed.status == "in_progress" and refreshed.ended_at is None
    assert refreshed.duration_seconds is None
    await socket.disconnect()
