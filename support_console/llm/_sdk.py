"""Everything that touches the `openai` SDK: building the client for a provider and mapping its errors.

Why a separate module: importing `openai` costs about a second, so the client imports this module only when it
first sends a request; the CLI's offline commands and the UI's start-up never pay for it.

Azure has two routes. With an `api_version` (e.g. 2024-10-21) the classic deployments route
(`/openai/deployments/NAME/chat/completions?api-version=…`) is used through `AsyncAzureOpenAI`; without one
(or with "v1") the newer version-less `/openai/v1/` route is used through a plain `AsyncOpenAI`, as Microsoft
documents. Either way the request's `model` is the deployment name, so one client serves every deployment a
persona may name.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from typing import Any

import httpx2
import openai
from openai import AsyncAzureOpenAI, AsyncOpenAI
from openai._constants import INITIAL_RETRY_DELAY, MAX_RETRY_AFTER_DELAY, MAX_RETRY_DELAY
from openai._httpx2 import request_exceptions, timeout_exceptions
from openai._streaming_cleanup import drain_response_async

from support_console.config.settings import ProviderSettings
from support_console.core.urls import safe_url
from support_console.llm.errors import ErrorKind, LLMError
from support_console.llm.limits import Deadlines, ReplyLimit
from support_console.llm.overflow import Overflow, read_overflow
from support_console.llm.redaction import redact, shorten

__all__ = [
    "ReplyTooLarge",
    "body_done",
    "body_reads",
    "build_client",
    "cap_body",
    "deadline_error",
    "mentions_stream_options",
    "retry_delay",
    "stream_error",
    "to_llm_error",
    "too_long_error",
]

OPENAI_URL = "https://api.openai.com/v1"
NO_KEY_PLACEHOLDER = "no-key-needed"  # compatible servers without auth still need *a* key for the SDK
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
V1_API_VERSIONS = frozenset({"v1", "latest"})


def build_client(provider: ProviderSettings) -> AsyncOpenAI:
    """The SDK client for ``provider``; LLMError(NOT_CONFIGURED) saying what to set when it can't be built."""
    try:
        return _build(provider)
    except (openai.OpenAIError, ValueError) as exc:  # the SDK's own checks (credentials, api_version, URLs)
        raise _not_configured(
            f"The model client could not be set up: {shorten(redact(str(exc), provider.api_key))}"
        ) from None


def _sdk_limits(provider: ProviderSettings) -> dict[str, Any]:
    """The SDK's own timeout and retries are off: the client retries within its deadlines (llm/limits.py).

    Left on, they multiply the wait: each of max_retries + 1 attempts would get the whole timeout, and a
    keep-alive would restart it. The SDK's timeout stays only as a backstop just past the overall deadline.
    """
    return {"timeout": provider.total_timeout + 5.0, "max_retries": 0}


def _build(provider: ProviderSettings) -> AsyncOpenAI:
    if provider.kind is None:
        raise _not_configured("No model provider is configured")
    missing = [need for need in provider.missing() if not (provider.kind == "azure" and "API_KEY" in need)]
    if missing:
        raise _not_configured("The model provider is not fully configured: " + "; ".join(missing))
    if provider.kind == "azure":
        return _azure_client(provider)
    base_url: str | None = provider.base_url
    api_key: str | None = provider.api_key
    if provider.kind == "openai":
        base_url = base_url or OPENAI_URL
    else:
        api_key = api_key or NO_KEY_PLACEHOLDER
    return AsyncOpenAI(api_key=api_key, base_url=base_url, **_sdk_limits(provider))


def _azure_client(provider: ProviderSettings) -> AsyncOpenAI:
    endpoint = (provider.azure_endpoint or "").rstrip("/")
    token = _entra_token_provider() if provider.azure_auth == "entra" else None
    if token is None and not provider.api_key:
        raise _not_configured(
            "Azure OpenAI needs a key: set AZURE_OPENAI_API_KEY (or api_key under [provider] in the config "
            'file), or set azure_auth = "entra" under [provider] to sign in with Entra ID'
        )
    limits = _sdk_limits(provider)
    if provider.api_version and provider.api_version not in V1_API_VERSIONS:
        return AsyncAzureOpenAI(
            azure_endpoint=endpoint,
            api_version=provider.api_version,
            api_key=None if token else provider.api_key,
            azure_ad_token_provider=token,
            **limits,
        )
    base_url = f"{endpoint}/openai/v1"
    if token is not None:
        sync_token = token

        async def bearer() -> str:
            return await asyncio.to_thread(sync_token)

        return AsyncOpenAI(api_key=bearer, base_url=base_url, **limits)
    return AsyncOpenAI(api_key=provider.api_key, base_url=base_url, **limits)


