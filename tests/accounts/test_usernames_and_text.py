"""Usernames: a strict charset, NFKC, unique regardless of case and of look-alike letters
(in the database too); bios and skills refuse control and bidi-override characters."""

import pytest
from django.db import IntegrityError, transaction

from accounts.models import User
from accounts.usernames import username_skeleton
from tests.factories import PASSWORD, make_learner, make_teacher

pytestmark = pytest.mark.django_db

CYRILLIC_A = "\u0430"


def register(client, username: str, email: str | None = None):
    return client.post(
        "/api/auth/register/",
        {
            "username": username,
            "email": email or "someone@example.test",
            "password": PASSWORD,
            "role": "learner",
        },
        format="json",
    )


@pytest.mark.parametrize(
    "username", ["ada lovelace", "ada@home", "ada+1", "<b>", "ada\u202e", "ada\x07", "a/b", "ada!"]
)
def test_usernames_outside_the_charset_are_refused(api_client, username):
    response = register(api_client, username)
    assert response.status_code == 400, response.content
    assert response.json()["fields"]["username"] == [
        "Use letters, digits, dots, underscores and hyphens only (no spaces)."
    ]
    assert not User.objects.exists()


@pytest.mark.parametrize("username", ["ada", "Ada.Lovelace_1815-x", "José", "Пётр", "李小龍"])
def test_letters_of_any_script_digits_dot_underscore_hyphen_are_accepted(api_client, username):
    response = register(api_client, username)
    assert response.status_code == 201, response.content
    assert response.json()["username"] == username


def test_usernames_are_stored_nfkc_normalised(api_client):
    response = register(api_client, "\uff41\uff44\uff41")  # fullwidth "ada"
    assert response.status_code == 201, response.content
    assert response.json()["username"] == "ada"
    assert User.objects.get().username == "ada"


def test_case_insensitive_clash_is_refused(api_client):
    make_learner(username="Grace")
    response = register(api_client, "gRACE")
    assert response.status_code == 400
    assert response.json()["fields"]["username"] == ["That username is taken."]


def test_cyrillic_look_alike_of_an_existing_name_is_refused(api_client):
    make_learner(username="paul")
    response = register(api_client, f"p{CYRILLIC_A}ul")
    assert response.status_code == 400, response.content
    assert "looks too much like an existing one" in response.json()["fields"]["username"][0]
    assert User.objects.count() == 1


def test_look_alikes_clash_whichever_came_first(api_client):
    assert register(api_client, f"p{CYRILLIC_A}ul", "paul@example.test").status_code == 201
    assert register(api_client, "PAUL").status_code == 400
    assert register(api_client, "pau1").status_code == 400  # digit one for the letter l


def test_the_database_refuses_a_confusable_or_case_variant_name(learner):
    for name in (learner.username.upper(), learner.username.replace("u", "\u057d")):
        with pytest.raises(IntegrityError), transaction.atomic():
            User.objects.create(username=name, email="x@example.test")


def test_skeleton_follows_a_rename(learner):
    learner.username = "renamed"
    learner.save(update_fields=["username"])
    learner.refresh_from_db()
    assert learner.username_skeleton == username_skeleton("renamed") == "renamed"


def test_registration_page_refuses_a_look_alike_beside_the_field(client):
    make_learner(username="maya")
    response = client.post(
        "/accounts/register/",
        {
            "username": f"m{CYRILLIC_A}y{CYRILLIC_A}",
            "email": "m@example.test",
            "password1": PASSWORD,
            "password2": PASSWORD,
            "role": "learner",
            "timezone": "UTC",
        },
    )
    assert response.status_code == 200
    assert response.context["form"].errors["username"][0].startswith("That username looks")


@pytest.mark.parametrize("bad", ["evil\u202etxt.exe", "a\u2066b\u2069", "nul\x00here", "bell\x07"])
def test_bio_with_bidi_override_or_control_characters_is_refused(auth_client, learner, bad):
    response = auth_client.patch("/api/me/", {"bio": bad}, format="json")
    assert response.status_code == 400, response.content
    assert "bio" in response.json()["fields"]
    learner.refresh_from_db()
    assert learner.bio == ""


def test_bio_keeps_line_breaks_and_right_to_left_text(auth_client):
    bio = "שלום\u200f world\nsecond line"
    response = auth_client.patch("/api/me/", {"bio": bio}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["bio"] == bio


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"skill": "Py\u202ethon"}, "skill"),
        ({"skill": "Py\x1bthon"}, "skill"),
        ({"skill": "Python", "blurb": "good \u202e teacher"}, "blurb"),
        ({"skill": "Python", "blurb": "line\nbreak"}, "blurb"),
    ],
)
def test_skill_names_and_blurbs_refuse_bidi_and_control_characters(payload, field):
    from tests.conftest import client_for

    teacher = make_teacher()
    response = client_for(teacher).post("/api/me/skills/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]
    assert not teacher.teacher_skills.exists()


def test_model_validation_used_by_admin_forms_refuses_bad_and_look_alike_names():
    from django.core.exceptions import ValidationError

    make_learner(username="maria")
    for name in ("has space", f"mari{CYRILLIC_A}", "MARIA"):
        candidate = User(username=name, email="x@example.test", password="x")
        with pytest.raises(ValidationError) as refused:
            candidate.full_clean()
        assert "username" in refused.value.message_dict, name
    User(username="maria2", email="x@example.test", password="x").full_clean()
