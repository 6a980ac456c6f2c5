"""The meeting room in two real browsers (issue 5's must-show).

Teacher and learner of a scheduled booking log in (two browser contexts), open the
room and join: the peer connection reaches ``connected`` over host candidates only
(``SKILLLINK_ICE_SERVERS=[]``, Chromium's fake camera and microphone), each side
plays the other's video, chat crosses (escaped), the camera toggle stops the
outgoing track and brings it back without renegotiating, and ending the session
completes the booking while the other side sees that it ended.

Both pages talk to one server process, so its in-memory channel layer carries the
room's frames; no Redis is needed.
"""

import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from scheduling.models import Booking, RoomVisit
from scheduling.services.bookings import booking_request
from scheduling.transitions import booking_accept
from tests.browser import ROOM_OBSERVER as OBSERVER
from tests.e2e.conftest import CHROMIUM_ARGS, log_in
from tests.e2e.test_shell import in_fresh_thread
from tests.factories import make_learner, make_slot, make_teacher_with_skills

pytestmark = pytest.mark.browser

# Host candidates only: no STUN/TURN server is reachable (or needed) on loopback.
NO_ICE_SERVERS = {"SKILLLINK_ICE_SERVERS": "[]"}
CONNECT_TIMEOUT = 20_000  # ms; ~0.1 s is typical, the margin is for a loaded machine

# Added to every page before its scripts run: observe, never change, what the room does.
#  - offers sent over the socket (a camera toggle must not renegotiate);
#  - when Join was clicked and when the peer connection first reached "connected";
#  - the ICE servers the page handed to RTCPeerConnection.


# The status pill; the room element also carries a data-conn-state attribute (a mirror).
STATUS = "[data-room] .conn-state[data-conn-state]"
PC_CONNECTED = "() => window.__room.pc?.connectionState === 'connected'"
REMOTE_VIDEO_PLAYING = """() => {
  const video = document.querySelector("[data-remote-video]");
  return video.videoWidth > 0 && !video.paused && video.readyState >= 2;
}"""
# The video transceiver's sender (its track is null while the camera is off).
VIDEO_SENDER = """window.__room.pc.getTransceivers()
  .find((t) => t.receiver.track.kind === "video").sender"""
CAMERA_STOPPED = f"""() => {{
  const sender = {VIDEO_SENDER};
  const outgoingStopped = sender.track === null || sender.track.readyState === "ended";
  return outgoingStopped && window.__cameraBefore.readyState === "ended"
    && window.__room.cameraTrack === null;
}}"""
CAMERA_LIVE_AGAIN = f"""() => {{
  const sender = {VIDEO_SENDER};
  const track = window.__room.cameraTrack;
  return track !== null && track !== window.__cameraBefore && track.readyState === "live"
    && sender.track === track;
}}"""
VIDEO_STATS = """async () => {
  const totals = { framesDecoded: 0, framesSent: 0 };
  (await window.__room.pc.getStats()).forEach((report) => {
    if (report.kind !== "video") return;
    if (report.type === "inbound-rtp") totals.framesDecoded += report.framesDecoded || 0;
    if (report.type === "outbound-rtp") totals.framesSent += report.framesSent || 0;
  });
  return totals;
}"""


def _scheduled_booking():
    """An hour's session that began 5 minutes ago (so it can also be ended), accepted the
    day before."""
    teacher = make_teacher_with_skills("Python", username="tessa")
    learner = make_learner(username="leo")
    start = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=5)
    then = start - timedelta(days=1)
    slot = make_slot(teacher, start=start, now=then)
    booking = booking_request(learner=learner, slot_id=slot.pk, now=then)
    booking_accept(booking_id=booking.pk, teacher=teacher, now=then)
    return booking, learner, teacher


def scheduled_booking():
    # The moves notify after commit; that send cannot run in Playwright's thread.
    return in_fresh_thread(_scheduled_booking)


def open_room(page, base_url: str, booking_id: int) -> None:
    response = page.goto(f"{base_url}/sessions/{booking_id}/room/")
    assert response is not None and response.status == 200
    expect(page.locator("[data-prejoin]")).to_be_visible()
    # The pre-join preview shows the (fake) camera before entering.
    page.wait_for_function(
        "() => document.querySelector('[data-preview]').videoWidth > 0", timeout=CONNECT_TIMEOUT
    )


def chat(page, text: str) -> None:
    box = page.locator("[data-chat-input]")
    box.fill(text)
    box.press("Enter")
    expect(box).to_have_value("")


def video_stats(page) -> dict:
    return page.evaluate(VIDEO_STATS)


