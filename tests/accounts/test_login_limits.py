"""Login limits count failures only, per account and address, and per address; a flood
against one account slows strangers but never locks its owner out."""

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from tests.factories import PASSWORD, make_learner

pytestmark = pytest.mark.django_db

WRONG = "not-the-password"


def token(username: str, password: str, address: str):
    return APIClient(REMOTE_ADDR=address).post(
        "/api/auth/token/", {"username": username, "password": password}, format="json"
    )


@pytest.fixture
def owner():
    return make_learner(username="ada")


def test_successful_logins_never_count(owner):
    for _ in range(30):
        assert token("ada", PASSWORD, "10.0.0.1").status_code == 200
    client = Client(REMOTE_ADDR="10.0.0.1")
    for _ in range(12):
        response = client.post(reverse("accounts:login"), {"username": "ada", "password": PASSWORD})
        assert response.status_code == 302
        client.logout()


def test_five_failures_from_one_address_block_that_pair_with_the_wait(owner):
    for _ in range(5):
        assert token("ada", WRONG, "10.0.0.9").status_code == 401
    refused = token("ada", PASSWORD, "10.0.0.9")
    assert refused.status_code == 429 and refused.json()["code"] == "rate_limited"
    assert 0 < int(refused["Retry-After"]) <= 1801
    assert "Try again in" in refused.json()["detail"]
    # The same account from another address, and another account from this one: fine.
    assert token("ada", PASSWORD, "10.0.0.10").status_code == 200
    make_learner(username="bob")
    assert token("bob", PASSWORD, "10.0.0.9").status_code == 200


def test_a_success_clears_the_pairs_failures(owner):
    for _ in range(4):
        token("ada", WRONG, "10.0.0.2")
    assert token("ada", PASSWORD, "10.0.0.2").status_code == 200
    for _ in range(4):
        assert token("ada", WRONG, "10.0.0.2").status_code == 401
    assert token("ada", PASSWORD, "10.0.0.2").status_code == 200


def test_one_address_spraying_many_accounts_is_stopped(settings):
    settings.LOGIN_ADDRESS_RATE_LIMIT = "10/1800"
    for n in range(10):
        assert token(f"victim{n}", WRONG, "10.6.6.6").status_code == 401
    make_learner(username="newcomer")
    assert token("newcomer", PASSWORD, "10.6.6.6").status_code == 429


def test_a_flood_from_many_addresses_slows_strangers_but_not_the_owners_address(owner, settings):
    settings.LOGIN_ACCOUNT_FLOOD = "20/1800"
    assert token("ada", PASSWORD, "192.0.2.1").status_code == 200  # the owner's address
    assert User.objects.get(pk=owner.pk).last_login_address == "192.0.2.1"
    for n in range(20):
        assert token("ada", WRONG, f"198.51.100.{n}").status_code == 401
    # Unknown addresses now get one try per LOGIN_FLOOD_INTERVAL between them all.
    results = [token("ada", WRONG, f"203.0.113.{n}").status_code for n in range(5)]
    assert results[0] == 401 and set(results[1:]) == {429}
    # The owner, from where they last logged in, is never blocked by any of it.
    for _ in range(3):
        assert token("ada", PASSWORD, "192.0.2.1").status_code == 200
    client = Client(REMOTE_ADDR="192.0.2.1")
    response = client.post(reverse("accounts:login"), {"username": "ada", "password": PASSWORD})
    assert response.status_code == 302


def test_the_login_page_shows_the_limit_and_the_wait(owner):
    client = Client(REMOTE_ADDR="10.0.0.7")
    for _ in range(5):
        response = client.post(reverse("accounts:login"), {"username": "ada", "password": WRONG})
        assert response.status_code == 200 and not response.context["user"].is_authenticated
    response = client.post(reverse("accounts:login"), {"username": "ada", "password": PASSWORD})
    assert b"Too many failed logins. Try again in" in response.content
    assert not response.context["user"].is_authenticated
