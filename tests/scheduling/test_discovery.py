"""Finding teachers: ranking by Bayesian score, filters, query count."""

from datetime import timedelta

import pytest
from rest_framework.test import APIClient

from tests.factories import in_future, make_slot, make_teacher_with_skills
from tests.scheduling.test_matching import give_ratings

pytestmark = pytest.mark.django_db


def teachers(**params):
    response = APIClient().get("/api/teachers/", params)
    assert response.status_code == 200, response.content
    return response.json()


def test_many_high_ratings_outrank_a_single_five_star():
    steady = make_teacher_with_skills("Python", username="steady")
    lucky = make_teacher_with_skills("Python", username="lucky")
    give_ratings(steady, [5, 5, 4, 5, 5, 4, 5, 5])
    give_ratings(lucky, [5])
    ranked = teachers(skill="python")
    assert [t["username"] for t in ranked] == ["steady", "lucky"]
    assert ranked[0]["rating"]["count"] == 8
    assert ranked[1]["rating"] == {
        "average": 5.0,
        "count": 1,
        "score": ranked[1]["rating"]["score"],
    }
    assert ranked[0]["rating"]["score"] > ranked[1]["rating"]["score"]


def test_without_ratings_soonest_open_slot_breaks_the_tie():
    later = make_teacher_with_skills("Python", username="later")
    sooner = make_teacher_with_skills("Python", username="sooner")
    none = make_teacher_with_skills("Python", username="noslots")
    make_slot(later, start=in_future(days=3))
    make_slot(sooner, start=in_future(days=1))
    ranked = teachers(skill="python")
    assert [t["username"] for t in ranked] == ["sooner", "later", "noslots"]
    assert len({t["rating"]["score"] for t in ranked}) == 1
    assert ranked[2]["next_open_slot"] is None
    del none


def test_filter_by_skill_returns_only_teachers_of_that_skill():
    make_teacher_with_skills("Python", username="py")
    make_teacher_with_skills("Guitar", username="gt")
    make_teacher_with_skills("Python", "Guitar", username="both")
    assert {t["username"] for t in teachers(skill="guitar")} == {"gt", "both"}
    assert teachers(skill="nope") == []


def test_free_text_search_over_name_bio_and_skills():
    make_teacher_with_skills("Python", username="alice")
    bob = make_teacher_with_skills("Guitar", username="bob")
    bob.bio = "Flamenco and jazz"
    bob.save()
    assert [t["username"] for t in teachers(q="flamenco")] == ["bob"]
    assert [t["username"] for t in teachers(q="pyth")] == ["alice"]
    assert [t["username"] for t in teachers(q="ALI")] == ["alice"]


def test_next_open_slot_ignores_booked_and_other_skill_slots():
    from scheduling.services.bookings import booking_request
    from tests.factories import make_learner

    teacher = make_teacher_with_skills("Python", "Guitar")
    first = make_slot(teacher, start=in_future(days=1))
    make_slot(teacher, start=in_future(days=2), skill_slug="guitar")
    third = make_slot(teacher, start=in_future(days=3))
    booking_request(learner=make_learner(), slot_id=first.pk)
    (found,) = teachers(skill="python")
    from datetime import datetime

    assert datetime.fromisoformat(found["next_open_slot"]) == third.start
    detail = APIClient().get(f"/api/teachers/{teacher.pk}/").json()
    assert datetime.fromisoformat(detail["next_open_slot"]) == third.start - timedelta(days=1)


# Five: the skill, the scores, the cards, their skills, and their next open times (one
# windowed query for the page: issue 15's "book this time" buttons; it was four before).
TEACHER_LIST_QUERIES = 5


