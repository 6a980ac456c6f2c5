"""Schema fuzzing (issue 14): schemathesis generates requests from the committed OpenAPI
schema (``docs/openapi.yaml``, which ``tests/test_api_docs.py`` keeps equal to what the
server generates) and sends them to the WSGI application in this process, as a user who is
learner and teacher, premium, with credits, skills, slots, sessions in several states,
match requests and notifications, so most operations do real work. Generated ids and
slugs are steered half of the time to rows that exist.

Every answer must:
- not be a 5xx;
- have a status code the schema declares for the operation, with a body and headers that
  match the schema (so the response serializers in the schema and the payloads the views
  build by hand agree);
- reject input the schema calls invalid with a 4xx;
- for a 4xx, be the error shape ``{"code", "detail"[, "fields"]}``.

Bounded: ``MAX_EXAMPLES`` generated cases per operation (plus schemathesis' coverage cases
for boundaries and invalid values), derandomized so CI runs the same cases every time, and
a per-request deadline. A failure prints the request as a curl command.
"""

import itertools
from datetime import timedelta
from pathlib import Path

import pytest
import schemathesis
from django.core import signals
from django.db import close_old_connections
from django.utils import timezone
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode

from tests.assistant.fake_gemini import FakeGemini
from tests.conftest import access_token_for
from tests.factories import (
    PASSWORD,
    give_credits,
    in_future,
    make_learner,
    make_skill,
    make_slot,
    make_teacher_with_skills,
    make_user,
)

OPENAPI = Path(__file__).resolve().parent.parent / "docs" / "openapi.yaml"
MAX_EXAMPLES = 40
# Generous: CI machines are shared, and Hypothesis fails a run whose example was slow once
# ("unreliable timings"); a request near this is a bug of its own.
DEADLINE = timedelta(seconds=10)

CONFIG = SchemathesisConfig.from_dict(
    {
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            # The fuzzing user's token is sent by the test; generated credentials would
            # only replace it.
            "with-security-parameters": False,
        },
        "phases": {"stateful": {"enabled": False}},
    }
)
schema = schemathesis.openapi.from_path(OPENAPI, config=CONFIG)


# --- Steering valid cases to rows that exist ------------------------------------------

# Filled per test by the ``world`` fixture: kind -> existing ids or slugs.
REAL: dict[str, list] = {}
# Parameter or body field name -> kind of REAL value.
PATH_KEYS = {
    "booking_id": "booking",
    "slot_id": "slot",
    "teacher_id": "teacher",
    "request_id": "match_request",
    "notification_id": "notification",
    "slug": "my_skill",
}
QUERY_KEYS = {"teacher": "teacher", "skill": "skill"}
BODY_KEYS = {"slot": "open_slot", "booking": "booking", "skill": "skill"}
TIME_PAIRS = (("start", "end"), ("window_start", "window_end"))
_registrations = itertools.count(1)


def _seed(value) -> int:
    """A number drawn from a generated value, so a derandomized run steers the same way."""
    return sum(map(ord, repr(value)))


def _steer_values(container: dict, keys: dict[str, str]) -> None:
    """Half of the values become existing ids or slugs."""
    for name, kind in keys.items():
        if name in container and REAL.get(kind) and _seed(container[name]) % 2 == 0:
            chosen = REAL[kind][_seed(container[name]) // 2 % len(REAL[kind])]
            container[name] = str(chosen) if isinstance(container[name], str) else chosen


def _steer_times(body: dict) -> None:
    """Half of the time ranges become a near-future hour (slots, match windows): random
    dates are nearly always refused as past or beyond the horizon."""
    for start, end in TIME_PAIRS:
        if start in body and end in body and _seed(body[start]) % 2 == 0:
            hours = 30 + _seed(body[start]) % 24 * 7
            begin = timezone.now().replace(minute=0, second=0, microsecond=0)
            begin += timedelta(hours=hours)
            body[start] = begin.isoformat()
            body[end] = (begin + timedelta(minutes=30 * (1 + _seed(body[end]) % 4))).isoformat()


def _steer_registration(body: dict) -> None:
    """Half of the registrations are plausible: random passwords and names rarely pass."""
    if {"username", "email", "password"} <= set(body) and _seed(body["username"]) % 2 == 0:
        n = next(_registrations)
        body.update(username=f"fuzz{n}", email=f"fuzz{n}@example.test", password=PASSWORD)
        body.pop("timezone", None)


def steer(case) -> None:
    """Point a valid case (never an invalid one: it must stay invalid) at real rows."""
    if case.meta is None or case.meta.generation.mode != GenerationMode.POSITIVE:
        return
    if case.path_parameters:
        _steer_values(case.path_parameters, PATH_KEYS)
    if case.query:
        _steer_values(case.query, QUERY_KEYS)
    if isinstance(case.body, dict):
        _steer_values(case.body, BODY_KEYS)
        _steer_times(case.body)
        _steer_registration(case.body)


# --- The checks -------------------------------------------------------------------------


def error_body_shape(ctx, response, case):
    """A 4xx answer is ``{"code": str, "detail": str[, "fields": {str: [str]}]}``."""
    if not 400 <= response.status_code < 500:
        return None
    body = response.json()
    assert isinstance(body, dict), f"error body is not an object: {body!r}"
    assert set(body) <= {"code", "detail", "fields"}, f"unexpected keys: {sorted(body)}"
    assert isinstance(body.get("code"), str) and body["code"], f"no code: {body!r}"
    assert isinstance(body.get("detail"), str) and body["detail"], f"no detail: {body!r}"
    if "fields" in body:
        fields = body["fields"]
        assert isinstance(fields, dict) and all(
            isinstance(messages, list) and all(isinstance(m, str) for m in messages)
            for messages in fields.values()
        ), f"fields is not {{name: [message]}}: {fields!r}"
    return True


CHECKS_RUN = [
    CHECKS.get_one(name)
    for name in (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
        "negative_data_rejection",
    )
] + [error_body_shape]


# --- The world the fuzzer acts in -------------------------------------------------------


@pytest.fixture
def wsgi_app():
    """Django's WSGI application, sharing this test's database transaction: like Django's
    test client, requests must not close the connection between them."""
    from django.core.wsgi import get_wsgi_application

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)


