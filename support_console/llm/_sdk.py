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
import re
import time
from collections.abc import Callable, Mapping

import openai
from openai import AsyncAzureOpenAI, AsyncOpenAI
from openai._constants import MAX_RETRY_AFTER_DELAY

from support_console.config.settings import ProviderSettings
from support_console.core.urls import safe_url
from support_console.llm.errors import ErrorKind, LLMError

__all__ = ["build_client", "mentions_stream_options", "to_llm_error"]

OPENAI_URL = "https://api.openai.com/v1"
NO_KEY_PLACEHOLDER = "no-key-needed"  # compatible servers without auth still need *a* key for the SDK
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
V1_API_VERSIONS = frozenset({"v1", "latest"})
_MASKED = re.compile(r"\S*\*{3,}\S*")  # "sk-abc*****2345": how services echo part of a key


def build_client(provider: ProviderSettings) -> AsyncOpenAI:
    """The SDK client for ``provider``; LLMError(NOT_CONFIGURED) saying what to set when it can't be built."""
    try:
        return _build(provider)
    except (openai.OpenAIError, ValueError) as exc:  # the SDK's own checks (credentials, api_version, URLs)
        raise _not_configured(
            f"The model client could not be set up: {redact(str(exc), provider.api_key)}"
        ) from None


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
    return AsyncOpenAI(
        api_key=api_key, base_url=base_url, timeout=provider.timeout, max_retries=provider.max_retries
    )


def _azure_client(provider: ProviderSettings) -> AsyncOpenAI:
    endpoint = (provider.azure_endpoint or "").rstrip("/")
    token = _entra_token_provider() if provider.azure_auth == "entra" else None
    if token is None and not provider.api_key:
        raise _not_configured(
            "Azure OpenAI needs a key: set AZURE_OPENAI_API_KEY (or api_key under [provider] in the config "
            'file), or set azure_auth = "entra" under [provider] to sign in with Entra ID'
        )
    timeout, retries = provider.timeout, provider.max_retries
    if provider.api_version and provider.api_version not in V1_API_VERSIONS:
        return AsyncAzureOpenAI(
            azure_endpoint=endpoint,
            api_version=provider.api_version,
            api_key=None if token else provider.api_key,
            azure_ad_token_provider=token,
            timeout=timeout,
            max_retries=retries,
        )
    base_url = f"{endpoint}/openai/v1"
    if token is not None:
        sync_token = token

        async def bearer() -> str:
            return await asyncio.to_thread(sync_token)

        return AsyncOpenAI(api_key=bearer, base_url=base_url, timeout=timeout, max_retries=retries)
    return AsyncOpenAI(api_key=provider.api_key, base_url=base_url, timeout=timeout, max_retries=retries)


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


def redact(text: str, key: str | None) -> str:
    """Remove a key, and anything that looks like a masked echo of one, from server text we show."""
    if key:
        text = text.replace(key, "[key]")
    return _MASKED.sub("[redacted]", text)


def _server_message(exc: openai.APIError, key: str | None) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    message = body.get("message") if isinstance(body.get("message"), str) else exc.message
    return redact(str(message).strip().rstrip("."), key)


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
    return ", ".join(sorted(hits)) or None


def to_llm_error(
    exc: openai.OpenAIError, provider: ProviderSettings, model: str, partial: str, streaming: bool
) -> LLMError:
    """Map an SDK error to an LLMError whose text says what to do. ``streaming``: the reply had started."""
    where = _where(provider)
    note = _partial_note(partial)
    if isinstance(exc, openai.APITimeoutError):
        return LLMError(
            f"{where} did not answer within {provider.timeout:g} seconds.{note} Try again; if it keeps "
            "happening, check the network or raise timeout under [provider] in the config file.",
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
        return _status_error(exc, provider, model, partial)
    if isinstance(exc, openai.APIError):  # an {"error": …} event in the middle of a stream
        code = str(exc.code or "")
        if code == "content_filter":
            return _content_filter(exc.body, partial, note)
        return _stream_broke(
            where, note, partial, f"it reported an error ({_server_message(exc, provider.api_key)})"
        )
    return LLMError(
        f"The model client could not be set up: {redact(str(exc), provider.api_key)}. Run "
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


def _status_error(
    exc: openai.APIStatusError, provider: ProviderSettings, model: str, partial: str
) -> LLMError:
    where, note, status = _where(provider), _partial_note(partial), exc.status_code
    code = str(exc.code or "")
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
        return _rate_limited(exc, provider, where, code, partial, note)
    if status >= 500 or status == 408:
        return LLMError(
            f"{where} had a problem of its own (HTTP {status}) and the retries did not help.{note} Try "
            "again in a minute.",
            kind=ErrorKind.SERVER if status >= 500 else ErrorKind.TIMEOUT,
            partial=partial,
        )
    if code == "content_filter":
        return _content_filter(exc.body, partial, note)
    message = _server_message(exc, provider.api_key)
    if code == "context_length_exceeded" or "context length" in message.lower():
        return LLMError(
            f"The conversation is too long for {_model_words(provider, model)}: {message}.{note} Lower "
            f"the persona's max_tokens, or set the real context_window for '{model}' under [models] in the "
            "config file.",
            kind=ErrorKind.CONTEXT_LENGTH,
            partial=partial,
        )
    return LLMError(
        f"{where} rejected the request (HTTP {status}): {message}.{note} Check the persona's parameters and "
        "the model name.",
        kind=ErrorKind.BAD_REQUEST,
        partial=partial,
    )


def _rate_limited(
    exc: openai.APIStatusError, provider: ProviderSettings, where: str, code: str, partial: str, note: str
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
    # The SDK retries (honouring retry-after) only when the wait is short; a longer one it returns at once.
    retried = provider.max_retries if wait is None or wait <= MAX_RETRY_AFTER_DELAY else 0
    tries = f"; gave up after {retried} retr{'y' if retried == 1 else 'ies'}" if retried else ""
    return LLMError(
        f"{where} is rate-limiting requests (HTTP 429){tries}.{note} Please {advice}, then draft again.",
        kind=ErrorKind.RATE_LIMIT,
        partial=partial,
        retry_after=wait,
    )


def _duration(seconds: float) -> str:
    """A wait as people say it: "1 second", "45 seconds", "3 minutes", "2 hours"."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= 2 * size:
            count = round(seconds / size)
            return f"{count} {unit}s"
    count = max(1, round(seconds))
    return f"{count} second{'s' * (count != 1)}"
