"""The /assistant/ page: ask outside a session, through the same service and quota."""

import pytest
from django.test import Client

from assistant.models import Exchange
from tests.assistant.fake_gemini import Reply

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(learner) -> Client:
    client = Client()
    client.force_login(learner)
    return client


def test_asking_on_the_page_shows_the_answer_with_highlighted_code(gemini, page):
    gemini.add(Reply.text("Like this:\n\n```js\nconst x = 1;\n```"))
    response = page.post("/assistant/", {"prompt": "Declare a constant in JS"})
    exchange = Exchange.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/assistant/#answer-{exchange.pk}"
    html = page.get("/assistant/").content.decode()
    assert f'id="answer-{exchange.pk}"' in html
    assert "Declare a constant in JS" in html
    assert '<pre class="hl"><code class="language-js"><span class="kd">const</span>' in html
    assert "19 of 20 questions left today" in html


def test_a_refusal_is_shown_and_the_question_kept(gemini, page, settings):
    settings.ASSISTANT_MAX_PROMPT_CHARS = 10
    response = page.post("/assistant/", {"prompt": "far too long a question"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Questions are limited to 10 characters" in html
    assert "far too long a question</textarea>" in html
    assert gemini.requests == []


def test_without_a_key_the_page_says_so_and_asks_nothing(no_gemini, page):
    html = page.get("/assistant/").content.decode()
    assert "The assistant is not configured on this server." in html
    assert "data-assistant-page-form" not in html
    response = page.post("/assistant/", {"prompt": "hi"})
    assert "not configured" in response.content.decode()
    assert no_gemini.requests == [] and not Exchange.objects.exists()


def test_empty_state_before_any_question(gemini, page):
    assert "No questions yet." in page.get("/assistant/").content.decode()


def test_the_page_needs_a_login(gemini):
    response = Client().get("/assistant/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
