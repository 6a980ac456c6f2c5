"""Who may do what, for every URL pattern of the project (issue 14): the API, the pages,
the iCal feed, the admin and the WebSocket routes, each asked by five people:

- ``owner``: the learner of a scheduled session (its room is open), who also owns a
  pending match request, a notification and the calendar feed;
- ``other``: that session's teacher, who owns an open slot and teaches ``python``;
- ``stranger``: a learner and teacher with nothing to do with them;
- ``anonymous``: nobody signed in;
- ``staff``: a superuser (a learner) who takes no part in the session.

The table below says, per URL pattern name (the route for unnamed ones) and per method,
the status each of them gets, in that order: ``row(owner, other, stranger, anonymous,
staff)``. A cell is a status code, ``LOGIN`` (a redirect to the sign-in page), ``ADMIN``
(a redirect to the admin's sign-in page), ``REFUSED`` (a page refusing with a message and a
redirect), ``ANY_REDIRECT``, or None (not asked). Writes are sent with a body that would be
accepted from the right person, so a refusal is about access, not input. Every request
runs in a transaction rolled back afterwards, so each starts from the same data; a refused
request (4xx, ``LOGIN``, ``ADMIN``, ``REFUSED``) must have changed no row; and every API
answer must be one ``docs/openapi.yaml`` declares for the operation.

A URL pattern without an entry fails ``test_every_url_pattern_has_an_entry``, naming it,
so an endpoint cannot ship without saying who may use it. Adding one is a line:

    Entry("api-teacher-search", "/api/teachers/search/", get=row(200, 200, 200, 200, 200)),

(path placeholders: ``{booking}``, ``{slot}``, ``{teacher}``, ``{match}``,
``{notification}``, ``{skill}``, ``{token}``; ``data=`` gives write bodies per method). A
model registered in the admin is one line in ``ADMIN_MODELS``; a WebSocket route is one
line in ``SOCKETS``.
"""

import functools
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from tests.conftest import access_token_for, scheduled_booking
from tests.factories import give_credits, make_learner, make_slot, make_staff, make_user

ROLES = ("owner", "other", "stranger", "anonymous", "staff")
LOGIN = "login"
ADMIN = "admin-login"
ANY_REDIRECT = "redirect"
REFUSED = "redirect, nothing changed"  # a page refusing with a message
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def row(owner, other, stranger, anonymous, staff) -> dict:
    return dict(zip(ROLES, (owner, other, stranger, anonymous, staff), strict=True))


@dataclass
class Entry:
    name: str
    path: str
    get: dict | None = None
    post: dict | None = None
    patch: dict | None = None
    delete: dict | None = None
    data: dict = field(default_factory=dict)  # method -> body

    def methods(self):
        for method in ("get", "post", "patch", "delete"):
            if getattr(self, method) is not None:
                yield method.upper(), getattr(self, method)


