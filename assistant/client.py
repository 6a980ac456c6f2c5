"""The Gemini client: google-genai's async streaming and sync one-shot calls.

Settings: ``GEMINI_API_KEY`` (without it nothing is called: ``AssistantUnavailable``),
``GEMINI_MODEL``, ``GEMINI_BASE_URL`` (a proxy, or the tests' fake server; the SDK
appends ``/v1/models/<model>:…``), ``GEMINI_TIMEOUT_SECONDS`` (per HTTP operation: a
server that sends nothing for that long fails the call), ``ASSISTANT_MAX_OUTPUT_TOKENS``.
Transient failures (connection errors, timeouts, HTTP 408/500/502/503/504) are retried
once by the SDK before any text has arrived; a stream that fails midway is not
retried (its text has already been shown). Every failure leaves this module as an
``AppError`` with a code a client can act on.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import re
import threading
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass

from django.conf import settings
from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from skilllink.errors import AppError

logger = logging.getLogger(__name__)

RETRY_ATTEMPTS = 2  # the first call and one retry
RETRY_STATUSES = [408, 500, 502, 503, 504]  # not 429: a quota does not clear in a second


class AssistantUnavailable(AppError):
    code = "assistant_unavailable"
    status = 503


class AssistantTimeout(AppError):
    code = "assistant_timeout"
    status = 504


class AssistantUpstreamError(AppError):
    code = "assistant_upstream_error"
    status = 502


class AssistantOverloaded(AppError):
    code = "assistant_overloaded"
    status = 503


class AssistantNoAnswer(AppError):
    code = "assistant_no_answer"
    status = 502


NOT_CONFIGURED = "The AI assistant is not configured on this server (no GEMINI_API_KEY)."


def _http_modules() -> list:
    """httpx and its fork httpx2, whichever are installed (the SDK talks HTTP through them)."""
    found = []
    for name in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(name))
        except ImportError:
            continue
    return found


_HTTP_MODULES = _http_modules()
_TIMEOUTS = tuple(m.TimeoutException for m in _HTTP_MODULES)
_TRANSPORT_ERRORS = tuple(m.HTTPError for m in _HTTP_MODULES)


@dataclass(frozen=True)
class ModelRequest:
    """What one call sends: the system instruction, the user's turn, the output cap."""

    system_instruction: str
    contents: str
    max_output_tokens: int


@dataclass
class Piece:
    """One streamed chunk: its text and, on the last ones, usage and finish reason."""

    text: str
    prompt_tokens: int | None = None
    output_tokens: int | None = None
    finish_reason: str | None = None


@dataclass
class Answer:
    text: str
    prompt_tokens: int | None
    output_tokens: int | None
    truncated: bool
    total_ms: int


def configured() -> bool:
    return bool(settings.GEMINI_API_KEY)


def require_configured() -> None:
    if not configured():
        raise AssistantUnavailable(NOT_CONFIGURED)


def thinking_for(model: str) -> types.ThinkingConfig | None:
    """As little thinking as the model allows: answers start sooner (latency matters in a
    live session). Flash 2.x turns it off; 2.5 Pro cannot (128 is its least); Gemini 3
    models take a level instead of a budget."""
    if re.match(r"gemini-2\.\d+-flash", model):
        return types.ThinkingConfig(thinking_budget=0)
    if model.startswith("gemini-2.5-pro"):
        return types.ThinkingConfig(thinking_budget=128)
    if re.match(r"gemini-[3-9]", model):
        level = types.ThinkingLevel.MINIMAL if "flash" in model else types.ThinkingLevel.LOW
        return types.ThinkingConfig(thinking_level=level)
    return None


def _config(request: ModelRequest) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        system_instruction=request.system_instruction,
        max_output_tokens=request.max_output_tokens,
        thinking_config=thinking_for(settings.GEMINI_MODEL),
        # No tools are declared; this only keeps the SDK from logging "AFC is enabled".
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True),
    )


def _settings_key() -> tuple:
    return (settings.GEMINI_API_KEY, settings.GEMINI_BASE_URL, settings.GEMINI_TIMEOUT_SECONDS)


def _new_client() -> genai.Client:
    return genai.Client(
        api_key=settings.GEMINI_API_KEY,
        http_options=types.HttpOptions(
            base_url=settings.GEMINI_BASE_URL or None,
            timeout=int(settings.GEMINI_TIMEOUT_SECONDS * 1000),  # milliseconds
            retry_options=types.HttpRetryOptions(
                attempts=RETRY_ATTEMPTS,
                initial_delay=0.5,
                max_delay=2.0,
                http_status_codes=RETRY_STATUSES,
            ),
        ),
    )


