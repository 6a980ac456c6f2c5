"""POST /api/assistant/ask/ and GET /api/assistant/: the same service, quota and rendering
as the room, through the real SDK and the fake Gemini server."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from assistant.models import Exchange
from meetings.models import ChatMessage
from tests.assistant.fake_gemini import Reply
from tests.assistant.html_check import assert_harmless
from tests.assistant.rooms import _scheduled
from tests.conftest import access_token_for
from tests.factories import make_learner

pytestmark = pytest.mark.django_db

ASK = "/api/assistant/ask/"


def client_for(user) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(user)}")
    return api


def test_ask_answers_markdown_and_safe_html(gemini, auth_client, learner):
    gemini.add(Reply.text("Use `sorted()`:\n\n```python\nsorted(xs)\n```\n<script>x</script>"))
    response = auth_client.post(ASK, {"prompt": "How do I sort a list?"}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["markdown"].startswith("Use `sorted()`")
    assert '<span class="nb">sorted</span>' in body["html"]
    assert_harmless(body["html"])
    assert body["booking"] is None and body["prompt"] == "How do I sort a list?"
    assert body["model"] == "gemini-2.5-flash" and body["truncated"] is False
    [sent] = gemini.requests
    assert sent.action == "generateContent"
    assert f"talking with {learner.username}" in sent.system_instruction
    saved = Exchange.objects.get()
    assert (saved.status, saved.asked_by, saved.html) == ("done", learner, body["html"])


def test_without_a_key_it_is_503_assistant_unavailable(no_gemini, auth_client):
    for payload in ({"prompt": "Hello"}, {}, {"prompt": ""}):
        response = auth_client.post(ASK, payload, format="json")
        assert response.status_code == 503
        assert response.json()["code"] == "assistant_unavailable"
    assert no_gemini.requests == []
    status = auth_client.get("/api/assistant/").json()
    assert status["configured"] is False and status["model"] is None


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"prompt": ""},
        {"prompt": "   "},
        {"prompt": "x" * 51},
        {"prompt": ["a"]},
        {"prompt": "ok", "booking": "abc"},
        {"prompt": "ok", "booking": 10**30},
        {"prompt": "ok", "booking": -1},
        {"prompt": "ok", "include_chat": "maybe"},
    ],
    ids=[
        "missing",
        "empty",
        "blank",
        "too-long",
        "not-a-string",
        "bad-booking",
        "booking-beyond-64-bits",
        "negative-booking",
        "bad-include-chat",
    ],
)
def test_bad_input_is_400_invalid(gemini, auth_client, settings, payload):
    settings.ASSISTANT_MAX_PROMPT_CHARS = 50
    response = auth_client.post(ASK, payload, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert gemini.requests == []


def test_quota_is_429_with_time_until_reset_and_retry_after(gemini, auth_client, settings, learner):
    settings.ASSISTANT_DAILY_PROMPTS = 2
    for _ in range(2):
        assert auth_client.post(ASK, {"prompt": "q"}, format="json").status_code == 200
    response = auth_client.post(ASK, {"prompt": "one more"}, format="json")
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "rate_limited"
    assert "It resets at midnight (UTC), in " in body["detail"]
    assert "Premium allows 200 a day" in body["detail"]
    seconds = int(response["Retry-After"])
    tomorrow = (timezone.now() + timedelta(days=1)).replace(hour=0, minute=0, second=0)
    assert 0 < seconds <= (tomorrow - timezone.now()).total_seconds() + 2
    assert len(gemini.requests) == 2
    status = auth_client.get("/api/assistant/").json()
    assert status["quota"]["used"] == 2 and status["quota"]["remaining"] == 0


def test_premium_has_the_higher_quota(gemini, settings):
    settings.ASSISTANT_DAILY_PROMPTS = 1
    settings.ASSISTANT_DAILY_PROMPTS_PREMIUM = 3
    user = make_learner(subscription_type="premium")
    api = client_for(user)
    for _ in range(3):
        assert api.post(ASK, {"prompt": "q"}, format="json").status_code == 200
    response = api.post(ASK, {"prompt": "q"}, format="json")
    assert response.status_code == 429 and "Premium allows" not in response.json()["detail"]


def test_the_day_is_the_users_own(gemini, settings):
    settings.ASSISTANT_DAILY_PROMPTS = 1
    user = make_learner(timezone_name="Pacific/Kiritimati")  # UTC+14
    api = client_for(user)
    assert api.post(ASK, {"prompt": "q"}, format="json").status_code == 200
    quota = api.get("/api/assistant/").json()["quota"]
    assert quota["resets_at"].endswith("+14:00") and "T00:00:00" in quota["resets_at"]


def test_failures_of_the_service_do_not_use_up_the_quota(gemini, auth_client, settings):
    settings.ASSISTANT_DAILY_PROMPTS = 1
    gemini.add(Reply.error(500), Reply.error(500))
    response = auth_client.post(ASK, {"prompt": "q"}, format="json")
    assert response.status_code == 502
    assert response.json()["code"] == "assistant_upstream_error"
    assert Exchange.objects.get().status == "failed"
    assert auth_client.post(ASK, {"prompt": "again"}, format="json").status_code == 200


def test_timeout_is_504(gemini, auth_client):
    gemini.add(Reply.hang(5), Reply.hang(5))
    response = auth_client.post(ASK, {"prompt": "q"}, format="json")
    assert response.status_code == 504 and response.json()["code"] == "assistant_timeout"


def test_a_booking_you_are_not_part_of_is_404(gemini, auth_client):
    booking, _, _ = _scheduled()
    response = auth_client.post(ASK, {"prompt": "q", "booking": booking.pk}, format="json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert (
        auth_client.post(ASK, {"prompt": "q", "booking": 999999}, format="json").status_code == 404
    )
    assert gemini.requests == []


def test_asking_about_your_session_uses_its_facts_and_chat(gemini):
    booking, learner, teacher = _scheduled(message="Help me with generators")
    ChatMessage.objects.create(booking=booking, sender=teacher, text="try yield from")
    api = client_for(learner)
    response = api.post(
        ASK,
        {"prompt": "What is yield?", "booking": booking.pk, "include_chat": True},
        format="json",
    )
    assert response.status_code == 200 and response.json()["booking"] == booking.pk
    [sent] = gemini.requests
    assert "Skill: Python." in sent.system_instruction
    assert "Help me with generators" in sent.system_instruction
    assert f'{{"from": "{teacher.username}", "text": "try yield from"}}' in sent.user_text
    assert Exchange.objects.get().booking_id == booking.pk


def test_a_session_with_an_answer_streaming_refuses_a_second_one(gemini):
    booking, learner, _ = _scheduled()
    Exchange.objects.create(
        booking=booking,
        asked_by=learner,
        prompt="running",
        model="m",
        deadline_at=timezone.now() + timedelta(minutes=1),
    )
    response = client_for(learner).post(ASK, {"prompt": "q", "booking": booking.pk}, format="json")
    assert response.status_code == 409 and response.json()["code"] == "assistant_in_progress"


def test_a_claim_left_by_a_dead_process_is_released_at_its_deadline(gemini):
    booking, learner, _ = _scheduled()
    abandoned = Exchange.objects.create(
        booking=booking,
        asked_by=learner,
        prompt="server died",
        model="m",
        deadline_at=timezone.now() - timedelta(seconds=1),
    )
    response = client_for(learner).post(ASK, {"prompt": "q", "booking": booking.pk}, format="json")
    assert response.status_code == 200
    abandoned.refresh_from_db()
    assert (abandoned.status, abandoned.error_code) == ("failed", "assistant_interrupted")
    assert abandoned.counts_for_quota is False


def test_anonymous_is_401(gemini):
    response = APIClient().post(ASK, {"prompt": "q"}, format="json")
    assert response.status_code == 401 and response.json()["code"] == "not_authenticated"
    assert APIClient().get("/api/assistant/").status_code == 401


def test_schema_describes_the_endpoints(auth_client):
    schema = auth_client.get("/api/schema/?format=json").json()
    assert "/api/assistant/ask/" in schema["paths"] and "/api/assistant/" in schema["paths"]