# API: signed-in people send a JWT; strangers and staff get 404 for others' objects.
API = [
    Entry("api-me", "/api/me/", get=row(200, 200, 200, 401, 200),
          patch=row(200, 200, 200, 401, 200), data={"PATCH": {"theme": "dark"}}),
    Entry("api-register", "/api/auth/register/", post=row(201, 201, 201, 201, 201),
          data={"POST": {"username": "newcomer", "email": "new@example.test",
                         "password": "a-Long-test-passphrase-42", "role": "learner"}}),
    Entry("api-token", "/api/auth/token/", post=row(401, 401, 401, 401, 401),
          data={"POST": {"username": "nobody", "password": "wrong-password-1"}}),
    Entry("api-token-refresh", "/api/auth/token/refresh/", post=row(401, 401, 401, 401, 401),
          data={"POST": {"refresh": "not-a-token"}}),
    Entry("api-logout", "/api/auth/logout/", post=row(401, 401, 401, 401, 401),
          data={"POST": {"refresh": "not-a-token"}}),
    Entry("api-verify-email", "/api/auth/verify-email/", post=row(400, 400, 400, 400, 400),
          data={"POST": {"token": "not-a-token"}}),
    Entry("api-verify-email-send", "/api/me/verify-email/", post=row(202, 202, 202, 401, 202)),
    Entry("api-skills", "/api/skills/", get=row(200, 200, 200, 200, 200)),
    Entry("api-my-skills", "/api/me/skills/", get=row(200, 200, 200, 401, 200),
          post=row(403, 201, 201, 401, 403), data={"POST": {"skill": "Go"}}),
    Entry("api-my-skill", "/api/me/skills/{skill}/", delete=row(403, 204, 404, 401, 403)),
    Entry("api-notifications", "/api/notifications/", get=row(200, 200, 200, 401, 200)),
    Entry("api-notifications-unread-count", "/api/notifications/unread-count/",
          get=row(200, 200, 200, 401, 200)),
    Entry("api-notification-read", "/api/notifications/{notification}/read/",
          post=row(200, 404, 404, 401, 404)),
    Entry("api-notifications-read-all", "/api/notifications/read-all/",
          post=row(200, 200, 200, 401, 200)),
    # Open slots are public (a signed-out visitor's profile calendar reads them).
    Entry("api-slots", "/api/slots/", get=row(200, 200, 200, 200, 200),
          post=row(403, 201, 201, 401, 403), data={"POST": "new_slot"}),
    Entry("api-slot", "/api/slots/{slot}/", patch=row(403, 200, 404, 401, 403),
          delete=row(403, 204, 404, 401, 403), data={"PATCH": {"skill": ""}}),
    Entry("api-teachers", "/api/teachers/", get=row(200, 200, 200, 200, 200)),
    Entry("api-teacher", "/api/teachers/{teacher}/", get=row(200, 200, 200, 200, 200)),
    Entry("api-bookings", "/api/bookings/", get=row(200, 200, 200, 401, 200),
          post=row(201, 403, 201, 401, 201), data={"POST": {"slot": "{slot}"}}),
    Entry("api-booking", "/api/bookings/{booking}/", get=row(200, 200, 404, 401, 404)),
    Entry("api-booking-accept", "/api/bookings/{booking}/accept/",
          post=row(403, 409, 404, 401, 404)),
    Entry("api-booking-decline", "/api/bookings/{booking}/decline/",
          post=row(403, 409, 404, 401, 404)),
    Entry("api-booking-cancel", "/api/bookings/{booking}/cancel/",
          post=row(200, 200, 404, 401, 404)),
    Entry("api-booking-join", "/api/bookings/{booking}/join/",
          post=row(200, 200, 404, 401, 404)),
    Entry("api-booking-complete", "/api/bookings/{booking}/complete/",
          post=row(409, 409, 404, 401, 404)),
    Entry("api-booking-rating", "/api/bookings/{booking}/rating/",
          post=row(409, 403, 404, 401, 404), data={"POST": {"stars": 5}}),
    Entry("api-booking-reschedule", "/api/bookings/{booking}/reschedule/",
          post=row(201, 403, 404, 401, 404), delete=row(409, 403, 404, 401, 404),
          data={"POST": {"slot": "{slot}"}}),
    Entry("api-booking-reschedule-accept", "/api/bookings/{booking}/reschedule/accept/",
          post=row(403, 409, 404, 401, 404)),
    Entry("api-booking-reschedule-decline", "/api/bookings/{booking}/reschedule/decline/",
          post=row(403, 409, 404, 401, 404)),
    Entry("api-booking-messages", "/api/bookings/{booking}/messages/",
          get=row(200, 200, 404, 401, 404)),
    Entry("api-subscription", "/api/subscription/", get=row(200, 200, 200, 401, 200)),
    Entry("api-subscription-upgrade", "/api/subscription/upgrade/",
          post=row(200, 200, 200, 401, 200)),
    Entry("api-match", "/api/match/", get=row(200, 200, 200, 401, 200),
          post=row(202, 403, 202, 401, 202), data={"POST": "match_window"}),
    Entry("api-match-propose", "/api/match/propose/", post=row(200, 403, 200, 401, 200),
          data={"POST": "match_window"}),
    Entry("api-match-detail", "/api/match/{match}/", delete=row(200, 404, 404, 401, 404)),
    Entry("api-credits", "/api/credits/", get=row(200, 200, 200, 401, 200)),
    Entry("api-assistant", "/api/assistant/", get=row(200, 200, 200, 401, 200)),
    Entry("api-assistant-ask", "/api/assistant/ask/", post=row(503, 503, 503, 401, 503),
          data={"POST": {"prompt": "What is a monad?"}}),
    Entry("api-schema", "/api/schema/", get=row(200, 200, 200, 200, 200)),
    Entry("api-docs", "/api/docs/", get=row(200, 200, 200, 200, 200)),
]  # fmt: skip

