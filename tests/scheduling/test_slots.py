"""Availability slots: every rule and refusal, over the API and in the services."""

import threading
import zoneinfo
from datetime import datetime, timedelta

import pytest
from django.db import connection
from rest_framework.test import APIClient

from scheduling.models import AvailabilitySlot, Booking
from scheduling.services.slots import slot_create, slot_create_weekly
from skilllink.errors import AppError
from tests.conftest import client_for, skip_unless_postgres
from tests.factories import (
    in_future,
    make_learner,
    make_slot,
    make_teacher,
    make_teacher_with_skills,
)

pytestmark = pytest.mark.django_db


def iso(moment: datetime) -> str:
    return moment.isoformat()


def post_slot(client, start, minutes=60, **extra):
    return client.post(
        "/api/slots/",
        {"start": iso(start), "end": iso(start + timedelta(minutes=minutes)), **extra},
        format="json",
    )


def test_teacher_publishes_a_slot_and_it_is_listed_as_open():
    teacher = make_teacher_with_skills("Python")
    start = in_future()
    response = post_slot(client_for(teacher), start, skill="python")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "open"
    assert body["skill"] == {"slug": "python", "name": "Python"}
    listed = APIClient().get if False else client_for(make_learner()).get
    slots = listed(f"/api/slots/?teacher={teacher.pk}").json()
    assert [s["id"] for s in slots] == [body["id"]]
    assert datetime.fromisoformat(slots[0]["start"]) == start


def test_learner_cannot_create_a_slot():
    learner = make_learner()
    response = post_slot(client_for(learner), in_future())
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"
    assert not AvailabilitySlot.objects.exists()


@pytest.mark.parametrize(
    ("start_delta", "minutes", "code"),
    [
        (timedelta(hours=-1), 60, "slot_in_past"),
        (timedelta(0), 10, "slot_too_short"),
        (timedelta(0), 14, "slot_too_short"),
        (timedelta(0), 241, "slot_too_long"),
    ],
)
def test_bad_times_are_refused(start_delta, minutes, code):
    teacher = make_teacher()
    start = (
        in_future() + start_delta
        if start_delta >= timedelta(0)
        else in_future(days=0) - timedelta(hours=1)
    )
    response = post_slot(client_for(teacher), start, minutes=minutes)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert not AvailabilitySlot.objects.exists()


def test_bounds_are_inclusive():
    teacher = make_teacher()
    client = client_for(teacher)
    assert post_slot(client, in_future(), minutes=15).status_code == 201
    assert post_slot(client, in_future(days=2), minutes=240).status_code == 201