def wait_until(condition, timeout: float = 10.0, interval: float = 0.1):
    """Poll ``condition()`` until it returns something truthy; that value, or AssertionError."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s")
        time.sleep(interval)


@pytest.fixture
def room_server(start_server):
    return start_server(extra_env=NO_ICE_SERVERS)


def test_chromium_gets_fake_media_flags():
    assert "--use-fake-ui-for-media-stream" in CHROMIUM_ARGS
    assert "--use-fake-device-for-media-stream" in CHROMIUM_ARGS


def test_two_browsers_talk_chat_toggle_camera_and_end(room_server, new_page):
    base = room_server.url
    booking, learner, teacher = scheduled_booking()
    pages = {}
    for person in (teacher, learner):
        page = new_page()
        page.add_init_script(OBSERVER)
        log_in(page, base, person.username)
        open_room(page, base, booking.pk)
        pages[person.username] = page
    teacher_page, learner_page = pages[teacher.username], pages[learner.username]

    # The server's SKILLLINK_ICE_SERVERS reached the page.
    config = json.loads(teacher_page.locator("#room-config").text_content())
    assert config["iceServers"] == []

    for page in (teacher_page, learner_page):
        page.get_by_role("button", name="Join now").click()
    for page in (teacher_page, learner_page):
        page.wait_for_function(PC_CONNECTED, timeout=CONNECT_TIMEOUT, polling=100)
    for page in (teacher_page, learner_page):
        expect(page.locator("[data-room]")).to_have_attribute("data-conn-state", "connected")
        expect(page.locator(STATUS)).to_have_text("Connected")
        page.wait_for_function(REMOTE_VIDEO_PLAYING, timeout=CONNECT_TIMEOUT)
        expect(page.locator("[data-remote-placeholder]")).to_be_hidden()
        assert page.evaluate("window.__observed.iceServers") == []

    observed = [page.evaluate("window.__observed") for page in (teacher_page, learner_page)]
    both_joined = max(o["joinAt"] for o in observed)
    both_connected = max(o["connectedAt"] for o in observed)
    print(
        f"join-to-connected: {both_connected - both_joined:.0f} ms after the second Join "
        f"({both_connected - min(o['joinAt'] for o in observed):.0f} ms after the first)"
    )
    # The session started when the first person entered.
    assert Booking.objects.get(pk=booking.pk).status == "in_progress"

    # --- Chat: typed and sent with Enter, shown on both sides, escaped. ---
    learner_log = learner_page.locator("[data-chat-log]")
    teacher_log = teacher_page.locator("[data-chat-log]")
    chat(learner_page, "Hello! Notes: https://example.test/notes")
    expect(teacher_log.locator(".chat-message")).to_have_count(1)
    received = teacher_log.locator(".chat-message").last
    expect(received).to_contain_text("Hello! Notes: https://example.test/notes")
    expect(received).to_contain_text(learner.username)
    link = received.locator("a")
    expect(link).to_have_attribute("href", "https://example.test/notes")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    expect(learner_log.locator(".chat-message.mine")).to_contain_text("You")

    payload = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'
    chat(teacher_page, payload)
    for log, page in ((learner_log, learner_page), (teacher_log, teacher_page)):
        expect(log.locator(".chat-message")).to_have_count(2)
        expect(log.locator(".chat-message .chat-text").last).to_have_text(payload)
        assert log.locator("script, img").count() == 0
        assert page.evaluate("window.__pwned") is None

    # --- Camera off on the teacher's side: the outgoing video stops, no renegotiation. ---
    offers_before = sum(
        p.evaluate("window.__observed.offers") for p in (teacher_page, learner_page)
    )
    assert offers_before >= 1
    teacher_page.evaluate("window.__cameraBefore = window.__room.cameraTrack")
    assert teacher_page.evaluate("window.__cameraBefore.readyState") == "live"
    camera = teacher_page.locator("[data-toggle-camera]")
    camera.click()
    expect(camera).to_have_attribute("aria-pressed", "false")
    expect(camera).to_have_text("Camera off")
    teacher_page.wait_for_function(CAMERA_STOPPED)
    self_view = teacher_page.locator(".video-tile.self")
    expect(self_view).to_be_hidden()  # not the stopped camera's last frame
    # No frames leave any more (give in-flight ones a moment, then watch for a second).
    time.sleep(0.5)
    sent_before = video_stats(teacher_page)["framesSent"]
    time.sleep(1.0)
    assert video_stats(teacher_page)["framesSent"] == sent_before
    # The learner sees a note instead of the teacher's last frame frozen on screen.
    placeholder = learner_page.locator("[data-remote-placeholder]")
    expect(placeholder).to_be_visible()
    expect(placeholder).to_contain_text(f"No video from {teacher.username}")

    # --- Camera on again: a new live track on the same sender, same connection. ---
    camera.click()
    expect(camera).to_have_attribute("aria-pressed", "true")
    expect(camera).to_have_text("Camera on")
    teacher_page.wait_for_function(CAMERA_LIVE_AGAIN)
    expect(self_view).to_be_visible()
    decoded = video_stats(learner_page)["framesDecoded"]
    wait_until(lambda: video_stats(learner_page)["framesDecoded"] > decoded + 5)
    learner_page.wait_for_function(REMOTE_VIDEO_PLAYING)
    expect(placeholder).to_be_hidden()
    for page in (teacher_page, learner_page):
        assert page.evaluate("window.__room.pc.connectionState") == "connected"
        assert page.evaluate("window.__observed.peerConnections") == 1
    offers_after = sum(p.evaluate("window.__observed.offers") for p in (teacher_page, learner_page))
    assert offers_after == offers_before, "the camera toggle renegotiated"

    # --- The learner's socket drops: it comes back by itself and the call is re-made. ---
    learner_page.evaluate("window.__room.socket.close()")
    for page in (teacher_page, learner_page):
        page.wait_for_function(
            "() => window.__observed.peerConnections === 2 && "
            "window.__room.pc.connectionState === 'connected'",
            timeout=CONNECT_TIMEOUT,
            polling=100,
        )
        decoded = video_stats(page)["framesDecoded"]
        wait_until(
            lambda page=page, decoded=decoded: video_stats(page)["framesDecoded"] > decoded + 5
        )
        expect(page.locator("[data-remote-placeholder]")).to_be_hidden()
        expect(page.locator(STATUS)).to_have_text("Connected")

    # --- The learner ends the session (after confirming in the page's own dialog, never
    # the browser's); both see it ended. ---
    learner_page.on("dialog", lambda native: pytest.fail(f"browser dialog: {native.message}"))
    learner_page.get_by_role("button", name="End for both").click()
    confirm = learner_page.get_by_role("dialog", name="End the session for both of you?")
    expect(confirm).to_be_visible()
    confirm.get_by_role("button", name="End for both").click()
    expect(teacher_page.locator("[data-ended]")).to_be_visible()
    expect(teacher_page.locator("[data-ended-note]")).to_have_text(
        f"{learner.username} ended the session."
    )
    expect(teacher_page.locator("[data-room-body]")).to_be_hidden()
    expect(teacher_page.locator(STATUS)).to_have_text("Session ended")
    expect(learner_page.locator("[data-ended]")).to_be_visible()
    expect(learner_page.locator("[data-ended-note]")).to_have_text("You ended the session.")
    # The teacher is not asked to rate; the learner is (tested in test_room_controls.py).
    expect(teacher_page.locator("[data-rate-form]")).to_have_count(0)
    ended = Booking.objects.get(pk=booking.pk)
    assert ended.status == "completed"
    assert ended.ended_by_id == learner.pk
    # The local camera and microphone are released on both sides.
    for page in (teacher_page, learner_page):
        assert page.evaluate(
            "window.__room.stream.getTracks().every((t) => t.readyState === 'ended')"
        )


def test_an_offer_lost_while_presence_was_stale_is_sent_again(room_server, new_page):
    """Presence counts people, not sockets: a visit whose socket the server has not seen
    close yet makes the teacher offer into an empty room. The offer is sent again until
    the learner's new socket is there to answer it."""
    base = room_server.url
    booking, learner, teacher = scheduled_booking()
    RoomVisit.objects.create(booking=booking, user=learner)  # the learner's "old" connection
    teacher_page, learner_page = new_page(), new_page()
    for page, person in ((teacher_page, teacher), (learner_page, learner)):
        page.add_init_script(OBSERVER)
        log_in(page, base, person.username)
        open_room(page, base, booking.pk)

    teacher_page.get_by_role("button", name="Join now").click()
    teacher_page.wait_for_function("window.__observed.offers >= 1", polling=100)
    time.sleep(0.5)  # the offer has gone out to nobody
    learner_page.get_by_role("button", name="Join now").click()
    for page in (teacher_page, learner_page):
        page.wait_for_function(PC_CONNECTED, timeout=CONNECT_TIMEOUT, polling=100)
        page.wait_for_function(REMOTE_VIDEO_PLAYING, timeout=CONNECT_TIMEOUT)
    assert teacher_page.evaluate("window.__observed.offers") >= 2
    assert learner_page.evaluate("window.__observed.offers") == 0
    assert learner_page.evaluate("window.__observed.peerConnections") == 1


