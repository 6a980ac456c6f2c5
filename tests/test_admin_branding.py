"""Django admin carries the SkillLink name and shows each time with its zone."""

import re

import pytest

from tests.conftest import scheduled_booking
from tests.factories import make_staff


@pytest.mark.django_db
def test_admin_pages_are_named_skilllink(client):
    staff = make_staff()
    client.force_login(staff)
    page = client.get("/admin/").content.decode()
    assert "SkillLink administration" in page
    assert "<title>Run SkillLink: people, sessions, credits | SkillLink admin</title>" in page
    assert "Django administration" not in page


@pytest.mark.django_db
def test_admin_shows_times_with_their_zone_in_the_viewers_zone(client):
    booking, _, _ = scheduled_booking()
    staff = make_staff(timezone_name="Asia/Tokyo")
    client.force_login(staff)
    listing = client.get("/admin/scheduling/booking/").content.decode()
    # Tokyo's abbreviation is "JST": the list names the zone of every time it shows.
    assert re.search(r"\d{2}:\d{2} JST", listing), listing
    detail = client.get(f"/admin/scheduling/booking/{booking.pk}/change/").content.decode()
    assert re.search(r"\d{2}:\d{2} JST", detail)