def _entra_token_provider() -> Callable[[], str]:
    """A bearer-token provider for Entra ID (DefaultAzureCredential: az login, managed identity, …)."""
    try:
        from azure.identity import DefaultAzureCredential, get_bearer_token_provider
    except ImportError:
        raise _not_configured(
            "Entra ID sign-in needs the optional azure-identity package: run "
            "`pip install 'support-console[entra]'`, or use a key (AZURE_OPENAI_API_KEY)"
        ) from None
    provider: Callable[[], str] = get_bearer_token_provider(DefaultAzureCredential(), ENTRA_SCOPE)
    return provider


def _not_configured(what: str) -> LLMError:
    return LLMError(
        f"{what}. Run `support-console config` to see the settings.", kind=ErrorKind.NOT_CONFIGURED
    )


# ------------------------------------------------------------------------------------------------ errors


def mentions_stream_options(exc: openai.BadRequestError) -> bool:
    """True when a 400 complains about `stream_options` (some compatible servers don't know it)."""
    return "stream_options" in f"{exc.message} {json.dumps(exc.body, default=str)}"


def _server_message(exc: openai.APIError, key: str | None) -> str:
    """The server's own words, without the key and at most a sentence or two long."""
    body = exc.body if isinstance(exc.body, dict) else {}
    message = body.get("message") if isinstance(body.get("message"), str) else exc.message
    return shorten(redact(str(message).strip().rstrip("."), key))


# ----------------------------------------------------------------------------------------------- retries


def retry_delay(exc: openai.OpenAIError, retried: int, max_retries: int) -> float | None:
    """Seconds to wait before trying again after ``exc``, or None when it is not worth another attempt.

    The SDK's own policy (its retries are off, see _sdk_limits): connection failures, 408, 409, 429 and 5xx
    are retried, the server's ``x-should-retry`` and a ``retry-after`` of up to two minutes are obeyed, and a
    longer retry-after means give up now; otherwise exponential backoff with jitter. Whether the wait still
    fits the deadline is the caller's decision.
    """
    if retried >= max_retries:
        return None
    if isinstance(exc, openai.APIStatusError) and overflow_of(exc) is not None:
        return None  # llama-server's HTTP 500 overflow: the same request fails the same way again
    if isinstance(exc, openai.APIStatusError):
        headers = exc.response.headers
        wait = retry_after_seconds(headers)
        if wait is not None and math.isfinite(wait) and wait > MAX_RETRY_AFTER_DELAY:
            return None
        verdict = headers.get("x-should-retry")
        status = exc.status_code
        if verdict == "false" or (verdict != "true" and status not in (408, 409, 429) and status < 500):
            return None
        if wait is not None and wait > 0:
            return wait
    elif not isinstance(exc, openai.APIConnectionError):  # includes APITimeoutError
        return None
    backoff = min(INITIAL_RETRY_DELAY * 2.0**retried, MAX_RETRY_DELAY)
    return backoff * (1 - 0.25 * random.random())


# ------------------------------------------------------------------------------------ the streamed body


async def body_reads(response: httpx2.Response) -> AsyncGenerator[bytes, None]:
    """The body of a streamed response as it is read from the network, with the SDK's errors.

    The client decodes the events itself (llm/sse.py), so it reads the body the SDK would have read and
    fails as the SDK's stream fails: a read timing out is APITimeoutError, a connection breaking is
    APIConnectionError.
    """
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    except timeout_exceptions() as err:
        raise openai.APITimeoutError(request=response.request) from err
    except request_exceptions() as err:
        raise openai.APIConnectionError(request=response.request) from err


async def body_done(response: httpx2.Response) -> None:
    """The stream said [DONE]: over HTTP/1.1 read what is left (briefly), so the connection can be reused,
    as the SDK's stream does."""
    if response.http_version == "HTTP/1.1":
        await drain_response_async(response)


