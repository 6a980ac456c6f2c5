"""assistant.client through the real google-genai SDK against the fake Gemini server:
what it sends, its bounded retry, and how each failure comes out."""

import json
import urllib.request

import pytest
from google import genai
from google.genai import types

from assistant import client
from assistant.client import (
    AssistantNoAnswer,
    AssistantOverloaded,
    AssistantTimeout,
    AssistantUnavailable,
    AssistantUpstreamError,
    ModelRequest,
)
from tests.assistant.fake_gemini import Reply

REQUEST = ModelRequest(system_instruction="Be brief.", contents="Hi?", max_output_tokens=64)


async def collect(request=REQUEST) -> list[client.Piece]:
    return [piece async for piece in client.answer_stream(request)]


async def test_stream_sends_model_system_instruction_cap_and_key_and_yields_chunks(gemini):
    gemini.add(
        Reply.text(
            "Hel", "lo", usage={"promptTokenCount": 7, "candidatesTokenCount": 2}, delay=0.01
        )
    )
    pieces = await collect()
    assert [p.text for p in pieces] == ["Hel", "lo"]
    assert (pieces[-1].prompt_tokens, pieces[-1].output_tokens) == (7, 2)
    assert pieces[-1].finish_reason == "STOP"
    [sent] = gemini.requests
    # google-genai 3.6.1 uses the v1 path (not v1beta), streaming as server-sent events.
    assert (sent.version, sent.model, sent.action) == (
        "v1",
        "gemini-2.5-flash",
        "streamGenerateContent",
    )
    assert sent.query == {"alt": ["sse"]}
    assert sent.headers["x-goog-api-key"] == "test-key"
    assert sent.system_instruction == "Be brief."
    assert sent.user_text == "Hi?"
    assert sent.generation_config["maxOutputTokens"] == 64


def test_one_shot_uses_generate_content(gemini):
    gemini.add(
        Reply.text("All ", "at once", usage={"promptTokenCount": 3, "candidatesTokenCount": 4})
    )
    answer = client.answer_once(REQUEST)
    assert answer.text == "All at once"
    assert (answer.prompt_tokens, answer.output_tokens, answer.truncated) == (3, 4, False)
    [sent] = gemini.requests
    assert sent.action == "generateContent" and sent.query == {}


def test_an_answer_cut_at_the_output_cap_is_marked_truncated(gemini):
    gemini.add(Reply.text("Long answ", finish_reason="MAX_TOKENS"))
    assert client.answer_once(REQUEST).truncated is True


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("gemini-2.5-flash", {"thinking_budget": 0}),
        ("gemini-2.5-flash-lite", {"thinking_budget": 0}),
        ("gemini-2.5-pro", {"thinking_budget": 128}),
        ("gemini-3-flash-preview", {"thinking_level": "MINIMAL"}),
        ("gemini-3-pro-preview", {"thinking_level": "LOW"}),
        ("some-other-model", None),
    ],
)
def test_thinking_is_off_or_minimal_for_latency(gemini, settings, model, expected):
    settings.GEMINI_MODEL = model
    client.answer_once(REQUEST)
    [sent] = gemini.requests
    assert sent.model == model
    assert sent.generation_config.get("thinkingConfig") == expected


def test_the_fake_answers_under_v1beta_too(gemini):
    sdk = genai.Client(
        api_key="k", http_options=types.HttpOptions(base_url=gemini.url, api_version="v1beta")
    )
    assert sdk.models.generate_content(model="m", contents="x").text == "ok"
    body = json.dumps({"contents": [{"parts": [{"text": "x"}]}]}).encode()
    raw = urllib.request.Request(
        f"{gemini.url}/v1beta/models/m:streamGenerateContent?alt=sse", data=body, method="POST"
    )
    with urllib.request.urlopen(raw, timeout=5) as response:
        assert response.headers["Content-Type"] == "text/event-stream"
        assert response.read().decode().startswith("data: {")
    assert [r.version for r in gemini.requests] == ["v1beta", "v1beta"]


async def test_a_transient_500_is_retried_once(gemini):
    gemini.add(Reply.error(500))
    assert [p.text for p in await collect()] == ["ok"]
    assert len(gemini.requests) == 2


async def test_two_500s_give_upstream_error(gemini):
    gemini.add(Reply.error(500), Reply.error(503))
    with pytest.raises(AssistantUpstreamError) as caught:
        await collect()
    assert caught.value.status == 502 and "HTTP 503" in caught.value.detail
    assert len(gemini.requests) == 2  # bounded: one retry


async def test_429_is_not_retried_and_says_overloaded(gemini):
    gemini.add(Reply.error(429))
    with pytest.raises(AssistantOverloaded):
        await collect()
    assert len(gemini.requests) == 1


async def test_a_server_silent_past_the_timeout_gives_timeout(gemini):
    gemini.add(Reply.hang(10), Reply.hang(10))
    with pytest.raises(AssistantTimeout) as caught:
        await collect()
    assert caught.value.code == "assistant_timeout" and caught.value.status == 504


async def test_a_malformed_stream_gives_upstream_error_after_the_good_chunks(gemini):
    gemini.add(Reply.malformed())
    pieces = []
    with pytest.raises(AssistantUpstreamError) as caught:
        async for piece in client.answer_stream(REQUEST):
            pieces.append(piece.text)
    assert pieces == ["Half an ans"]
    assert "could not be read" in caught.value.detail


def test_an_empty_one_shot_answer_is_not_an_answer(gemini):
    gemini.add(Reply.text(""))
    with pytest.raises(AssistantNoAnswer):
        client.answer_once(REQUEST)


async def test_without_a_key_nothing_is_sent(no_gemini):
    with pytest.raises(AssistantUnavailable) as caught:
        await collect()
    assert caught.value.status == 503 and caught.value.code == "assistant_unavailable"
    with pytest.raises(AssistantUnavailable):
        client.answer_once(REQUEST)
    assert no_gemini.requests == []