@pytest.fixture
def fake_gemini(settings):
    """The assistant configured against the fake Gemini server, so questions get answers."""
    with FakeGemini() as gemini:
        settings.GEMINI_API_KEY = "test-key"
        settings.GEMINI_BASE_URL = gemini.url
        settings.GEMINI_TIMEOUT_SECONDS = 2.0
        yield gemini


@pytest.fixture
def world(db, settings, fake_gemini):
    """The fuzzing user (learner and teacher, premium, credits) and rows around them; its
    request headers (a JWT). Fills ``REAL``."""
    from accounts.models import Notification, Skill
    from accounts.services import notification_send, subscription_upgrade, teacher_skill_add
    from meetings.models import ChatMessage
    from scheduling.services.bookings import booking_request
    from scheduling.services.matching import match_request
    from scheduling.transitions import booking_accept, booking_complete, booking_join

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    me = make_user(username="fuzzer", role="both")
    subscription_upgrade(user=me)
    give_credits(me, 100_000)
    for name in ("Python", "Go"):
        teacher_skill_add(teacher=me, skill_name_or_slug=name, level="expert")
    peer = make_teacher_with_skills("Python", "Rust", username="peer-teacher")
    learner = make_learner(username="peer-learner")
    give_credits(learner, 10_000)
    now = timezone.now()

    open_slots = [make_slot(peer, start=in_future(days=day)) for day in range(2, 8)]
    my_slots = [make_slot(me, start=in_future(days=day, hours=3)) for day in range(2, 5)]
    # Sessions: me as learner (requested, scheduled, completed) and as teacher (requested).
    requested = booking_request(learner=me, slot_id=open_slots[0].pk)
    scheduled = booking_request(learner=me, slot_id=open_slots[1].pk)
    booking_accept(booking_id=scheduled.pk, teacher=peer)
    past_start = now.replace(second=0, microsecond=0) - timedelta(hours=3)
    past_slot = make_slot(peer, start=past_start, now=past_start - timedelta(hours=1))
    done = booking_request(learner=me, slot_id=past_slot.pk, now=past_start - timedelta(minutes=30))
    booking_accept(booking_id=done.pk, teacher=peer, now=past_start - timedelta(minutes=20))
    booking_join(booking_id=done.pk, user=me, now=past_start)
    booking_join(booking_id=done.pk, user=peer, now=past_start)
    booking_complete(booking_id=done.pk, user=me, now=past_start + timedelta(minutes=50))
    ChatMessage.objects.create(booking_id=done.pk, sender=peer, text="hello", sent_at=past_start)
    taught = booking_request(learner=learner, slot_id=my_slots[0].pk)
    make_skill("Haskell")
    _, pending = match_request(
        learner=me,
        skill_slug="haskell",
        window_start=now + timedelta(days=1),
        window_end=now + timedelta(days=3),
    )
    notification_send(user=me, kind="test", title="Hello", body="A notification", url="/")

    REAL.clear()
    REAL.update(
        booking=[requested.pk, scheduled.pk, done.pk, taught.pk],
        slot=[s.pk for s in my_slots] + [open_slots[2].pk],
        open_slot=[s.pk for s in open_slots[2:]],
        teacher=[peer.pk, me.pk],
        match_request=[pending.pk],
        notification=list(Notification.objects.filter(user=me).values_list("pk", flat=True)),
        my_skill=["python", "go"],
        skill=list(Skill.objects.values_list("slug", flat=True)),
    )
    yield {"Authorization": f"Bearer {access_token_for(me)}"}
    REAL.clear()


@pytest.mark.django_db
@schema.parametrize()
@settings(
    deadline=DEADLINE,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
def test_every_operation_answers_as_its_schema_says(case, world, wsgi_app):
    steer(case)
    case.call_and_validate(app=wsgi_app, headers=world, checks=CHECKS_RUN)
