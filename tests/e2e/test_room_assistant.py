"""The assistant in an open room, in two real browsers (issue 13's must-show).

Teacher and learner open the room of a scheduled booking and join; the learner asks
the assistant; both pages show the answer streaming in (the fake Gemini server sends
it in pieces, a second apart), then the final server-rendered answer with a highlighted
code block and a working copy button. The server talks to the fake through the real
google-genai SDK (``GEMINI_BASE_URL``).
"""

import pytest
from playwright.sync_api import expect

from tests.assistant.fake_gemini import FakeGemini, Reply
from tests.e2e.conftest import log_in
from tests.e2e.test_room import NO_ICE_SERVERS, open_room, scheduled_booking

pytestmark = pytest.mark.browser

CODE = "def add(a, b):\n    return a + b\n"
ANSWER = [
    "Your function never returns its result.\n\n",
    "Here is the fix:\n\n```python\n",
    CODE,
    "```\n\nNow `add(2, 3)` gives `5`.",
]


@pytest.fixture
def fake_gemini():
    with FakeGemini() as fake:
        yield fake


def test_one_asks_and_both_see_the_streamed_answer_with_highlighted_code(
    start_server, new_page, fake_gemini
):
    fake_gemini.add(Reply.text(*ANSWER, delay=1.0))
    server = start_server(
        extra_env={
            **NO_ICE_SERVERS,
            "GEMINI_API_KEY": "test-key",
            "GEMINI_BASE_URL": fake_gemini.url,
            "GEMINI_TIMEOUT_SECONDS": "10",
        }
    )
    booking, learner, teacher = scheduled_booking()
    pages = {}
    for person in (teacher, learner):
        page = new_page(permissions=["clipboard-read", "clipboard-write"])
        log_in(page, server.url, person.username)
        open_room(page, server.url, booking.pk)
        page.get_by_role("button", name="Join now").click()
        expect(page.locator("[data-assistant-form]")).to_be_visible()
        expect(page.locator("[data-assistant-quota]")).to_have_text("20 of 20 questions left today")
        pages[person.username] = page
    teacher_page, learner_page = pages[teacher.username], pages[learner.username]

    box = learner_page.get_by_label("Question for the assistant")
    box.fill("Why does add() give None?\n\ndef add(a, b):\n    a + b")
    box.press("Control+Enter")
    expect(box).to_have_value("")

    # Streaming: both pages show the first pieces while the answer is still being written.
    for page in (teacher_page, learner_page):
        streaming = page.locator('.assistant-entry[data-status="streaming"] .assistant-answer')
        expect(streaming).to_contain_text("Your function never returns its result.")
        expect(page.locator("[data-assistant-stop]")).to_be_visible()
    expect(teacher_page.locator(".assistant-entry .assistant-meta")).to_contain_text(
        f"{learner.username} asked"
    )
    expect(learner_page.locator(".assistant-entry .assistant-meta")).to_contain_text("You asked")

    # Done: the server's HTML, with the code block highlighted and a copy button.
    for page in (teacher_page, learner_page):
        entry = page.locator('.assistant-entry[data-status="done"]')
        expect(entry).to_have_count(1, timeout=15_000)
        code = entry.locator(".code-block pre.hl code.language-python")
        expect(code).to_have_text(CODE)
        expect(code.locator("span.k").first).to_have_text("def")
        expect(code.locator("span.nf")).to_have_text("add")
        expect(entry.locator(".code-lang")).to_have_text("python")
        expect(entry.locator(".assistant-answer p code").first).to_have_text("add(2, 3)")
        expect(page.locator("[data-assistant-stop]")).to_be_hidden()
        # Highlighting is styled: keywords are not the text colour.
        keyword, plain = code.evaluate(
            """(el) => [getComputedStyle(el.querySelector('span.k')).color,
                        getComputedStyle(el).color]"""
        )
        assert keyword != plain
    expect(learner_page.locator("[data-assistant-quota]")).to_have_text(
        "19 of 20 questions left today"
    )

    # The copy button works from the keyboard.
    copy = teacher_page.locator(".code-copy")
    copy.focus()
    teacher_page.keyboard.press("Enter")
    expect(copy).to_have_text("Copied")
    assert teacher_page.evaluate("navigator.clipboard.readText()") == CODE

    [sent] = fake_gemini.requests
    assert sent.action == "streamGenerateContent"
    assert "Why does add() give None?" in sent.user_text

    # Reloading the room brings the saved answer back.
    teacher_page.reload()
    teacher_page.get_by_role("button", name="Join now").click()
    reloaded = teacher_page.locator('.assistant-entry[data-status="done"]')
    expect(reloaded.locator("pre.hl code.language-python")).to_have_text(CODE)
    expect(reloaded.locator(".code-copy")).to_be_visible()


def test_without_a_key_the_panel_says_not_configured(start_server, new_page):
    server = start_server(extra_env={**NO_ICE_SERVERS, "GEMINI_API_KEY": ""})
    booking, learner, _ = scheduled_booking()
    page = new_page()
    log_in(page, server.url, learner.username)
    open_room(page, server.url, booking.pk)
    page.get_by_role("button", name="Join now").click()
    expect(page.locator("[data-assistant-note]")).to_have_text(
        "The AI assistant is not configured on this server, so it cannot answer here."
    )
    expect(page.locator("[data-assistant-form]")).to_be_hidden()
