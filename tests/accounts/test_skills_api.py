"""/api/skills/ and /api/me/skills/: shapes, who may write, and what a refusal leaves behind."""

import pytest
from rest_framework.test import APIClient

from accounts import services
from accounts.models import Skill, TeacherSkill
from tests.conftest import client_for
from tests.factories import make_teacher

pytestmark = pytest.mark.django_db


@pytest.fixture
def teacher_client(teacher) -> APIClient:
    return client_for(teacher)


def test_teacher_adds_lists_and_removes_a_skill(teacher_client, teacher):
    response = teacher_client.post(
        "/api/me/skills/",
        {"skill": "Python", "level": "expert", "blurb": "From scripts to packages."},
        format="json",
    )
    assert response.status_code == 201, response.content
    skill = Skill.objects.get()
    item = {
        "skill": {"id": skill.pk, "name": "Python", "slug": "python"},
        "slug": "python",
        "name": "Python",
        "level": "expert",
        "blurb": "From scripts to packages.",
    }
    assert response.json() == item
    assert teacher_client.get("/api/me/skills/").json() == [item]

    response = teacher_client.delete("/api/me/skills/python/")
    assert response.status_code == 204
    assert teacher_client.get("/api/me/skills/").json() == []
    assert Skill.objects.filter(pk=skill.pk).exists()  # the catalogue keeps it


def test_python_then_lowercase_python_is_one_skill(teacher_client, teacher):
    teacher_client.post("/api/me/skills/", {"skill": "Python"}, format="json")
    response = teacher_client.post(
        "/api/me/skills/", {"skill": "python", "level": "beginner"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["name"] == "Python"
    assert Skill.objects.count() == 1
    assert TeacherSkill.objects.get(teacher=teacher).level == "beginner"


def test_skill_can_be_named_by_its_slug_and_level_defaults_to_intermediate(teacher_client):
    services.skill_get_or_create(name="Music theory")
    response = teacher_client.post("/api/me/skills/", {"skill": "music-theory"}, format="json")
    assert response.status_code == 201
    assert (response.json()["name"], response.json()["level"]) == ("Music theory", "intermediate")
    assert Skill.objects.count() == 1


def test_learner_post_is_forbidden_and_creates_nothing(auth_client):
    response = auth_client.post(
        "/api/me/skills/", {"skill": "Knitting", "level": "expert"}, format="json"
    )
    assert response.status_code == 403
    assert response.json() == {
        "code": "forbidden",
        "detail": "Only teachers can add teaching skills.",
    }
    assert not Skill.objects.exists()
    assert not TeacherSkill.objects.exists()


def test_learner_delete_is_forbidden(auth_client):
    response = auth_client.delete("/api/me/skills/python/")
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden"


def test_bad_level_is_refused_with_fields_level(teacher_client):
    response = teacher_client.post(
        "/api/me/skills/", {"skill": "Chess", "level": "grandmaster"}, format="json"
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert "level" in body["fields"]
    assert not Skill.objects.exists()


def test_too_long_blurb_is_refused_with_fields_blurb(teacher_client):
    response = teacher_client.post(
        "/api/me/skills/", {"skill": "Chess", "blurb": "b" * 281}, format="json"
    )
    assert response.status_code == 400
    assert "blurb" in response.json()["fields"]
    assert not TeacherSkill.objects.exists()


@pytest.mark.parametrize("name", ["", "   ", "???", "x" * 81])
def test_unusable_skill_name_is_refused_with_fields_skill(teacher_client, name):
    response = teacher_client.post("/api/me/skills/", {"skill": name}, format="json")
    assert response.status_code == 400
    assert "skill" in response.json()["fields"]
    assert not Skill.objects.exists()


def test_removing_a_skill_you_do_not_have_is_404(teacher_client):
    services.skill_get_or_create(name="Chess")
    for slug in ["chess", "no-such-skill"]:
        response = teacher_client.delete(f"/api/me/skills/{slug}/")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_a_delete_by_one_teacher_leaves_another_teachers_skill_alone(teacher_client, teacher):
    other = make_teacher()
    services.teacher_skill_add(teacher=teacher, skill_name_or_slug="Chess")
    theirs = services.teacher_skill_add(teacher=other, skill_name_or_slug="Chess", level="expert")
    assert teacher_client.delete("/api/me/skills/chess/").status_code == 204
    assert teacher_client.delete("/api/me/skills/chess/").status_code == 404
    assert TeacherSkill.objects.filter(pk=theirs.pk, teacher=other, level="expert").exists()
    assert client_for(other).get("/api/me/skills/").json()[0]["slug"] == "chess"


def test_my_skills_lists_only_my_own(teacher_client, teacher):
    services.teacher_skill_add(teacher=make_teacher(), skill_name_or_slug="Guitar")
    services.teacher_skill_add(teacher=teacher, skill_name_or_slug="Chess")
    assert [item["name"] for item in teacher_client.get("/api/me/skills/").json()] == ["Chess"]


def test_my_skills_needs_authentication(api_client):
    for method in ["get", "post"]:
        response = getattr(api_client, method)("/api/me/skills/")
        assert response.status_code == 401
        assert response.json()["code"] == "not_authenticated"
    assert api_client.delete("/api/me/skills/chess/").status_code == 401


def test_skill_search_is_public_and_puts_prefix_matches_first(api_client):
    for name in ["Spanish", "Portuguese (for Spanish speakers)", "spanish cooking", "Guitar"]:
        services.skill_get_or_create(name=name)
    response = api_client.get("/api/skills/", {"q": "span"})
    assert response.status_code == 200
    body = response.json()
    assert [skill["name"] for skill in body] == [
        "Spanish",
        "spanish cooking",
        "Portuguese (for Spanish speakers)",
    ]
    spanish = Skill.objects.get(slug="spanish")
    assert body[0] == {"id": spanish.pk, "name": "Spanish", "slug": "spanish"}


def test_skill_search_without_q_lists_the_catalogue_alphabetically_up_to_limit(api_client):
    for name in ["banjo", "Accordion", "Cello"]:
        services.skill_get_or_create(name=name)
    response = api_client.get("/api/skills/", {"limit": 2})
    assert [skill["name"] for skill in response.json()] == ["Accordion", "banjo"]
    assert api_client.get("/api/skills/", {"limit": 0}).status_code == 400


def test_skill_search_ignores_a_bad_token_because_it_needs_none():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    assert client.get("/api/skills/", {"q": "x"}).status_code == 200