# Pages: signed-in people use the session cookie; nobody signed in is sent to sign in.
PAGES = [
    Entry("home", "/", get=row(ANY_REDIRECT, ANY_REDIRECT, ANY_REDIRECT, 200, ANY_REDIRECT)),
    Entry("health", "/healthz/", get=row(200, 200, 200, 200, 200)),
    # Uploaded photos (served by the app only with DEBUG; nginx serves them in production).
    Entry("^media/(?P<path>.*)$", "/media/photos/none.jpg", get=row(404, 404, 404, 404, 404)),
    Entry("dashboard", "/dashboard/", get=row(200, 200, 200, LOGIN, 200)),
    Entry("session_detail", "/sessions/{booking}/", get=row(200, 200, 404, LOGIN, 404)),
    Entry("accounts:register", "/accounts/register/",
          get=row(ANY_REDIRECT, ANY_REDIRECT, ANY_REDIRECT, 200, ANY_REDIRECT)),
    Entry("accounts:login", "/accounts/login/",
          get=row(ANY_REDIRECT, ANY_REDIRECT, ANY_REDIRECT, 200, ANY_REDIRECT)),
    Entry("accounts:logout", "/accounts/logout/", get=row(405, 405, 405, 405, 405),
          post=row(ANY_REDIRECT, ANY_REDIRECT, ANY_REDIRECT, ANY_REDIRECT, ANY_REDIRECT)),
    Entry("accounts:profile", "/accounts/profile/", get=row(200, 200, 200, LOGIN, 200)),
    Entry("accounts:skill_add", "/accounts/skills/add/", get=row(405, 405, 405, LOGIN, 405),
          post=row(REFUSED, ANY_REDIRECT, ANY_REDIRECT, LOGIN, REFUSED),
          data={"POST": {"skill": "Go"}}),
    Entry("accounts:skill_remove", "/accounts/skills/{skill}/remove/",
          post=row(REFUSED, ANY_REDIRECT, REFUSED, LOGIN, REFUSED)),
    Entry("accounts:password_change", "/accounts/password/", get=row(200, 200, 200, LOGIN, 200)),
    Entry("accounts:password_changed", "/accounts/password/done/",
          get=row(200, 200, 200, LOGIN, 200)),
    Entry("accounts:notifications", "/notifications/", get=row(200, 200, 200, LOGIN, 200)),
    Entry("accounts:notifications_read_all", "/notifications/read-all/",
          post=row(ANY_REDIRECT, ANY_REDIRECT, ANY_REDIRECT, LOGIN, ANY_REDIRECT)),
    Entry("meetings:room", "/sessions/{booking}/room/", get=row(200, 200, 404, LOGIN, 404)),
    Entry("scheduling:availability", "/availability/", get=row(403, 200, 200, LOGIN, 403)),
    # The directory is public; a profile's URL is its username, an old id URL redirects.
    Entry("scheduling:teacher_list", "/teachers/", get=row(200, 200, 200, 200, 200)),
    Entry("scheduling:teacher_detail", "/teachers/{teacher_name}/",
          get=row(200, 200, 200, 200, 200)),
    Entry("scheduling:teacher_detail", "/teachers/{teacher}/",
          get=row(ANY_REDIRECT, ANY_REDIRECT, ANY_REDIRECT, ANY_REDIRECT, ANY_REDIRECT)),
    Entry("scheduling:teacher_ask", "/teachers/{teacher_name}/ask/",
          get=row(405, 405, 405, LOGIN, 405),
          post=row(ANY_REDIRECT, REFUSED, ANY_REDIRECT, LOGIN, ANY_REDIRECT),
          data={"POST": {"body": "Do you teach decorators?"}}),
    Entry("accounts:question_detail", "/questions/{question}/",
          get=row(404, 200, 200, LOGIN, 404)),
    Entry("scheduling:calendar_feed", "/calendar/{token}.ics", get=row(200, 200, 200, 200, 200)),
    Entry("scheduling:calendar_feed_reset", "/calendar/reset/", get=row(405, 405, 405, LOGIN, 405),
          post=row(ANY_REDIRECT, ANY_REDIRECT, ANY_REDIRECT, LOGIN, ANY_REDIRECT)),
    Entry("scheduling:book", "/book/{slot}/", get=row(200, 200, 200, 200, 200)),
    Entry("scheduling:session_list", "/sessions/", get=row(200, 200, 200, LOGIN, 200)),
    Entry("scheduling:session_rate", "/sessions/{booking}/rate/",
          post=row(ANY_REDIRECT, ANY_REDIRECT, 404, LOGIN, 404), data={"POST": {"stars": 5}}),
    Entry("scheduling:session_action", "/sessions/{booking}/cancel/",
          get=row(405, 405, 405, LOGIN, 405),
          post=row(ANY_REDIRECT, ANY_REDIRECT, 404, LOGIN, 404)),
    Entry("scheduling:session_reschedule", "/sessions/{booking}/reschedule/",
          get=row(405, 405, 405, LOGIN, 405),
          post=row(ANY_REDIRECT, REFUSED, 404, LOGIN, 404), data={"POST": {"slot": "{slot}"}}),
    Entry("scheduling:upgrade", "/upgrade/", get=row(200, 200, 200, LOGIN, 200)),
    Entry("scheduling:upgrade_confirm", "/upgrade/confirm/", get=row(200, 200, 200, LOGIN, 200),
          post=row(ANY_REDIRECT, ANY_REDIRECT, ANY_REDIRECT, LOGIN, ANY_REDIRECT)),
    Entry("scheduling:match", "/match/", get=row(200, 200, 200, LOGIN, 200)),
    Entry("scheduling:match_confirm", "/match/confirm/", get=row(405, 405, 405, LOGIN, 405),
          post=row(REFUSED, REFUSED, REFUSED, LOGIN, REFUSED)),
    Entry("accounts:email_verify", "/accounts/email/verify/not-a-token/",
          get=row(400, 400, 400, 400, 400)),
    Entry("accounts:email_verify_send", "/accounts/email/verify-send/",
          get=row(405, 405, 405, LOGIN, 405),
          post=row(ANY_REDIRECT, ANY_REDIRECT, ANY_REDIRECT, LOGIN, ANY_REDIRECT)),
    Entry("accounts:photo_upload", "/accounts/photo/", get=row(405, 405, 405, LOGIN, 405),
          post=row(REFUSED, REFUSED, REFUSED, LOGIN, REFUSED)),
    Entry("scheduling:match_cancel", "/match/{match}/cancel/",
          post=row(ANY_REDIRECT, 404, 404, LOGIN, 404)),
    Entry("credits:overview", "/credits/", get=row(200, 200, 200, LOGIN, 200)),
    Entry("assistant:page", "/assistant/", get=row(200, 200, 200, LOGIN, 200)),
]  # fmt: skip