def stream_error(response: httpx2.Response, error: object) -> openai.APIError:
    """An `{"error": …}` event in the middle of a stream, as the SDK's stream raises it."""
    message = error.get("message") if isinstance(error, Mapping) else None
    if not message or not isinstance(message, str):
        message = "An error occurred during streaming"
    return openai.APIError(message=message, request=response.request, body=error)


# ------------------------------------------------------------------------------------------ reply limits


class ReplyTooLarge(Exception):
    """The response body went past its byte cap (see cap_body)."""


class _CappedStream(httpx2.AsyncByteStream):
    """A response body that raises ReplyTooLarge once more than ``max_bytes`` have come."""

    def __init__(self, inner: httpx2.AsyncByteStream, max_bytes: int) -> None:
        self._inner = inner
        self._max_bytes = max_bytes

    async def __aiter__(self) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in self._inner:
            seen += len(chunk)
            if seen > self._max_bytes:
                raise ReplyTooLarge(seen)
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


def cap_body(response: httpx2.Response, max_bytes: int) -> None:
    """Bound the bytes ``response`` may still deliver, before anything reads its body (the SDK reads a whole
    event before it yields one, so a server sending one enormous event is stopped here, not by the token
    count)."""
    if isinstance(response.stream, httpx2.AsyncByteStream):
        response.stream = _CappedStream(response.stream, max_bytes)


def too_long_error(provider: ProviderSettings, limit: ReplyLimit, partial: str, what: str) -> LLMError:
    """A reply stopped for running far past its max_tokens (``what``: how far it got)."""
    return LLMError(
        f"The reply from {_where(provider)} ran far past the {limit.max_tokens} tokens asked for "
        f"(max_tokens) and was stopped after {what}.{_partial_note(partial)} The server is ignoring "
        "max_tokens: check it, or finish the draft by hand.",
        kind=ErrorKind.STREAM_ERROR,
        partial=partial,
    )


def deadline_error(
    provider: ProviderSettings, deadlines: Deadlines, partial: str, answered: bool
) -> LLMError:
    """The wait that ran out, in seconds really waited; ``answered``: the server had begun a response."""
    where, note, attempts = _where(provider), _partial_note(partial), deadlines.attempts_text()
    if deadlines.overall_expired():
        what = (
            f"{where} was still sending the reply after {_seconds(deadlines.total)}, the limit for a whole "
            f"reply ({attempts}).{note} Draft again, or raise total_timeout under [provider] in the config "
            "file."
        )
    elif not deadlines.waiting_for_text:
        what = (
            f"The reply from {where} stalled: no new text for {_seconds(deadlines.stall)}.{note} Draft "
            "again; if it keeps happening, check the server or raise stall_timeout under [provider] in the "
            "config file."
        )
    else:
        how = "answered but sent no reply text" if answered else "did not answer"
        what = (
            f"{where} {how} within {_seconds(deadlines.first_token)} ({attempts}).{note} Try again; if it "
            "keeps happening, check the network or raise first_token_timeout under [provider] in the config "
            "file."
        )
    return LLMError(what, kind=ErrorKind.TIMEOUT, partial=partial)


def where(provider: ProviderSettings) -> str:
    """The service in words: "the OpenAI-compatible server at http://…", "Azure OpenAI at …", "OpenAI"."""
    return _where(provider)


def _where(provider: ProviderSettings) -> str:
    if provider.kind == "azure":
        return f"Azure OpenAI at {safe_url(provider.azure_endpoint)}"
    if provider.kind == "compatible":
        return f"the OpenAI-compatible server at {safe_url(provider.base_url)}"
    return "OpenAI"


def _key_setting(provider: ProviderSettings) -> str:
    if provider.kind == "azure":
        if provider.azure_auth == "entra":
            return "your Entra ID sign-in (az login) and that it has the Cognitive Services OpenAI User role"
        return "AZURE_OPENAI_API_KEY (or api_key under [provider] in the config file)"
    return "OPENAI_API_KEY (or api_key under [provider] in the config file)"


def _model_words(provider: ProviderSettings, model: str) -> str:
    if provider.kind == "azure":
        return f"deployment '{model}'"
    return f"model '{model}'"


def _partial_note(partial: str) -> str:
    return f" The {len(partial)} characters received so far are kept as the draft." if partial else ""


