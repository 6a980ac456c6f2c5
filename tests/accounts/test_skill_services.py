"""Skill and TeacherSkill services: names, slugs, validation, and the race on a new skill."""

import threading

import pytest
from django.db import connection

from accounts import selectors, services
from accounts.models import Skill, TeacherSkill
from skilllink.errors import Forbidden, NotFound, ValidationFailed
from tests.factories import make_learner, make_teacher

pytestmark = pytest.mark.django_db


def test_skill_names_differing_only_in_case_or_spacing_are_one_skill():
    first = services.skill_get_or_create(name="Machine learning")
    assert services.skill_get_or_create(name="  machine   LEARNING ") == first
    assert services.skill_get_or_create(name="machine-learning") == first  # its slug
    assert Skill.objects.count() == 1
    assert (first.name, first.slug) == ("Machine learning", "machine-learning")


def test_c_cpp_and_csharp_are_three_skills_with_readable_slugs():
    slugs = [services.skill_get_or_create(name=name).slug for name in ["C", "C++", "C#"]]
    assert slugs == ["c", "c-plus-plus", "c-sharp"]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("   ", "Name the skill."),
        ("x" * 81, "Keep the skill name to 80 characters or fewer."),
        ("!!!", "A skill name needs at least one letter or digit (A-Z, 0-9)."),
    ],
)
def test_bad_skill_names_are_refused_with_fields(name, message):
    with pytest.raises(ValidationFailed) as refused:
        services.skill_get_or_create(name=name)
    assert refused.value.fields == {"name": [message]}
    assert not Skill.objects.exists()


def test_an_80_character_name_is_accepted():
    assert len(services.skill_get_or_create(name="y" * 80).name) == 80


@pytest.mark.django_db(transaction=True)
def test_concurrent_creations_of_one_new_skill_end_with_one_row():
    names = ["Rust", "rust", "RUST", "Rust ", " rust", "rUst"]
    barrier = threading.Barrier(len(names))
    results: list[int] = []
    errors: list[BaseException] = []

    def create(name: str) -> None:
        try:
            barrier.wait()
            results.append(services.skill_get_or_create(name=name).pk)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=create, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results)) == 1
    assert Skill.objects.count() == 1


def test_adding_an_existing_skill_again_updates_level_and_blurb():
    teacher = make_teacher()
    first = services.teacher_skill_add(
        teacher=teacher, skill_name_or_slug="Chess", level="beginner"
    )
    again = services.teacher_skill_add(
        teacher=teacher, skill_name_or_slug="chess", level="expert", blurb=" Openings. "
    )
    assert again.pk == first.pk
    assert (again.level, again.blurb) == ("expert", "Openings.")
    assert TeacherSkill.objects.count() == 1


def test_a_learner_cannot_add_a_skill_and_nothing_is_created():
    with pytest.raises(Forbidden) as refused:
        services.teacher_skill_add(teacher=make_learner(), skill_name_or_slug="Knitting")
    assert refused.value.detail == "Only teachers can add teaching skills."
    assert not Skill.objects.exists()
    assert not TeacherSkill.objects.exists()


def test_a_refused_add_reports_every_bad_field_and_creates_no_skill():
    with pytest.raises(ValidationFailed) as refused:
        services.teacher_skill_add(
            teacher=make_teacher(), skill_name_or_slug="Knitting", level="guru", blurb="b" * 281
        )
    assert set(refused.value.fields) == {"level", "blurb"}
    assert not Skill.objects.exists()


def test_removing_a_skill_the_teacher_does_not_have_is_not_found():
    teacher, other = make_teacher(), make_teacher()
    services.teacher_skill_add(teacher=other, skill_name_or_slug="Chess")
    with pytest.raises(NotFound):
        services.teacher_skill_remove(teacher=teacher, slug="chess")
    assert TeacherSkill.objects.filter(teacher=other).count() == 1


def test_skill_search_puts_prefix_matches_first_then_contains_by_name():
    for name in ["Spanish", "Portuguese (for Spanish speakers)", "spanish cooking", "Guitar"]:
        services.skill_get_or_create(name=name)
    names = [skill.name for skill in selectors.skill_search(q="SPAN")]
    assert names == ["Spanish", "spanish cooking", "Portuguese (for Spanish speakers)"]
    assert [skill.name for skill in selectors.skill_search(q="span", limit=1)] == ["Spanish"]


def test_removing_a_skill_turns_its_open_slots_into_any_skill_slots_and_keeps_booked_ones():
    from datetime import timedelta

    from django.utils import timezone

    from scheduling.models import AvailabilitySlot
    from scheduling.services.bookings import booking_request
    from tests.factories import make_learner, make_slot

    teacher = make_teacher()
    services.teacher_skill_add(teacher=teacher, skill_name_or_slug="Chess")
    services.teacher_skill_add(teacher=teacher, skill_name_or_slug="Go")
    chess, go = Skill.objects.get(slug="chess"), Skill.objects.get(slug="go")
    soon = timezone.now().replace(second=0, microsecond=0) + timedelta(days=1)
    open_chess = make_slot(teacher, start=soon, skill_slug="chess")
    booked_chess = make_slot(teacher, start=soon + timedelta(hours=2), skill_slug="chess")
    open_go = make_slot(teacher, start=soon + timedelta(hours=4), skill_slug="go")
    booking_request(learner=make_learner(), slot_id=booked_chess.pk)

    assert services.teacher_skill_remove(teacher=teacher, slug="chess") == 1
    skills = dict(AvailabilitySlot.objects.values_list("pk", "skill_id"))
    assert skills == {open_chess.pk: None, booked_chess.pk: chess.pk, open_go.pk: go.pk}