def test_end_before_start_is_invalid():
    teacher = make_teacher()
    start = in_future()
    response = client_for(teacher).post(
        "/api/slots/", {"start": iso(start), "end": iso(start - timedelta(hours=1))}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_overlap_is_refused_but_touching_is_fine():
    teacher = make_teacher()
    client = client_for(teacher)
    start = in_future()
    assert post_slot(client, start).status_code == 201
    response = post_slot(client, start + timedelta(minutes=30))
    assert response.status_code == 409
    assert response.json()["code"] == "slot_overlap"
    assert post_slot(client, start + timedelta(minutes=60)).status_code == 201
    assert AvailabilitySlot.objects.count() == 2


def test_other_teachers_may_overlap():
    start = in_future()
    assert post_slot(client_for(make_teacher()), start).status_code == 201
    assert post_slot(client_for(make_teacher()), start).status_code == 201


def test_skill_must_be_one_the_teacher_teaches():
    teacher = make_teacher_with_skills("Python")
    make_teacher_with_skills("Guitar")
    response = post_slot(client_for(teacher), in_future(), skill="guitar")
    assert response.status_code == 400
    assert "skill" in response.json()["fields"]


def test_owner_moves_resizes_and_deletes():
    teacher = make_teacher()
    client = client_for(teacher)
    slot = make_slot(teacher)
    new_start = slot.start + timedelta(hours=2)
    response = client.patch(
        f"/api/slots/{slot.pk}/",
        {"start": iso(new_start), "end": iso(new_start + timedelta(minutes=90))},
        format="json",
    )
    assert response.status_code == 200, response.content
    slot.refresh_from_db()
    assert (slot.start, slot.end) == (new_start, new_start + timedelta(minutes=90))
    assert client.delete(f"/api/slots/{slot.pk}/").status_code == 204
    assert not AvailabilitySlot.objects.exists()


def test_moving_onto_another_slot_is_refused():
    teacher = make_teacher()
    first = make_slot(teacher, start=in_future())
    second = make_slot(teacher, start=in_future(hours=3))
    response = client_for(teacher).patch(
        f"/api/slots/{second.pk}/",
        {"start": iso(first.start + timedelta(minutes=30))},
        format="json",
    )
    assert response.status_code == 409
    second.refresh_from_db()
    assert second.start == in_future(hours=3)


def test_another_teacher_gets_404_and_nothing_changes():
    owner = make_teacher()
    slot = make_slot(owner)
    intruder = client_for(make_teacher())
    response = intruder.patch(
        f"/api/slots/{slot.pk}/", {"start": iso(slot.start + timedelta(hours=1))}, format="json"
    )
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert intruder.delete(f"/api/slots/{slot.pk}/").status_code == 404
    assert AvailabilitySlot.objects.get(pk=slot.pk).start == slot.start


def test_booked_slot_cannot_be_moved_or_deleted():
    from scheduling.services.bookings import booking_request

    teacher = make_teacher_with_skills("Python")
    slot = make_slot(teacher)
    booking_request(learner=make_learner(), slot_id=slot.pk)
    client = client_for(teacher)
    response = client.patch(
        f"/api/slots/{slot.pk}/", {"start": iso(slot.start + timedelta(hours=1))}, format="json"
    )
    assert response.status_code == 409
    assert response.json()["code"] == "slot_unavailable"
    assert client.delete(f"/api/slots/{slot.pk}/").json()["code"] == "slot_unavailable"
    assert AvailabilitySlot.objects.filter(pk=slot.pk).exists()
    mine = client.get("/api/slots/?mine=true").json()
    assert [s["status"] for s in mine] == ["requested"]
    assert client_for(make_learner()).get(f"/api/slots/?teacher={teacher.pk}").json() == []


def test_slot_with_only_an_ended_booking_can_be_deleted():
    from scheduling.services.bookings import booking_request
    from scheduling.transitions import booking_decline

    teacher = make_teacher_with_skills("Python")
    slot = make_slot(teacher)
    booking = booking_request(learner=make_learner(), slot_id=slot.pk)
    booking_decline(booking_id=booking.pk, teacher=teacher)
    assert client_for(teacher).delete(f"/api/slots/{slot.pk}/").status_code == 204
    booking.refresh_from_db()
    assert booking.slot_id is None and booking.status == Booking.Status.DECLINED


def test_weekly_repeat_creates_all_or_nothing():
    teacher = make_teacher()
    client = client_for(teacher)
    start = in_future()
    response = post_slot(client, start, repeat_weeks=4)
    assert response.status_code == 201
    assert len(response.json()) == 4
    # Week 3 clashes: nothing of the second series is created.
    make_slot(teacher, start=start + timedelta(weeks=6, hours=5))
    before = AvailabilitySlot.objects.count()
    response = post_slot(client, start + timedelta(weeks=4, hours=5), repeat_weeks=4)
    assert response.status_code == 409
    assert "Week 3" in response.json()["detail"]
    assert AvailabilitySlot.objects.count() == before


def test_weekly_repeat_keeps_wall_clock_time_across_dst():
    """Europe/Berlin leaves summer time on 2027-10-31: 18:00 stays 18:00 local."""
    teacher = make_teacher(timezone_name="Europe/Berlin")
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    start = datetime(2027, 10, 25, 18, 0, tzinfo=berlin)
    now = datetime(2027, 10, 1, tzinfo=berlin)
    created = slot_create_weekly(
        teacher=teacher, start=start, end=start + timedelta(hours=1), weeks=2, now=now
    )
    local = [s.start.astimezone(berlin) for s in created]
    assert [(d.day, d.hour) for d in local] == [(25, 18), (1, 18)]
    stored = AvailabilitySlot.objects.order_by("start")
    assert [(s.start.astimezone(zoneinfo.ZoneInfo("UTC")).hour) for s in stored] == [16, 17]
    assert [d.utcoffset() for d in local] == [timedelta(hours=2), timedelta(hours=1)]
    assert stored[1].start - stored[0].start == timedelta(days=7, hours=1)


def test_naive_times_are_read_in_the_users_zone():
    teacher = make_teacher(timezone_name="Asia/Tokyo")
    local = in_future(days=3).astimezone(zoneinfo.ZoneInfo("Asia/Tokyo")).replace(tzinfo=None)
    response = client_for(teacher).post(
        "/api/slots/",
        {"start": local.isoformat(), "end": (local + timedelta(hours=1)).isoformat()},
        format="json",
    )
    assert response.status_code == 201
    slot = AvailabilitySlot.objects.get()
    assert slot.start == local.replace(tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo"))


def test_service_refuses_overlap_directly():
    teacher = make_teacher()
    slot = make_slot(teacher)
    with pytest.raises(AppError) as caught:
        slot_create(teacher=teacher, start=slot.start, end=slot.end)
    assert caught.value.code == "slot_overlap"


@pytest.mark.django_db(transaction=True)
def test_parallel_overlapping_creates_on_postgres_exactly_one_succeeds():
    skip_unless_postgres()
    teacher = make_teacher()
    start = in_future()
    barrier = threading.Barrier(8)
    results: list[int] = []

    def attempt(offset: int):
        client = client_for(teacher)
        barrier.wait()
        response = post_slot(client, start + timedelta(minutes=offset))
        results.append(response.status_code)
        connection.close()

    threads = [threading.Thread(target=attempt, args=(i * 5,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [201] + [409] * 7
    assert AvailabilitySlot.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_postgres_exclusion_constraint_refuses_overlap_even_past_the_service():
    skip_unless_postgres()
    from django.db import IntegrityError, transaction

    teacher = make_teacher()
    start = in_future()
    AvailabilitySlot.objects.create(teacher=teacher, start=start, end=start + timedelta(hours=1))
    with pytest.raises(IntegrityError), transaction.atomic():
        AvailabilitySlot.objects.create(
            teacher=teacher, start=start + timedelta(minutes=30), end=start + timedelta(hours=2)
        )


def test_a_slot_overlapping_the_start_of_the_range_is_listed():
    teacher = make_teacher()
    slot = make_slot(teacher, start=in_future(days=2), minutes=240)
    inside = slot.start + timedelta(hours=3, minutes=59)
    listed = client_for(make_learner()).get(
        "/api/slots/",
        {"teacher": teacher.pk, "start": iso(inside), "end": iso(inside + timedelta(hours=1))},
    )
    assert [s["id"] for s in listed.json()] == [slot.pk]
    after = client_for(make_learner()).get(
        "/api/slots/",
        {"teacher": teacher.pk, "start": iso(slot.end), "end": iso(slot.end + timedelta(hours=1))},
    )
    assert after.json() == []


# --- Paging of open slots ----------------------------------------------------------------


def _pages(client, url):
    """Follow ``Link: rel="next"`` from ``url``; the pages' slot ids."""
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.content
        pages.append([s["id"] for s in response.json()])
        link = response.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
        assert not link or link.endswith('>; rel="next"')
    return pages


def test_open_slots_for_a_skill_come_in_pages_by_start_then_id_through_the_next_link():
    ann = make_teacher_with_skills("Python", "Guitar")
    bob = make_teacher_with_skills("Python")
    guitarist = make_teacher_with_skills("Guitar")
    base = in_future(days=2)
    slots = [
        make_slot(ann, start=base, skill_slug="python"),
        make_slot(bob, start=base),  # "any of my skills", same start: by id
        make_slot(ann, start=base + timedelta(hours=2)),
        make_slot(bob, start=base + timedelta(hours=2), skill_slug="python"),
        make_slot(bob, start=base + timedelta(hours=4)),
        make_slot(ann, start=base + timedelta(hours=6), skill_slug="python"),
    ]
    make_slot(ann, start=base + timedelta(hours=8), skill_slug="guitar")  # another skill
    make_slot(guitarist, start=base + timedelta(hours=1))  # does not teach Python
    expected = sorted((s.start, s.pk) for s in slots)
    client = client_for(make_learner())
    query = f"skill=python&start={base.isoformat()}&end={(base + timedelta(days=1)).isoformat()}"
    url = f"/api/slots/?{query.replace('+', '%2B')}"
    for limit in (1, 2, 4, 6, 100):
        pages = _pages(client, f"{url}&limit={limit}")
        assert [i for page in pages for i in page] == [pk for _, pk in expected], limit
        assert all(len(page) == limit for page in pages[:-1])
    # Without a skill too (one teacher's week, as the teacher page asks for it).
    pages = _pages(client, f"/api/slots/?teacher={bob.pk}&limit=2")
    assert pages == [[slots[1].pk, slots[3].pk], [slots[4].pk]]


def test_slot_paging_refuses_a_bad_cursor_or_limit():
    client = client_for(make_learner())
    response = client.get("/api/slots/?cursor=not-a-cursor")
    assert response.status_code == 400
    assert "cursor" in response.json()["fields"]
    assert client.get("/api/slots/?limit=0").status_code == 400
    assert client.get("/api/slots/?limit=501").status_code == 400


def test_a_skill_with_many_teachers_lists_the_same_slots(monkeypatch):
    from scheduling import sql_reads

    teachers = [make_teacher_with_skills("Python") for _ in range(3)]
    base = in_future(days=1)
    for i, teacher in enumerate(teachers):
        make_slot(teacher, start=base + timedelta(hours=i), minutes=30)
        make_slot(
            teacher, start=base + timedelta(hours=i, minutes=30), minutes=30, skill_slug="python"
        )
    client = client_for(make_learner())
    few = _pages(client, "/api/slots/?skill=python&limit=4")
    from django.db import connection

    monkeypatch.setattr(sql_reads, "SLOTS_BY_TEACHER_MAX", {connection.vendor: 1})  # time order
    assert _pages(client, "/api/slots/?skill=python&limit=4") == few
    assert [len(page) for page in few] == [4, 2]


@pytest.mark.parametrize("walk", ["by teacher", "in time order"])
def test_open_slots_for_a_skill_match_a_brute_force_list_in_every_shape(monkeypatch, walk):
    import random
    from urllib.parse import urlencode

    from django.utils import timezone

    from scheduling import sql_reads
    from scheduling.services.bookings import booking_request

    if walk == "in time order":
        monkeypatch.setattr(sql_reads, "SLOTS_BY_TEACHER_MAX", {connection.vendor: 1})
    rng = random.Random(11)
    teachers = [make_teacher_with_skills("Python", "Guitar") for _ in range(3)]
    teachers += [make_teacher_with_skills("Guitar"), make_teacher_with_skills("Python")]
    base = in_future(days=1)
    for i, teacher in enumerate(teachers):
        for k in range(6):
            skill = rng.choice([None, "python", "guitar"])
            if skill == "python" and teacher is teachers[3]:
                skill = None
            if skill == "guitar" and teacher is teachers[4]:
                skill = None
            make_slot(
                teacher, start=base + timedelta(hours=3 * k, minutes=15 * i), skill_slug=skill
            )
    taken = AvailabilitySlot.objects.filter(teacher=teachers[0]).order_by("start").first()
    booking_request(learner=make_learner(), slot_id=taken.pk)
    client = client_for(make_learner())

    def expected(teacher=None, start=None, end=None):
        now = timezone.now()
        rows = [
            s
            for s in AvailabilitySlot.objects.select_related("skill")
            if s.start > now
            and (start is None or s.end > start)
            and (end is None or s.start < end)
            and (teacher is None or s.teacher_id == teacher.pk)
            and (
                (s.skill and s.skill.slug == "python")
                or (
                    s.skill is None
                    and s.teacher.teacher_skills.filter(skill__slug="python").exists()
                )
            )
            and not s.bookings.filter(status__in=Booking.ACTIVE_STATUSES).exists()
        ]
        return [s.pk for s in sorted(rows, key=lambda s: (s.start, s.pk))]

    assert len(expected()) > 8 and taken.pk not in expected()
    window = {"start": base + timedelta(hours=2), "end": base + timedelta(hours=11)}
    for teacher in (None, teachers[0], teachers[3]):
        for bounds in ({}, window):
            query = {"skill": "python", "limit": 4, **{k: v.isoformat() for k, v in bounds.items()}}
            if teacher is not None:
                query["teacher"] = teacher.pk
            pages = _pages(client, f"/api/slots/?{urlencode(query)}")
            assert [pk for page in pages for pk in page] == expected(teacher, **bounds)