# The admin site: its own pages, and per registered model the five pages Django makes.
ADMIN_PAGES = [
    Entry("admin:index", "/admin/", get=row(ADMIN, ADMIN, ADMIN, ADMIN, 200)),
    Entry("admin:app_list", "/admin/accounts/", get=row(ADMIN, ADMIN, ADMIN, ADMIN, 200)),
    Entry("admin/(?P<url>.*)$", "/admin/nothing-here/", get=row(ADMIN, ADMIN, ADMIN, ADMIN, 404)),
    Entry("admin:login", "/admin/login/", get=row(200, 200, 200, 200, ANY_REDIRECT)),
    Entry("admin:logout", "/admin/logout/",
          get=row(ANY_REDIRECT, ANY_REDIRECT, ANY_REDIRECT, ANY_REDIRECT, 405)),
    Entry("admin:password_change", "/admin/password_change/",
          get=row(ADMIN, ADMIN, ADMIN, ADMIN, 200)),
    Entry("admin:password_change_done", "/admin/password_change/done/",
          get=row(ADMIN, ADMIN, ADMIN, ADMIN, 200)),
    Entry("admin:autocomplete", "/admin/autocomplete/", get=row(ADMIN, ADMIN, ADMIN, ADMIN, 403)),
    Entry("admin:jsi18n", "/admin/jsi18n/", get=row(ADMIN, ADMIN, ADMIN, ADMIN, 200)),
    Entry("admin:view_on_site", "/admin/r/1/1/", get=row(ADMIN, ADMIN, ADMIN, ADMIN, 404)),
    Entry("admin:auth_user_password_change", "/admin/accounts/user/{staff_id}/password/",
          get=row(ADMIN, ADMIN, ADMIN, ADMIN, 200)),
]  # fmt: skip