def retry_after_seconds(headers: Mapping[str, str]) -> float | None:
    """The wait a 429 asks for: retry-after-ms, retry-after in seconds, or retry-after as an HTTP date."""
    for name, divisor in (("retry-after-ms", 1000.0), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) / divisor)
        except ValueError:
            parsed = email.utils.parsedate_tz(value)
            if parsed is not None:
                return max(0.0, email.utils.mktime_tz(parsed) - time.time())
    return None


def content_filter_category(results: object) -> str | None:
    """The filtered categories in an Azure `content_filter_result(s)` object, e.g. "self_harm"."""
    if not isinstance(results, dict):
        return None
    hits = [
        name for name, verdict in results.items() if isinstance(verdict, dict) and verdict.get("filtered")
    ]
    return shorten(", ".join(sorted(hits)), 100) or None


def to_llm_error(
    exc: openai.OpenAIError,
    provider: ProviderSettings,
    model: str,
    partial: str,
    streaming: bool,
    attempts: int = 1,
) -> LLMError:
    """Map an SDK error to an LLMError whose text says what to do. ``streaming``: the reply had started;
    ``attempts``: how many requests were sent."""
    where = _where(provider)
    note = _partial_note(partial)
    if isinstance(exc, openai.APITimeoutError):
        return LLMError(
            f"{where} did not answer in time ({attempts} attempt{'s' * (attempts != 1)}).{note} Try again; "
            "if it keeps happening, check the network or raise first_token_timeout under [provider] in the "
            "config file.",
            kind=ErrorKind.TIMEOUT,
            partial=partial,
        )
    if isinstance(exc, openai.APIConnectionError):
        if streaming:
            return _stream_broke(where, note, partial, "the connection broke")
        return LLMError(
            f"Could not connect to {safe_url(str(exc.request.url))}. Check the address "
            "(OPENAI_BASE_URL / AZURE_OPENAI_ENDPOINT / --base-url), that the server is running and that the "
            "network allows the connection.",
            kind=ErrorKind.UNREACHABLE,
            partial=partial,
        )
    if isinstance(exc, openai.APIStatusError):
        return _status_error(exc, provider, model, partial, attempts)
    if isinstance(exc, openai.APIError):  # an {"error": …} event in the middle of a stream
        code = str(exc.code or "")
        if code == "content_filter":
            return _content_filter(exc.body, partial, note)
        return _stream_broke(
            where, note, partial, f"it reported an error ({_server_message(exc, provider.api_key)})"
        )
    return LLMError(
        f"The model client could not be set up: {shorten(redact(str(exc), provider.api_key))}. Run "
        "`support-console config` to check the provider settings.",
        kind=ErrorKind.NOT_CONFIGURED,
        partial=partial,
    )


def _stream_broke(where: str, note: str, partial: str, what: str) -> LLMError:
    return LLMError(
        f"The reply from {where} stopped before it was complete: {what}.{note} Draft again, or finish the "
        "draft by hand.",
        kind=ErrorKind.STREAM_ERROR,
        partial=partial,
    )


def _content_filter(body: object, partial: str, note: str) -> LLMError:
    inner = body.get("innererror") if isinstance(body, dict) else None
    category = content_filter_category(
        inner.get("content_filter_result") if isinstance(inner, dict) else None
    )
    about = f" (category: {category})" if category else ""
    return LLMError(
        f"The provider's content filter blocked this request{about}.{note} Rephrase the customer's message "
        "or the persona's instructions, or write this reply by hand.",
        kind=ErrorKind.CONTENT_FILTER,
        partial=partial,
        category=category,
    )


def overflow_of(exc: openai.APIStatusError) -> Overflow | None:
    """The context-window overflow ``exc`` reports, in any server's dialect (llm/overflow.py), or None."""
    if exc.status_code in (401, 403, 404, 429):
        return None
    body = exc.body if isinstance(exc.body, dict) else {}
    if exc.type and "type" not in body:
        body = {**body, "type": exc.type}
    if exc.code and "code" not in body:
        body = {**body, "code": exc.code}
    return read_overflow(body, str(exc.message))