def test_stranger_gets_404_for_the_room(room_server, new_page):
    booking, _, _ = scheduled_booking()
    stranger = in_fresh_thread(make_learner, username="nosy")
    page = new_page()
    log_in(page, room_server.url, stranger.username)
    response = page.goto(f"{room_server.url}/sessions/{booking.pk}/room/")
    assert response is not None and response.status == 404
    expect(page.locator("[data-room]")).to_have_count(0)
    assert Booking.objects.get(pk=booking.pk).status == "scheduled"


def test_a_refused_chat_message_comes_back_into_the_box(start_server, new_page):
    server = start_server(extra_env={**NO_ICE_SERVERS, "CHAT_RATE_LIMIT": "2/60"})
    booking, learner, _ = scheduled_booking()
    page = new_page()
    log_in(page, server.url, learner.username)
    open_room(page, server.url, booking.pk)
    page.get_by_role("button", name="Join now").click()
    expect(page.locator("[data-room]")).to_have_attribute("data-socket", "open")
    for text in ("one", "two"):
        chat(page, text)
        expect(page.locator(".chat-message.mine", has_text=text)).to_have_count(1)
    box = page.locator("[data-chat-input]")
    box.fill("three, too fast")
    box.press("Enter")
    expect(page.locator("[data-chat-error]")).to_contain_text("too fast")
    expect(box).to_have_value("three, too fast")
    expect(page.locator(".chat-message.mine")).to_have_count(2)
