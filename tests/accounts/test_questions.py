"""A learner's question before booking: one short, clean question, a notification with a
reply link, the teacher's reply notifies the learner back."""

import pytest
from django.test import Client

from accounts.models import Notification, TeacherQuestion
from accounts.services import question_ask, question_reply
from skilllink.errors import AppError
from tests.factories import make_learner, make_teacher, make_teacher_with_skills, make_user

pytestmark = pytest.mark.django_db


def test_a_question_notifies_the_teacher_who_replies_and_the_learner_is_told():
    learner = make_learner(username="maya")
    teacher = make_teacher_with_skills("Guitar", username="kenji")
    question = question_ask(learner=learner, teacher=teacher, body="  Do you teach left-handed?  ")
    assert question.body == "Do you teach left-handed?"
    asked = Notification.objects.get(user=teacher)
    assert (asked.kind, asked.url) == ("question.asked", f"/questions/{question.pk}/")
    assert "maya" in asked.title and asked.body == "Do you teach left-handed?"
    question_reply(teacher=teacher, question_id=question.pk, body="Yes, happily.")
    answered = Notification.objects.get(user=learner)
    assert (answered.kind, answered.url) == ("question.answered", f"/questions/{question.pk}/")
    assert answered.body == "Yes, happily."
    # Answered: the learner may ask again.
    question_ask(learner=learner, teacher=teacher, body="And on Sundays?")


@pytest.mark.parametrize(
    "body, field_error",
    [
        ("", "Type your question first."),
        ("   ", "Type your question first."),
        ("bell\x07", "Remove the control characters"),
        ("nul\x00", "Remove the control characters"),
        ("flip \u202eme", "text-direction"),
        ("x" * 501, "At most 500 characters."),
    ],
)
def test_bad_questions_are_refused_and_nothing_is_sent(body, field_error):
    learner, teacher = make_learner(), make_teacher()
    with pytest.raises(AppError) as refused:
        question_ask(learner=learner, teacher=teacher, body=body)
    assert refused.value.status == 400
    assert field_error in refused.value.fields["body"][0]
    assert not TeacherQuestion.objects.exists() and not Notification.objects.exists()


def test_one_open_question_per_teacher_then_the_rate_limit(settings):
    settings.QUESTION_RATE_LIMIT = "2/3600"
    learner = make_learner()
    first, second, third = make_teacher(), make_teacher(), make_teacher()
    question_ask(learner=learner, teacher=first, body="One?")
    with pytest.raises(AppError) as waiting:
        question_ask(learner=learner, teacher=first, body="Two?")
    assert (waiting.value.code, waiting.value.status) == ("question_open", 409)
    question_ask(learner=learner, teacher=second, body="Three?")
    with pytest.raises(AppError) as limited:
        question_ask(learner=learner, teacher=third, body="Four?")
    assert (limited.value.code, limited.value.status) == ("rate_limited", 429)
    assert TeacherQuestion.objects.count() == 2


def test_who_may_ask_and_reply():
    learner, teacher = make_learner(), make_teacher()
    teacher_only = make_teacher()
    with pytest.raises(AppError) as not_learner:
        question_ask(learner=teacher_only, teacher=teacher, body="Hi?")
    assert not_learner.value.code == "learners_only"
    both = make_user(username="both", role="both")
    with pytest.raises(AppError):
        question_ask(learner=both, teacher=both, body="Talking to myself?")
    with pytest.raises(AppError):
        question_ask(learner=learner, teacher=make_learner(), body="Not a teacher?")
    question = question_ask(learner=learner, teacher=teacher, body="Hi?")
    # The learner cannot answer their own question; a stranger cannot even see it.
    with pytest.raises(AppError) as own:
        question_reply(teacher=learner, question_id=question.pk, body="Sure")
    assert own.value.status == 403
    with pytest.raises(AppError) as stranger:
        question_reply(teacher=teacher_only, question_id=question.pk, body="Sure")
    assert stranger.value.status == 404
    question_reply(teacher=teacher, question_id=question.pk, body="Sure")
    with pytest.raises(AppError) as twice:
        question_reply(teacher=teacher, question_id=question.pk, body="Again")
    assert twice.value.code == "question_answered"
    question.refresh_from_db()
    assert question.reply == "Sure"


def test_the_pages_ask_from_the_profile_and_reply_from_the_link():
    learner = make_learner(username="maya")
    teacher = make_teacher_with_skills("Guitar", username="kenji")
    anonymous = Client()
    assert anonymous.post("/teachers/kenji/ask/", {"body": "Hi?"}).status_code == 302
    assert not TeacherQuestion.objects.exists()
    asking = Client()
    asking.force_login(learner)
    assert "data-question-form" in asking.get("/teachers/kenji/").content.decode()
    response = asking.post(
        "/teachers/kenji/ask/", {"body": "Can we start with scales?"}, follow=True
    )
    assert "Question sent to kenji" in response.content.decode()
    question = TeacherQuestion.objects.get()
    # A refused second question keeps what was typed in the form.
    response = asking.post("/teachers/kenji/ask/", {"body": "Also chords?"}, follow=True)
    page = response.content.decode()
    assert "has no reply yet" in page and "Also chords?" in page
    url = f"/questions/{question.pk}/"
    assert asking.get(url).status_code == 200
    assert asking.post(url, {"reply": "I answer myself"}).status_code == 200
    question.refresh_from_db()
    assert question.replied_at is None
    stranger = Client()
    stranger.force_login(make_learner())
    assert stranger.get(url).status_code == 404
    answering = Client()
    answering.force_login(teacher)
    assert "data-reply-form" in answering.get(url).content.decode()
    response = answering.post(url, {"reply": "Yes, scales first."}, follow=True)
    assert "Reply sent to maya" in response.content.decode()
    assert "Yes, scales first." in asking.get(url).content.decode()