# (app, model, status staff gets on the add page, on an object's delete page).
ADMIN_MODELS = [
    ("auth", "group", 200, 200),
    ("accounts", "user", 200, 200),
    ("accounts", "skill", 200, 200),
    ("accounts", "teacherskill", 200, 200),
    ("accounts", "notification", 200, 200),
    ("scheduling", "availabilityslot", 200, 200),
    ("scheduling", "booking", 200, 200),
    ("scheduling", "matchrequest", 200, 200),
    ("scheduling", "bookingevent", 200, 200),
    ("scheduling", "calendarfeed", 403, 200),
    ("scheduling", "roomvisit", 200, 200),
    ("meetings", "chatmessage", 200, 200),
    ("credits", "rating", 200, 200),
    ("credits", "teacherrating", 403, 200),
    ("credits", "account", 403, 403),
    ("credits", "transfer", 403, 403),
    ("credits", "ledgerentry", 403, 403),
    ("credits", "hold", 403, 403),
    ("accounts", "teacherquestion", 200, 200),
    ("scheduling", "reschedulerequest", 403, 403),
    ("token_blacklist", "outstandingtoken", 403, 403),
    ("token_blacklist", "blacklistedtoken", 200, 200),
    ("assistant", "exchange", 200, 200),
    ("assistant", "sessionrecap", 200, 200),
]


def admin_model_entries(app: str, model: str, add: int, delete: int) -> list[Entry]:
    base = f"/admin/{app}/{model}/"
    staff_only = row(ADMIN, ADMIN, ADMIN, ADMIN, 200)

    def staff(code):
        return row(ADMIN, ADMIN, ADMIN, ADMIN, code)

    obj = f"{base}{{{app}_{model}}}/"
    return [
        Entry(f"admin:{app}_{model}_changelist", base, get=staff_only),
        Entry(f"admin:{app}_{model}_add", f"{base}add/", get=staff(add)),
        Entry(f"admin:{app}_{model}_change", f"{obj}change/", get=staff_only),
        Entry(f"admin:{app}_{model}_history", f"{obj}history/", get=staff_only),
        Entry(f"admin:{app}_{model}_delete", f"{obj}delete/", get=staff(delete),
              post=row(ADMIN, ADMIN, ADMIN, ADMIN, None), data={"POST": {"post": "yes"}}),
        # The bare object URL redirects to its change page.
        Entry(f"admin/{app}/{model}/<path:object_id>/", obj, get=staff(ANY_REDIRECT)),
    ]  # fmt: skip