# A client holds pooled HTTP connections, which belong to the event loop that opened
# them: one client per loop (the server has one; tests have one per test), and one for
# the synchronous calls (any thread). A ``genai.Client`` closes its connections when it
# is garbage-collected, so callers keep a reference to it for the whole call.
_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_sync_clients: dict[tuple, genai.Client] = {}
_sync_lock = threading.Lock()


def _async_client() -> genai.Client:
    loop = asyncio.get_running_loop()
    per_loop = _async_clients.setdefault(loop, {})
    key = _settings_key()
    if key not in per_loop:
        per_loop.clear()
        per_loop[key] = _new_client()
    return per_loop[key]


def _sync_client() -> genai.Client:
    key = _settings_key()
    with _sync_lock:
        client = _sync_clients.get(key)
        if client is None:
            _sync_clients.clear()  # settings changed (tests): callers still hold theirs
            client = _sync_clients[key] = _new_client()
    return client


def _upstream(error: Exception) -> AppError:
    """Our error for a failure of the call (logged here, once)."""
    if isinstance(error, _TIMEOUTS):
        logger.warning("Gemini call timed out: %r", error)
        return AssistantTimeout(
            f"The AI service did not answer within {settings.GEMINI_TIMEOUT_SECONDS:g} seconds. "
            "Try again in a moment."
        )
    if isinstance(error, genai_errors.APIError):
        logger.warning("Gemini answered %s: %s", error.code, error.message)
        if error.code == 429:
            return AssistantOverloaded(
                "The AI service is over its rate limit right now. Try again in a minute."
            )
        if error.code in (401, 403):
            return AssistantUpstreamError(
                "The AI service refused this server's key. Tell the site's staff."
            )
        return AssistantUpstreamError(
            f"The AI service failed (HTTP {error.code}). Try again in a moment."
        )
    if isinstance(error, genai_errors.UnknownApiResponseError | ValueError):
        logger.warning("Gemini sent an unreadable reply: %r", error)
        return AssistantUpstreamError("The AI service sent a reply that could not be read.")
    if isinstance(error, _TRANSPORT_ERRORS):
        logger.warning("Gemini could not be reached: %r", error)
        return AssistantUpstreamError("The AI service could not be reached. Try again soon.")
    logger.exception("Gemini call failed", exc_info=error)
    return AssistantUpstreamError("The AI service failed. Try again in a moment.")


def _piece(chunk: types.GenerateContentResponse) -> Piece:
    """The text of the first candidate (thought parts excluded), and usage when present."""
    feedback = chunk.prompt_feedback
    if feedback is not None and feedback.block_reason:
        raise AssistantNoAnswer("The AI service declined to answer this question.")
    text, finish = "", None
    if chunk.candidates:
        candidate = chunk.candidates[0]
        if candidate.content is not None and candidate.content.parts:
            text = "".join(p.text for p in candidate.content.parts if p.text and not p.thought)
        if candidate.finish_reason is not None:
            finish = str(getattr(candidate.finish_reason, "value", candidate.finish_reason))
    usage = chunk.usage_metadata
    return Piece(
        text=text,
        prompt_tokens=usage.prompt_token_count if usage else None,
        output_tokens=usage.candidates_token_count if usage else None,
        finish_reason=finish,
    )


async def answer_stream(request: ModelRequest) -> AsyncIterator[Piece]:
    """Stream the answer to ``request`` chunk by chunk (``generate_content_stream``).

    Raises ``AssistantUnavailable`` without a key, else the ``AppError`` of a failure
    (timeout, HTTP error, unreadable stream) before or between chunks. Closing the
    generator early (a stop) closes the HTTP response.
    """
    require_configured()
    sdk = _async_client()  # held for the whole stream (see above)
    try:
        stream = await sdk.aio.models.generate_content_stream(
            model=settings.GEMINI_MODEL, contents=request.contents, config=_config(request)
        )
        async for chunk in stream:
            yield _piece(chunk)
    except AppError:
        raise
    except Exception as error:
        raise _upstream(error) from error


def answer_once(request: ModelRequest) -> Answer:
    """The whole answer in one call (``generate_content``), for callers without a socket."""
    require_configured()
    started = time.perf_counter()
    sdk = _sync_client()
    try:
        response = sdk.models.generate_content(
            model=settings.GEMINI_MODEL, contents=request.contents, config=_config(request)
        )
        piece = _piece(response)
    except AppError:
        raise
    except Exception as error:
        raise _upstream(error) from error
    if not piece.text.strip():
        raise AssistantNoAnswer("The AI service sent an empty answer.")
    return Answer(
        text=piece.text,
        prompt_tokens=piece.prompt_tokens,
        output_tokens=piece.output_tokens,
        truncated=piece.finish_reason == "MAX_TOKENS",
        total_ms=int((time.perf_counter() - started) * 1000),
    )
