"""Issue 15, point 9, in a real browser: the password rules show before the first attempt,
registration reports every field error at once beside its field (aria-describedby,
aria-invalid), and a failed login marks both inputs invalid."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.factories import make_learner

pytestmark = pytest.mark.browser

# SKILLLINK_SHOTS=/tmp/shots-identity saves what the test sees, for people to look at.
SHOTS = os.environ.get("SKILLLINK_SHOTS")


def shoot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def described_by(page, locator) -> str:
    """The text of every element ``locator``'s aria-describedby points at."""
    ids = (locator.get_attribute("aria-describedby") or "").split()
    assert ids, "no aria-describedby"
    return " ".join(page.locator(f"[id='{i}']").inner_text() for i in ids)


@pytest.mark.parametrize(
    ("width", "scheme"), [(1280, "light"), (390, "dark")], ids=["desktop-light", "phone-dark"]
)
def test_registration_shows_rules_first_and_every_error_beside_its_field(
    live_server_url, new_page, width, scheme
):
    make_learner(username="maya")
    page = new_page(viewport={"width": width, "height": 900}, color_scheme=scheme)
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server_url}/accounts/register/")

    password = page.get_by_label("Password", exact=True)
    # The rules are on the page before anything was typed, and tied to the input.
    rules = described_by(page, password)
    assert "at least 8 characters" in rules
    assert "be entirely numeric" in rules
    expect(page.get_by_text("Your password must contain at least 8 characters.")).to_be_visible()
    expect(password).not_to_have_attribute("aria-invalid", "true")
    shoot(page, f"register-before-{scheme}-{width}")

    username = page.get_by_label("Username")
    email = page.get_by_label("Email")
    username.fill("MAYA")  # taken, in another case
    email.fill("not-an-email")
    password.fill("12345")
    page.get_by_label("Password again").fill("54321")
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("alert")).to_contain_text("Please fix the 4 fields marked below.")
    for field, message in [
        (username, "That username is taken."),
        (email, "Enter a valid email address."),
        (password, "This password is too short."),
        (page.get_by_label("Password again"), "The two passwords differ."),
    ]:
        expect(field).to_have_attribute("aria-invalid", "true")
        assert message in described_by(page, field)
        # Beside its field: the message sits in the same .field block as the input.
        block = field.locator("xpath=ancestor::div[contains(@class,'field')][1]")
        expect(block.locator(".field-error").first).to_contain_text(message)
    # Each message names one field only: no two inputs point at the same error.
    assert "That username is taken." not in described_by(page, email)
    # What was typed is kept (but the passwords).
    expect(username).to_have_value("MAYA")
    expect(email).to_have_value("not-an-email")
    expect(page.get_by_label("Time zone")).not_to_have_attribute("aria-invalid", "true")
    shoot(page, f"register-errors-{scheme}-{width}")

    # A look-alike username is refused beside the field too.
    username.fill("m\u0430y\u0430")
    email.fill("someone@example.test")
    password.fill("a-Long-good-passphrase-1")
    page.get_by_label("Password again").fill("a-Long-good-passphrase-1")
    page.get_by_role("button", name="Create account").click()
    expect(username).to_have_attribute("aria-invalid", "true")
    assert re.search("looks too much like an existing one", described_by(page, username))
    expect(email).not_to_have_attribute("aria-invalid", "true")
    assert errors == []


def test_failed_login_marks_both_inputs_invalid(live_server_url, new_page):
    make_learner(username="noah")
    page = new_page()
    page.goto(f"{live_server_url}/accounts/login/")
    username, password = page.get_by_label("Username"), page.get_by_label("Password")
    expect(username).not_to_have_attribute("aria-invalid", "true")
    username.fill("noah")
    password.fill("wrong-password-here")
    page.get_by_role("button", name="Log in").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Please enter a correct username and password")
    for field in (username, password):
        expect(field).to_have_attribute("aria-invalid", "true")
        assert "Please enter a correct username and password" in described_by(page, field)
    shoot(page, "login-error-light-1280")