TABLE = API + PAGES + ADMIN_PAGES + [e for spec in ADMIN_MODELS for e in admin_model_entries(*spec)]


# --- Walking the URL patterns ---------------------------------------------------------


def url_pattern_keys(resolver=None, prefix: str = "", namespace: str | None = None) -> set[str]:
    """Every pattern of ``skilllink.urls``: its namespaced name, or its route when unnamed."""
    resolver = resolver or get_resolver()
    keys = set()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = namespace
            if entry.namespace:
                inner = f"{namespace}:{entry.namespace}" if namespace else entry.namespace
            keys |= url_pattern_keys(entry, route, inner)
        elif isinstance(entry, URLPattern):
            if entry.name:
                keys.add(f"{namespace}:{entry.name}" if namespace else entry.name)
            else:
                keys.add(route)
    return keys


DEBUG_ONLY = {"^media/(?P<path>.*)$"}  # static() adds it only with DEBUG on


def test_every_url_pattern_has_an_entry():
    covered = {entry.name for entry in TABLE}
    missing = url_pattern_keys() - covered
    assert not missing, (
        "URL patterns without an access matrix entry (add one to tests/test_access_matrix.py, "
        f"see its docstring): {sorted(missing)}"
    )
    stale = covered - url_pattern_keys() - DEBUG_ONLY
    assert not stale, f"entries for URL patterns that no longer exist: {sorted(stale)}"


# --- The world -------------------------------------------------------------------------


@pytest.fixture
def world(db, settings):
    from django.contrib.auth.models import Group
    from rest_framework_simplejwt.tokens import RefreshToken

    from accounts.models import Notification
    from accounts.services import notification_send, question_ask
    from meetings.models import ChatMessage
    from scheduling.models import RescheduleRequest
    from scheduling.services.calendar_feed import calendar_feed_token
    from scheduling.services.matching import match_request
    from tests.factories import make_skill

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.GEMINI_API_KEY = ""
    booking, learner, teacher = scheduled_booking(starts_in=timedelta(minutes=5))
    stranger = make_user(role="both")
    staff = make_staff()
    for user in (learner, stranger, staff):
        give_credits(user, 1_000)
    slot = make_slot(teacher, start=booking.start + timedelta(days=2))
    make_skill("Haskell")
    _, pending = match_request(
        learner=learner,
        skill_slug="haskell",
        window_start=booking.start + timedelta(days=1),
        window_end=booking.start + timedelta(days=3),
    )
    notification_send(user=learner, kind="test", title="Hello")
    # The stranger's question to the teacher (the owner's would stop the owner asking one).
    question = question_ask(learner=stranger, teacher=teacher, body="Do you teach Go?")
    # A move the teacher declined (one pending would refuse the owner's request below).
    RescheduleRequest.objects.create(
        booking=booking, slot=slot, start=slot.start, end=slot.end, from_start=booking.start,
        from_end=booking.end, status=RescheduleRequest.Status.DECLINED,
    )  # fmt: skip
    # A refresh token of the staff's, then revoked: rows for the blacklist's admin pages.
    RefreshToken.for_user(staff).blacklist()
    ChatMessage.objects.create(booking=booking, sender=learner, text="hi")
    rated_session(learner=learner, teacher=teacher)
    Group.objects.create(name="tutors")
    users = {"owner": learner, "other": teacher, "stranger": stranger, "staff": staff}
    ids = {
        "booking": booking.pk,
        "slot": slot.pk,
        "teacher": teacher.pk,
        "teacher_name": teacher.username,
        "question": question.pk,
        "match": pending.pk,
        "notification": Notification.objects.filter(user=learner).latest("pk").pk,
        "skill": "python",
        "token": calendar_feed_token(user=learner),
        "staff_id": staff.pk,
    }
    for app, model, _, _ in ADMIN_MODELS:
        from django.apps import apps

        first = apps.get_model(app, model).objects.order_by("pk").first()
        ids[f"{app}_{model}"] = first.pk if first else 999_999
    start = booking.start + timedelta(days=4)
    bodies = {
        "new_slot": {"start": start.isoformat(), "end": (start + timedelta(hours=1)).isoformat()},
        "match_window": {
            "skill": "haskell",
            "window_start": (start + timedelta(days=1)).isoformat(),
            "window_end": (start + timedelta(days=2)).isoformat(),
        },
    }
    return users, ids, bodies


