"""The fake Gemini server (a real HTTP server on 127.0.0.1) and settings pointing the
real google-genai SDK at it."""

import pytest

from tests.assistant.fake_gemini import FakeGemini


@pytest.fixture
def fake_gemini():
    with FakeGemini() as fake:
        yield fake


@pytest.fixture
def gemini(settings, fake_gemini):
    """The assistant configured against the fake server (short timeout: tests hang it)."""
    settings.GEMINI_API_KEY = "test-key"
    settings.GEMINI_BASE_URL = fake_gemini.url
    settings.GEMINI_MODEL = "gemini-2.5-flash"
    settings.GEMINI_TIMEOUT_SECONDS = 1.0
    return fake_gemini


@pytest.fixture
def no_gemini(settings, fake_gemini):
    """No key: the fake is up, so a test can show that nothing reached it."""
    settings.GEMINI_API_KEY = ""
    settings.GEMINI_BASE_URL = fake_gemini.url
    return fake_gemini
