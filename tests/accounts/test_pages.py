"""The account pages through Django's test client (the browser tests cover the JS)."""

import pytest
from django.urls import reverse

from accounts.models import User
from tests.factories import PASSWORD, make_learner, make_teacher

pytestmark = pytest.mark.django_db


def register_form(**overrides):
    data = {
        "username": "linus",
        "email": "linus@example.test",
        "password1": "kernel-Hacker-1991",
        "password2": "kernel-Hacker-1991",
        "role": "both",
        "timezone": "Europe/Helsinki",
    }
    data.update(overrides)
    return data


def test_register_page_creates_account_logs_in_and_lands_on_dashboard(client):
    response = client.post(reverse("accounts:register"), register_form(), follow=True)
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    assert b"Welcome to SkillLink, linus!" in response.content
    user = User.objects.get(username="linus")
    assert (user.is_learner, user.is_teacher, user.timezone) == (True, True, "Europe/Helsinki")
    assert response.context["user"] == user


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"password2": "different-Pass-1"}, b"The two passwords differ."),
        ({"password1": "123", "password2": "123"}, b"This password is too short."),
        ({"timezone": "Nowhere/City"}, b"Select a valid choice."),
        ({"role": "king"}, b"Select a valid choice."),
    ],
)
def test_register_page_shows_errors_and_creates_nothing(client, overrides, message):
    response = client.post(reverse("accounts:register"), register_form(**overrides))
    assert response.status_code == 200
    assert message in response.content
    assert not User.objects.filter(username="linus").exists()


def test_register_page_refuses_taken_username_case_insensitively(client):
    make_learner(username="Linus")
    response = client.post(reverse("accounts:register"), register_form())
    assert b"That username is taken." in response.content
    assert User.objects.filter(username__iexact="linus").count() == 1


def test_login_and_logout(client):
    user = make_teacher(username="ada")
    response = client.post(
        reverse("accounts:login"), {"username": "ada", "password": PASSWORD}, follow=True
    )
    assert response.context["user"] == user
    assert response.redirect_chain[-1][0] == reverse("dashboard")
    response = client.post(reverse("accounts:logout"), follow=True)
    assert not response.context["user"].is_authenticated


def test_login_form_is_rate_limited(client, settings):
    settings.LOGIN_RATE_LIMIT = "2/900"
    make_learner(username="bob")
    for _ in range(2):
        client.post(reverse("accounts:login"), {"username": "bob", "password": "wrong"})
    response = client.post(reverse("accounts:login"), {"username": "bob", "password": PASSWORD})
    assert b"Too many failed logins" in response.content
    assert not response.context["user"].is_authenticated


def test_pages_need_login(client):
    for name in ["dashboard", "accounts:profile", "accounts:notifications"]:
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))


def test_profile_update_and_refusal(client):
    user = make_learner()
    client.force_login(user)
    data = {
        "email": user.email,
        "role": "teacher",
        "timezone": "Asia/Kolkata",
        "theme": "dark",
        "bio": "I teach tabla.",
    }
    response = client.post(reverse("accounts:profile"), data, follow=True)
    assert b"Your profile is saved." in response.content
    user.refresh_from_db()
    assert (user.role, user.timezone, user.theme, user.bio) == (
        "teacher",
        "Asia/Kolkata",
        "dark",
        "I teach tabla.",
    )
    response = client.post(reverse("accounts:profile"), {**data, "bio": "RTL \u202etrick"})
    assert b"Remove the invisible text-direction characters" in response.content
    user.refresh_from_db()
    assert user.bio == "I teach tabla."


def test_theme_is_rendered_by_the_server_so_there_is_no_flash(client):
    user = make_learner(theme="dark")
    client.force_login(user)
    assert b'<html lang="en" data-theme="dark">' in client.get(reverse("dashboard")).content


def test_anonymous_theme_comes_from_the_cookie(client):
    client.cookies["theme"] = "light"
    assert b'data-theme="light"' in client.get("/").content
    client.cookies["theme"] = "<script>"
    assert b'data-theme="system"' in client.get("/").content


def test_dashboard_shows_times_in_viewer_timezone(client):
    from accounts.services import notification_send

    user = make_learner(timezone_name="Asia/Tokyo")
    note = notification_send(user=user, kind="t", title="Hello")
    client.force_login(user)
    content = client.get(reverse("dashboard")).content.decode()
    assert "Hello" in content
    assert (
        note.created_at.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Tokyo")).isoformat()[:19]
        in content
    )


def test_dashboard_empty_states(client):
    user = make_teacher()
    client.force_login(user)
    content = client.get(reverse("dashboard")).content
    assert b"Nothing yet." in content
    assert b"No skills listed yet." in content
    assert b"Add a short bio." in content


def test_home_redirects_signed_in_users_to_dashboard(client):
    client.force_login(make_learner())
    assert client.get("/")["Location"] == reverse("dashboard")


def test_unknown_page_is_a_friendly_404(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert b"Page not found" in response.content