def rated_session(*, learner, teacher) -> None:
    """A session of theirs eight days ago (out of the free plan's window): attended, completed,
    rated, with an assistant exchange and a recap, so every admin page has a row to show."""
    from django.utils import timezone

    from assistant.models import Exchange, SessionRecap
    from scheduling.services.bookings import booking_request
    from scheduling.transitions import booking_accept, booking_complete, booking_join, booking_rate

    start = timezone.now().replace(second=0, microsecond=0) - timedelta(days=8)
    then = start - timedelta(hours=1)
    slot = make_slot(teacher, start=start, now=then)
    done = booking_request(learner=learner, slot_id=slot.pk, now=then)
    booking_accept(booking_id=done.pk, teacher=teacher, now=then)
    booking_join(booking_id=done.pk, user=learner, now=start)
    booking_join(booking_id=done.pk, user=teacher, now=start)
    booking_complete(booking_id=done.pk, user=learner, now=start + timedelta(minutes=50))
    booking_rate(booking_id=done.pk, learner=learner, stars=5)
    Exchange.objects.create(
        booking=done,
        asked_by=learner,
        prompt="Why?",
        status="done",
        model="test",
        deadline_at=start,
    )
    SessionRecap.objects.create(booking=done, status="done", markdown="Recap")


def fingerprint() -> list:
    """Every row of the tables a request could change (sessions and visits aside)."""
    from django.apps import apps

    skip = {"sessions.session", "admin.logentry", "contenttypes.contenttype"}
    rows = []
    for model in apps.get_models():
        if model._meta.label_lower in skip:
            continue
        rows.append(list(model.objects.order_by("pk").values_list()))
    return rows


def client_as(role: str, users: dict, *, api: bool):
    if role == "anonymous":
        return APIClient() if api else Client()
    if api:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token_for(users[role])}")
        return client
    client = Client()
    client.force_login(users[role])
    return client


def outcome(response) -> int | str:
    if response.status_code in (301, 302):
        location = response["Location"]
        if location.startswith("/accounts/login/"):
            return LOGIN
        if location.startswith("/admin/login/"):
            return ADMIN
        return ANY_REDIRECT
    return response.status_code


@functools.cache
def openapi_schema():
    import schemathesis

    return schemathesis.openapi.from_path(Path(__file__).parent.parent / "docs" / "openapi.yaml")


def schema_failure(method: str, url: str, response) -> str | None:
    """Why an API answer is not one the OpenAPI schema declares (status, body), or None."""
    import requests
    from schemathesis.core.failures import FailureGroup
    from schemathesis.core.transport import Response

    operation = openapi_schema().find_operation_by_path(method, url)
    if operation is None:
        return None  # the schema's own endpoints
    if operation.responses.find_by_status_code(response.status_code) is None:
        return f"status {response.status_code} is not declared"
    answer = Response(
        status_code=response.status_code,
        headers={name: [value] for name, value in response.headers.items()},
        content=response.content,
        request=requests.Request(method, f"http://localhost{url}").prepare(),
        elapsed=0.0,
        verify=True,
    )
    try:
        operation.validate_response(answer)
    except FailureGroup as failures:
        return "; ".join(sorted({type(f).__name__ for f in failures.exceptions}))
    return None


