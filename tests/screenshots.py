"""Screenshots of every page of the shell, light and dark, desktop and phone.

    DEBUG=1 .venv/bin/python tests/screenshots.py [--out DIR]

Starts the server (python -m skilllink.serve) on a throwaway SQLite database (migrated, ``seed_demo``, a few
notifications for "ada"), logs in as ada and saves PNGs named
``<page>-<theme>-<device>.png`` into ``artifacts/screens/``. Not a test: it is for
looking at the pages.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

DEVICES = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {
        "viewport": {"width": 390, "height": 844},
        "device_scale_factor": 2,
        "is_mobile": True,
        "has_touch": True,
    },
}
THEMES = ("light", "dark")
LOGGED_OUT_PAGES = {"home": "/", "register": "/accounts/register/", "login": "/accounts/login/"}
LOGGED_IN_PAGES = {
    "dashboard": "/dashboard/",
    "profile": "/accounts/profile/",
    "notifications": "/notifications/",
    "credits": "/credits/",
    "assistant": "/assistant/",
    "api-docs": "/api/docs/",
}
NOTIFICATIONS = [
    ("booking.requested", "Maya asked for a Python session", "Thu 18:00 to 19:00 (your time)", "/"),
    (
        "booking.confirmed",
        "Your session with Kenji on Saturday at 10:00 is confirmed — the room opens "
        "five minutes before the start",
        "Guitar · 60 minutes · bring your own instrument and a quiet room",
        "/",
    ),
    ("reminder", "Reminder: SQL with Omar starts in 15 minutes", "", ""),
]


def prepare_database(path: Path) -> str:
    url = "sqlite:///" + str(path)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DEBUG", "1")
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skilllink.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from accounts.models import Notification, User
    from accounts.services import notification_send

    call_command("migrate", verbosity=0, interactive=False)
    # With the sign-up grants: seed_demo's requests hold credits.
    call_command("seed_demo", verbosity=0)
    credit_history()
    ada = User.objects.get(username="ada")
    for kind, title, body, link in NOTIFICATIONS:
        notification_send(user=ada, kind=kind, title=title, body=body, url=link)
    # One read, two unread: both looks show.
    first = Notification.objects.filter(user=ada).order_by("pk").first()
    Notification.objects.filter(pk=first.pk).update(read_at=first.created_at)
    return url


def credit_history() -> None:
    """A few weeks of credits for ada (teaching noah and maya), so the Credits page has a
    history and a chart: each transfer is given its moment (the ledger is append-only, so
    the sign-up grants seed_demo made stay dated now; the learners' past sessions are paid
    from credits staff gave them a month back). Booking ids are made up (their session
    links lead nowhere here)."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.models import User
    from credits.services import credits_adjust, credits_hold, credits_settle

    ada, noah, maya = (User.objects.get(username=n) for n in ("ada", "noah", "maya"))
    admin = User.objects.get(username="admin")
    now = timezone.now()
    for learner in (noah, maya):
        credits_adjust(
            user=learner,
            amount=240,
            reason="Credits for the demo's past sessions",
            actor=admin,
            now=now - timedelta(days=30),
        )
    sessions = [(noah, 24, 60, 45), (maya, 17, 60, 60), (noah, 11, 60, 52), (maya, 4, 60, 0)]
    for n, (learner, days_ago, booked, attended) in enumerate(sessions, start=9000):
        start = now - timedelta(days=days_ago)
        credits_hold(user=learner, amount=booked, booking_id=n, now=start - timedelta(days=1))
        credits_settle(
            booking_id=n,
            payer=learner,
            payee=ada,
            paid_amount=attended,
            reason=f"{attended} minutes attended" if attended else "The teacher did not come",
            now=start + timedelta(minutes=booked + 15),
        )
    credits_adjust(
        user=ada,
        amount=20,
        reason="Thanks for testing the new room",
        actor=admin,
        now=now - timedelta(days=2),
    )
    credits_hold(user=maya, amount=60, booking_id=9100, now=now - timedelta(hours=3))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=BASE_DIR / "artifacts" / "screens")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    with tempfile.TemporaryDirectory(prefix="skilllink-screens-") as tmp:
        database_url = prepare_database(Path(tmp) / "screens.sqlite3")
        # Django is set up now: these import models.
        from playwright.sync_api import sync_playwright

        from skilllink.management.commands.seed_demo import DEMO_PASSWORD
        from tests.e2e.conftest import CHROMIUM_ARGS, chromium_executable
        from tests.live_server import start_server

        executable = chromium_executable()
        if executable is None:
            print("Chromium not installed (apt-get install chromium)", file=sys.stderr)
            return 1
        server = start_server(database_url=database_url)
        saved = []
        started = time.monotonic()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=executable, headless=True, args=CHROMIUM_ARGS
                )
                for device, device_options in DEVICES.items():
                    for theme in THEMES:
                        context = browser.new_context(
                            **device_options, color_scheme=theme, timezone_id="Europe/London"
                        )
                        context.add_cookies([{"name": "theme", "value": theme, "url": server.url}])
                        page = context.new_page()

                        def shoot(name, *, full_page=True, page=page, theme=theme, device=device):
                            path = args.out / f"{name}-{theme}-{device}.png"
                            page.screenshot(path=str(path), full_page=full_page)
                            saved.append(path)

                        for name, path in LOGGED_OUT_PAGES.items():
                            page.goto(server.url + path, wait_until="networkidle")
                            shoot(name)

                        page.goto(server.url + "/accounts/login/")
                        page.get_by_label("Username").fill("ada")
                        page.get_by_label("Password").fill(DEMO_PASSWORD)
                        page.get_by_role("button", name="Log in").click()
                        page.wait_for_url("**/dashboard/")
                        # ada's account says "system": the context's color scheme decides.
                        page.wait_for_selector("body[data-notifications-socket=open]")
                        for name, path in LOGGED_IN_PAGES.items():
                            page.goto(server.url + path, wait_until="networkidle")
                            if name == "api-docs":  # rendered by Swagger UI's script
                                page.wait_for_selector(".swagger-ui .opblock")
                            shoot(name)

                        page.goto(server.url + "/dashboard/", wait_until="networkidle")
                        page.locator("[data-bell-button]").click()
                        page.wait_for_selector("[data-bell-list] .notification")
                        shoot("bell", full_page=False)
                        page.keyboard.press("Escape")

                        page.locator("details.user-menu summary").click()
                        shoot("user-menu", full_page=False)
                        page.keyboard.press("Escape")
                        if device == "phone":
                            page.locator(".nav-toggle").click()
                            shoot("nav-open", full_page=False)
                        context.close()
                browser.close()
        finally:
            server.stop()
    print(f"{len(saved)} screenshots in {args.out} ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
