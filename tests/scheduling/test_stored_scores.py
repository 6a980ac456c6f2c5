"""TeacherSkill.score: the ranking score stored per skill stays the score of the rating totals."""

import pytest

from accounts.models import TeacherSkill
from accounts.services import teacher_skill_add
from credits.models import TeacherRating
from credits.selectors import teacher_score
from credits.services import teacher_skill_scores_store
from tests.factories import make_teacher, make_teacher_with_skills
from tests.scheduling.test_matching import give_ratings

pytestmark = pytest.mark.django_db


def stored(teacher) -> dict[str, float]:
    return dict(TeacherSkill.objects.filter(teacher=teacher).values_list("skill__slug", "score"))


def expected(teacher) -> float:
    summary = TeacherRating.objects.filter(teacher=teacher).first()
    return teacher_score(count=summary.count, total=summary.total) if summary else 3.5


def test_an_unrated_teachers_skills_carry_the_prior_score():
    teacher = make_teacher_with_skills("Python", "Guitar")
    assert teacher_score(count=0, total=0) == 3.5
    assert stored(teacher) == {"python": 3.5, "guitar": 3.5}


def test_every_rating_rewrites_the_score_of_all_the_teachers_skills():
    teacher = make_teacher_with_skills("Python", "Guitar")
    other = make_teacher_with_skills("Python")
    give_ratings(teacher, [5])
    assert stored(teacher) == {"python": expected(teacher), "guitar": expected(teacher)}
    give_ratings(teacher, [2, 4])
    assert expected(teacher) == (17.5 + 11) / 8
    assert set(stored(teacher).values()) == {expected(teacher)}
    assert stored(other) == {"python": 3.5}


def test_a_skill_added_after_ratings_gets_the_current_score():
    teacher = make_teacher_with_skills("Python")
    give_ratings(teacher, [5, 5])
    teacher_skill_add(teacher=teacher, skill_name_or_slug="Chess", level="expert")
    assert stored(teacher)["chess"] == expected(teacher) == (17.5 + 10) / 7
    # Changing level or blurb keeps the score; so does a save of those fields only.
    teacher_skill_add(teacher=teacher, skill_name_or_slug="chess", level="beginner")
    assert stored(teacher)["chess"] == expected(teacher)


def test_a_skill_moved_to_another_teacher_takes_that_teachers_score():
    rated = make_teacher_with_skills("Python")
    give_ratings(rated, [1])
    plain = make_teacher()
    row = TeacherSkill.objects.get(teacher=rated)
    row.teacher = plain
    row.save()
    assert stored(plain) == {"python": 3.5}


def test_storing_all_scores_repairs_rows_written_around_save():
    teacher = make_teacher_with_skills("Python", "Guitar")
    give_ratings(teacher, [4])
    TeacherSkill.objects.update(score=0.0)  # as a bulk load would leave them
    assert teacher_skill_scores_store() == 2
    assert set(stored(teacher).values()) == {expected(teacher)}