def test_every_url_pattern_answers_each_person_as_the_table_says(world):
    """The expected status per person, nothing changed by a refusal, and every API answer
    one the OpenAPI schema declares."""
    users, ids, bodies = world
    mismatches, changed, undeclared = [], [], []
    for entry in TABLE:
        url = entry.path.format(**ids)
        api = url.startswith("/api/")
        for method, expected_by_role in entry.methods():
            for role in ROLES:
                expected = expected_by_role[role]
                if expected is None:
                    continue
                body = entry.data.get(method, {})
                if isinstance(body, str):
                    body = bodies[body]
                body = {
                    k: (int(v.format(**ids)) if isinstance(v, str) and "{" in v else v)
                    for k, v in body.items()
                }
                client = client_as(role, users, api=api)
                cache.clear()
                refused = expected in (LOGIN, ADMIN, REFUSED) or (
                    isinstance(expected, int) and expected >= 400
                )
                with transaction.atomic():
                    before = fingerprint() if refused and method in UNSAFE else None
                    send = getattr(client, method.lower())
                    response = send(url, body, format="json") if api else send(url, body)
                    got = outcome(response)
                    if expected == REFUSED and got == ANY_REDIRECT:
                        got = REFUSED
                    if before is not None and fingerprint() != before:
                        changed.append(f"{method} {url} as {role} ({got})")
                    transaction.set_rollback(True)
                if api and (failure := schema_failure(method, url, response)):
                    undeclared.append(f"{method} {url} as {role} ({got}): {failure}")
                if got != expected:
                    mismatches.append(
                        f"{entry.name}: {method} {url} as {role}: expected {expected}, got {got}"
                    )
    assert not mismatches, "\n".join(mismatches)
    assert not changed, "refused requests changed data:\n" + "\n".join(changed)
    assert not undeclared, "answers the OpenAPI schema does not declare:\n" + "\n".join(undeclared)


# --- WebSocket routes ------------------------------------------------------------------

# route -> (path, row of "accepted" or a close code).
ACCEPTED = "accepted"
SOCKETS = {
    "ws/notifications/": ("/ws/notifications/", row(ACCEPTED, ACCEPTED, ACCEPTED, 4401, ACCEPTED)),
    "ws/meetings/<id:booking_id>/": (
        "/ws/meetings/{booking}/",
        row(ACCEPTED, ACCEPTED, 4403, 4401, 4403),
    ),
}


def test_every_socket_route_has_an_entry():
    from skilllink.routing import websocket_urlpatterns

    routes = {str(pattern.pattern) for pattern in websocket_urlpatterns}
    assert routes - set(SOCKETS) == set(), "socket routes without an entry in SOCKETS"
    assert set(SOCKETS) - routes == set(), "SOCKETS names routes that no longer exist"


@pytest.mark.django_db(transaction=True)
async def test_every_socket_route_admits_each_person_as_the_table_says():
    from channels.db import database_sync_to_async
    from channels.testing import WebsocketCommunicator

    from scheduling.models import RoomVisit
    from skilllink.asgi import application

    def build():
        booking, learner, teacher = scheduled_booking(starts_in=timedelta(minutes=5))
        users = {
            "owner": learner,
            "other": teacher,
            "stranger": make_learner(),
            "staff": make_staff(),
        }
        tokens = {role: access_token_for(user) for role, user in users.items()}
        return booking, users, tokens

    booking, _users, tokens = await database_sync_to_async(build)()
    mismatches = []
    for route, (path, expected_by_role) in SOCKETS.items():
        url = path.format(booking=booking.pk)
        for role in ROLES:
            expected = expected_by_role[role]
            query = "" if role == "anonymous" else f"?token={tokens[role]}"
            visits_before = await database_sync_to_async(RoomVisit.objects.count)()
            socket = WebsocketCommunicator(application, url + query)
            connected, _ = await socket.connect()
            assert connected, (route, role)  # consumers accept, then close with a code
            output = await socket.receive_output(timeout=2)
            got = output["code"] if output["type"] == "websocket.close" else ACCEPTED
            await socket.disconnect()
            if got != expected:
                mismatches.append(f"{route} as {role}: expected {expected}, got {got}")
            if got != ACCEPTED:
                visits_after = await database_sync_to_async(RoomVisit.objects.count)()
                if visits_after != visits_before:
                    mismatches.append(f"{route} as {role}: a refused socket recorded a visit")
    assert not mismatches, "\n".join(mismatches)