def _overflow_error(
    exc: openai.APIStatusError, overflow: Overflow, provider: ProviderSettings, model: str, partial: str
) -> LLMError:
    """The conversation does not fit: the numbers the server gave, and the retry that will fit."""
    window, prompt, note = overflow.context_window, overflow.prompt_tokens, _partial_note(partial)
    said = _server_message(exc, provider.api_key)
    size = f"its {window:,}-token context window" if window else "its context window"
    counted = f" (it counted {prompt:,} prompt tokens)" if prompt else ""
    setting = f'context_window under [models."{model}"] in the config file'
    if window and provider.kind == "compatible":  # drafting remembers the window for this server
        retry = (
            f"Generate again to retry with the history trimmed to fit {window:,} tokens (the window is now "
            f"remembered; {setting} overrides it)"
        )
    elif window:
        retry = f"Set {setting} to {window}, then generate again to retry with the history trimmed to fit"
    else:
        retry = (
            f"Set the server's real window with {setting}, then generate again to retry with the history "
            "trimmed to fit"
        )
    return LLMError(
        f"The conversation is too long for {_model_words(provider, model)} at {_where(provider)}: the "
        f"request does not fit {size}{counted} (HTTP {exc.status_code}: {said}).{note} {retry}, or lower "
        "the persona's max_tokens.",
        kind=ErrorKind.CONTEXT_LENGTH,
        partial=partial,
        context_window=window,
        prompt_tokens=prompt,
    )


def _status_error(
    exc: openai.APIStatusError, provider: ProviderSettings, model: str, partial: str, attempts: int
) -> LLMError:
    where, note, status = _where(provider), _partial_note(partial), exc.status_code
    code = str(exc.code or "")
    overflow = overflow_of(exc)
    if overflow is not None:
        return _overflow_error(exc, overflow, provider, model, partial)
    if status in (401, 403):
        refused = (
            "refused the credentials" if status == 401 else "does not allow these credentials to do this"
        )
        # The server's message is never shown: for a bad key it echoes part of the key.
        return LLMError(
            f"{where} {refused} (HTTP {status}).{note} Check {_key_setting(provider)}.",
            kind=ErrorKind.AUTH,
            partial=partial,
        )
    if status == 404:
        setting = "--deployment / the persona's deployment" if provider.kind == "azure" else "--model"
        extra = " and the api-version" if provider.kind == "azure" and provider.api_version else ""
        return LLMError(
            f"{where} has no {_model_words(provider, model)} (HTTP 404), or the key cannot use it.{note} "
            f"Check the name ({setting}, or the persona's model){extra}.",
            kind=ErrorKind.NOT_FOUND,
            partial=partial,
        )
    if status == 429:
        return _rate_limited(exc, where, code, partial, note, attempts - 1)
    if status >= 500 or status == 408:
        tried = f" ({attempts} attempts)" if attempts > 1 else ""
        return LLMError(
            f"{where} had a problem of its own (HTTP {status}){tried}.{note} Try again in a minute.",
            kind=ErrorKind.SERVER if status >= 500 else ErrorKind.TIMEOUT,
            partial=partial,
        )
    if code == "content_filter":
        return _content_filter(exc.body, partial, note)
    message = _server_message(exc, provider.api_key)
    return LLMError(
        f"{where} rejected the request (HTTP {status}): {message}.{note} Check the persona's parameters and "
        "the model name.",
        kind=ErrorKind.BAD_REQUEST,
        partial=partial,
    )


def _rate_limited(
    exc: openai.APIStatusError, where: str, code: str, partial: str, note: str, retried: int
) -> LLMError:
    if code == "insufficient_quota":
        return LLMError(
            f"{where} says the account has run out of quota (HTTP 429).{note} Check the plan and billing, "
            "then draft again.",
            kind=ErrorKind.RATE_LIMIT,
            partial=partial,
        )
    wait = retry_after_seconds(exc.response.headers)
    advice = f"wait about {_duration(wait)}" if wait is not None else "wait a minute"
    tries = f"; gave up after {retried} retr{'y' if retried == 1 else 'ies'}" if retried else ""
    return LLMError(
        f"{where} is rate-limiting requests (HTTP 429){tries}.{note} Please {advice}, then draft again.",
        kind=ErrorKind.RATE_LIMIT,
        partial=partial,
        retry_after=wait,
    )


def _seconds(value: float) -> str:
    """A configured limit as written: "1 second", "0.5 seconds", "30 seconds"."""
    return f"{value:g} second{'s' * (value != 1)}"


def _duration(seconds: float) -> str:
    """A wait as people say it: "1 second", "45 seconds", "3 minutes", "2 hours"."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= 2 * size:
            count = round(seconds / size)
            return f"{count} {unit}s"
    count = max(1, round(seconds))
    return f"{count} second{'s' * (count != 1)}"