def test_teacher_list_query_count_does_not_grow(django_assert_max_num_queries):
    for i in range(3):
        make_slot(make_teacher_with_skills("Python", "Guitar"), start=in_future(days=1 + i))
    with django_assert_max_num_queries(TEACHER_LIST_QUERIES):
        few = teachers(skill="python")
    for i in range(12):
        make_slot(make_teacher_with_skills("Python", "Guitar"), start=in_future(days=5 + i % 8))
    with django_assert_max_num_queries(TEACHER_LIST_QUERIES):
        many = teachers(skill="python")
    assert len(few) == 3 and len(many) == 15
    # Every card came with its next open times (within the fortnight) from that one query.
    assert all(len(t["next_open"]) == 1 for t in many)


def test_unknown_teacher_is_404():
    response = APIClient().get("/api/teachers/999999/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def _rate(teacher, *, count: int, total: int) -> None:
    """A rating summary as ``booking_rate`` leaves it (without booking that many sessions)."""
    from credits.models import TeacherRating
    from credits.selectors import teacher_score
    from credits.services import teacher_skill_scores_store

    TeacherRating.objects.update_or_create(
        teacher=teacher,
        defaults={"count": count, "total": total, "score": teacher_score(count=count, total=total)},
    )
    teacher_skill_scores_store(teacher_id=teacher.pk)


def test_page_edges_split_a_tie_group_by_soonest_open_slot_then_id():
    # Scores: best 4.5; then four at 3.5 (two ratings of 3.5 stars = the unrated prior),
    # whose order is the soonest open slot, then id (no slot last); then 2.95.
    best = make_teacher_with_skills("Python", username="best")
    _rate(best, count=5, total=27)  # (17.5 + 27) / 10 = 4.45
    make_teacher_with_skills("Python", username="no_slot")
    later = make_teacher_with_skills("Python", username="later")
    rated_tie = make_teacher_with_skills("Python", username="rated_tie")
    _rate(rated_tie, count=2, total=7)  # (17.5 + 7) / 7 = 3.5, the same score as unrated
    soonest = make_teacher_with_skills("Python", username="soonest")
    worst = make_teacher_with_skills("Python", username="worst")
    _rate(worst, count=5, total=12)  # 2.95
    twin = make_teacher_with_skills("Python", username="twin")  # "later"'s time, higher id
    make_slot(twin, start=in_future(days=3))
    make_slot(soonest, start=in_future(days=1))
    make_slot(rated_tie, start=in_future(days=2))
    make_slot(later, start=in_future(days=3))
    make_slot(worst, start=in_future(hours=2))
    make_slot(best, start=in_future(days=9))
    order = ["best", "soonest", "rated_tie", "later", "twin", "no_slot", "worst"]
    assert [t["username"] for t in teachers(skill="python", limit=20)] == order
    for offset in range(len(order)):
        for limit in range(1, 4):
            page = teachers(skill="python", limit=limit, offset=offset)
            assert [t["username"] for t in page] == order[offset : offset + limit], (offset, limit)
    assert teachers(skill="python", offset=7) == []


def test_a_tie_group_longer_than_the_lookahead_is_ranked_whole(monkeypatch):
    from scheduling import selectors

    monkeypatch.setattr(selectors, "RANKING_LOOKAHEAD", 1)
    tied = [make_teacher_with_skills("Python", username=f"tied{i}") for i in range(5)]
    for days, teacher in zip([5, 4, 3, 2, 1], tied, strict=True):
        make_slot(teacher, start=in_future(days=days))
    expected = [f"tied{i}" for i in (4, 3, 2, 1, 0)]
    assert [t["username"] for t in teachers(skill="python", limit=2)] == expected[:2]
    assert [t["username"] for t in teachers(skill="python", limit=2, offset=2)] == expected[2:4]
    assert [t["username"] for t in teachers(limit=3, offset=1)] == expected[1:4]


def test_ranking_matches_a_brute_force_order_on_every_page(monkeypatch):
    import random

    from django.utils import timezone

    from credits.selectors import teacher_score
    from scheduling import selectors
    from scheduling.models import AvailabilitySlot
    from scheduling.services.bookings import booking_request
    from tests.factories import make_learner

    rng = random.Random(7)
    totals = [None, None, None, (2, 7), (5, 27), (5, 27), (1, 5), (10, 42), (3, 6), (4, 20)]
    people = []
    for i, rating in enumerate(totals * 2):
        skills = ("Python", "Guitar") if i % 3 else ("Python",)
        teacher = make_teacher_with_skills(*skills, username=f"t{i:02d}")
        if rating:
            _rate(teacher, count=rating[0], total=rating[1])
        for day in rng.sample(range(1, 20), rng.choice([0, 1, 2])):
            make_slot(
                teacher,
                start=in_future(days=day, hours=i % 5),
                skill_slug=rng.choice([None, "python", "guitar"]) if i % 3 else None,
            )
        people.append((teacher, rating))
    gone = make_teacher_with_skills("Python", username="gone")
    gone.is_active = False
    gone.save()
    booked = AvailabilitySlot.objects.filter(teacher=people[0][0]).first()
    if booked:
        booking_request(learner=make_learner(), slot_id=booked.pk)

    now = timezone.now()

    def next_open(teacher):
        starts = [
            s.start
            for s in AvailabilitySlot.objects.filter(teacher=teacher, start__gt=now)
            if s.skill is None or s.skill.slug == "python"
            if not s.bookings.filter(status__in=["requested", "scheduled", "in_progress"]).exists()
        ]
        return min(starts) if starts else None

    def key(entry):
        teacher, rating = entry
        score = teacher_score(count=rating[0], total=rating[1]) if rating else 3.5
        soonest = next_open(teacher)
        return (-score, soonest is None, soonest or now, teacher.pk)

    order = [t.username for t, _ in sorted(people, key=key)]
    for lookahead in (1, 20):
        monkeypatch.setattr(selectors, "RANKING_LOOKAHEAD", lookahead)
        for offset in range(0, len(order), 3):
            for limit in (1, 4, 7):
                page = teachers(skill="python", limit=limit, offset=offset)
                assert [t["username"] for t in page] == order[offset : offset + limit]
    assert [t["username"] for t in teachers(skill="python", limit=100)] == order


def test_cards_carry_headline_photo_profile_url_and_the_next_open_times():
    from accounts.services import user_update_profile

    teacher = make_teacher_with_skills("Python", "Guitar", username="cardy")
    user_update_profile(user=teacher, headline="Python for data people")
    first = make_slot(teacher, start=in_future(days=1))
    make_slot(teacher, start=in_future(days=2), skill_slug="guitar")
    third = make_slot(teacher, start=in_future(days=3))
    make_slot(teacher, start=in_future(days=4))
    make_slot(teacher, start=in_future(days=5))
    make_slot(teacher, start=in_future(days=20))  # past the fortnight
    (card,) = teachers()
    assert card["headline"] == "Python for data people"
    assert card["photo_url"] is None
    assert card["profile_url"] == "/teachers/cardy/"
    assert [t["slot"] for t in card["next_open"]] == [first.pk, first.pk + 1, third.pk]
    assert card["next_open"][1]["skill"] == {"slug": "guitar", "name": "Guitar"}
    (python_only,) = teachers(skill="python")  # the guitar slot does not fit
    assert [t["slot"] for t in python_only["next_open"]] == [first.pk, third.pk, third.pk + 1]


def test_open_slots_are_public_but_mine_needs_an_account():
    teacher = make_teacher_with_skills("Python")
    slot = make_slot(teacher, start=in_future(days=1))
    anonymous = APIClient()
    listed = anonymous.get("/api/slots/", {"teacher": teacher.pk})
    assert listed.status_code == 200 and [s["id"] for s in listed.json()] == [slot.pk]
    assert anonymous.get("/api/slots/", {"mine": "true"}).status_code == 401
    refused = anonymous.post(
        "/api/slots/", {"start": "2030-01-01T10:00Z", "end": "2030-01-01T11:00Z"}
    )
    assert refused.status_code == 401
