"""The "What you teach" card on the profile page and its add/remove views (Django test client)."""

import pytest
from django.urls import reverse

from accounts import services
from accounts.models import Skill, TeacherSkill
from tests.factories import make_teacher

pytestmark = pytest.mark.django_db

PROFILE_SKILLS = reverse("accounts:profile") + "#skills"


def flashes(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def test_teacher_without_skills_sees_the_card_with_empty_state_and_add_form(client, teacher):
    client.force_login(teacher)
    content = client.get(reverse("accounts:profile")).content.decode()
    assert 'id="skills"' in content
    assert "No skills yet — add the first thing you can teach" in content
    assert f'action="{reverse("accounts:skill_add")}"' in content
    assert 'list="skill-options"' in content and '<datalist id="skill-options">' in content
    assert "js/skills.js" in content


def test_teacher_adds_a_skill_from_the_profile_page(client, teacher):
    client.force_login(teacher)
    response = client.post(
        reverse("accounts:skill_add"),
        {"skill": "Jazz guitar", "level": "expert", "blurb": "Comping and chord melody."},
        follow=True,
    )
    assert response.redirect_chain == [(PROFILE_SKILLS, 302)]
    assert flashes(response) == ["Jazz guitar is on your list (Expert)."]
    content = response.content.decode()
    assert "Jazz guitar" in content and "Comping and chord melody." in content
    assert f'action="{reverse("accounts:skill_remove", args=["jazz-guitar"])}"' in content
    assert "No skills yet" not in content
    assert TeacherSkill.objects.get(teacher=teacher).level == "expert"


def test_refused_add_shows_the_reason_and_changes_nothing(client, teacher):
    client.force_login(teacher)
    response = client.post(
        reverse("accounts:skill_add"), {"skill": "Chess", "blurb": "b" * 281}, follow=True
    )
    assert flashes(response) == ["Keep the blurb to 280 characters or fewer (it has 281)."]
    assert not Skill.objects.exists()


def test_teacher_removes_a_skill_from_the_profile_page(client, teacher):
    other = make_teacher()
    services.teacher_skill_add(teacher=teacher, skill_name_or_slug="Chess")
    services.teacher_skill_add(teacher=other, skill_name_or_slug="Chess")
    client.force_login(teacher)
    response = client.post(reverse("accounts:skill_remove", args=["chess"]), follow=True)
    assert response.redirect_chain == [(PROFILE_SKILLS, 302)]
    assert flashes(response) == ["Removed from the skills you teach."]
    assert not TeacherSkill.objects.filter(teacher=teacher).exists()
    assert TeacherSkill.objects.filter(teacher=other).exists()

    response = client.post(reverse("accounts:skill_remove", args=["chess"]), follow=True)
    assert flashes(response) == ["You do not teach that skill."]


def test_removing_a_skill_says_how_many_open_slots_now_offer_any_skill(client, teacher):
    from tests.factories import make_slot

    services.teacher_skill_add(teacher=teacher, skill_name_or_slug="Chess")
    make_slot(teacher, skill_slug="chess")
    client.force_login(teacher)
    response = client.post(reverse("accounts:skill_remove", args=["chess"]), follow=True)
    assert flashes(response) == [
        "Removed from the skills you teach. 1 open slot for it now offers any of your skills."
    ]


def test_learner_profile_shows_nothing_about_teaching(client, learner):
    client.force_login(learner)
    content = client.get(reverse("accounts:profile")).content.decode()
    assert 'id="skills"' not in content
    assert "What you teach" not in content
    assert "js/skills.js" not in content


def test_learner_is_refused_by_the_skill_views_and_nothing_changes(client, learner):
    teacher = make_teacher()
    services.teacher_skill_add(teacher=teacher, skill_name_or_slug="Chess")
    client.force_login(learner)
    response = client.post(reverse("accounts:skill_add"), {"skill": "Knitting"}, follow=True)
    assert flashes(response) == ["Only teachers can add teaching skills."]
    response = client.post(reverse("accounts:skill_remove", args=["chess"]), follow=True)
    assert flashes(response) == ["Only teachers can remove teaching skills."]
    assert list(Skill.objects.values_list("name", flat=True)) == ["Chess"]
    assert TeacherSkill.objects.filter(teacher=teacher).count() == 1


def test_skill_views_are_post_only_and_need_login(client, teacher):
    add, remove = reverse("accounts:skill_add"), reverse("accounts:skill_remove", args=["chess"])
    for url in [add, remove]:
        response = client.post(url, {"skill": "Chess"})
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("accounts:login"))
    client.force_login(teacher)
    assert client.get(add).status_code == 405
    assert client.get(remove).status_code == 405
    assert not Skill.objects.exists()


def test_dashboard_empty_state_links_to_the_profile_skills_section(client, teacher):
    client.force_login(teacher)
    content = client.get(reverse("dashboard")).content.decode()
    assert "No skills listed yet." in content
    assert f'<a href="{PROFILE_SKILLS}">Add the first thing you can teach</a>' in content


def test_dashboard_lists_the_teachers_skills_with_a_link_to_manage_them(client, teacher):
    services.teacher_skill_add(teacher=teacher, skill_name_or_slug="Chess", level="beginner")
    client.force_login(teacher)
    content = client.get(reverse("dashboard")).content.decode()
    assert "Chess" in content and "Beginner" in content
    assert f'href="{PROFILE_SKILLS}"' in content
    assert "No skills listed yet." not in content
