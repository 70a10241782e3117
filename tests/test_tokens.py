"""Offline tiktoken and exact chat token counts.

The ground truth is what the services billed: every recorded response in tests/wire/ that carries
``usage.prompt_tokens`` for a plain chat request is checked against count_chat. The shipped rank files are
checked against tiktoken's own way of building the encodings, and loading is proven to need neither the
network nor a writable cache, and to refuse a damaged file.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import tiktoken
import tiktoken_ext.openai_public as openai_public

from support_console.core.errors import SupportConsoleError
from support_console.core.model_facts import ModelInfo, ModelOverride, resolve_model
from support_console.core.tokens import (
    ASSETS_DIR,
    ENCODINGS,
    ChatMessage,
    TokenizerError,
    count_chat,
    count_text,
    get_encoding,
)

ROOT = Path(__file__).resolve().parents[1]
WIRE = ROOT / "tests" / "wire"
NO_NETWORK = {"HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}

# Request fields that add prompt tokens count_chat does not model (schemas, tools): such samples are skipped.
PROMPT_EXTRAS = {"response_format", "tools", "functions", "tool_choice", "function_call"}


@dataclass(frozen=True)
class BilledSample:
    name: str
    requested: str
    served: str | None
    messages: list[ChatMessage]
    prompt_tokens: int


def _usage_and_model(body: Path) -> tuple[int | None, str | None]:
    """usage.prompt_tokens and the served model from a recorded .json or .sse body."""
    text = body.read_text(encoding="utf-8")
    if body.suffix == ".json":
        events = [json.loads(text)]
    else:
        payloads = (line[5:].strip() for line in text.splitlines() if line.startswith("data:"))
        events = [json.loads(p) for p in payloads if p != "[DONE]"]
    prompt_tokens: int | None = None
    served: str | None = None
    for event in events:
        if isinstance(event, dict):
            usage = event.get("usage") or {}
            prompt_tokens = usage.get("prompt_tokens", prompt_tokens)
            served = event.get("model") or served
    return prompt_tokens, served


def _billed_samples() -> list[BilledSample]:
    samples = []
    for meta_path in sorted(WIRE.glob("*.meta.json")):
        name = meta_path.name.removesuffix(".meta.json")
        request = json.loads(json.loads(meta_path.read_text(encoding="utf-8"))["req_body"])
        bodies = [p for p in (WIRE / f"{name}.sse", WIRE / f"{name}.json") if p.exists()]
        if not bodies or PROMPT_EXTRAS & request.keys():
            continue
        prompt_tokens, served = _usage_and_model(bodies[0])
        if prompt_tokens is not None:
            samples.append(BilledSample(name, request["model"], served, request["messages"], prompt_tokens))
    return samples


BILLED = _billed_samples()


def test_the_wire_samples_cover_the_families_we_must_match() -> None:
    families = {resolve_model(s.requested, served_model=s.served).family for s in BILLED}
    assert {"gpt-4", "gpt-4o", "gpt-3.5-turbo"} <= families, families
    assert len(BILLED) >= 7


@pytest.mark.parametrize("sample", BILLED, ids=[s.name for s in BILLED])
def test_count_chat_equals_what_the_service_billed(sample: BilledSample) -> None:
    model = resolve_model(sample.requested, served_model=sample.served)
    assert count_chat(sample.messages, model) == sample.prompt_tokens


# The OpenAI cookbook's example ("How to count tokens with tiktoken"), with names; the API billed these.
def _msg(role: str, content: str, name: str | None = None) -> ChatMessage:
    return {"role": role, "content": content} | ({"name": name} if name else {})


COOKBOOK = [
    _msg("system", "You are a helpful, pattern-following assistant that translates corporate jargon into "
         "plain English."),
    _msg("system", "New synergies will help drive top-line growth.", "example_user"),
    _msg("system", "Things working well together will increase revenue.", "example_assistant"),
    _msg("system", "Let's circle back when we have more bandwidth to touch base on opportunities for "
         "increased leverage.", "example_user"),
    _msg("system", "Let's talk later when we're less busy about how to do better.", "example_assistant"),
    _msg("user", "This late pivot means we don't have time to boil the ocean for the client deliverable."),
]  # fmt: skip


@pytest.mark.parametrize(
    ("model", "billed"),
    [("gpt-3.5-turbo-0301", 127), ("gpt-3.5-turbo-0613", 129), ("gpt-4-0613", 129), ("gpt-4o", 124),
     ("gpt-4o-mini", 124)],
)  # fmt: skip
def test_count_chat_matches_the_cookbook_figures_including_names(model: str, billed: int) -> None:
    assert count_chat(COOKBOOK, resolve_model(model)) == billed


def test_get_encoding_is_cached_and_named() -> None:
    assert get_encoding("o200k_base") is get_encoding("o200k_base")
    assert get_encoding("cl100k_base").name == "cl100k_base"


def test_unknown_encoding_says_which_exist() -> None:
    with pytest.raises(TokenizerError, match="o200k_base") as info:
        get_encoding("p50k_base")
    assert isinstance(info.value, SupportConsoleError)
    assert "config.toml" in str(info.value)


def test_special_token_lookalikes_in_customer_text_count_as_text() -> None:
    # tiktoken's encode() would raise on these; a customer may well paste them.
    text = "my log says <|endoftext|> and <|endofprompt|>"
    assert count_text(text, "o200k_base") > 10
    assert count_text(text, "cl100k_base") == len(
        get_encoding("cl100k_base").encode(text, disallowed_special=())
    )


def _tiktoken_cache_with_shipped_files(cache: Path) -> None:
    """A tiktoken cache directory holding our files under tiktoken's own keys (sha1 of the official URL)."""
    cache.mkdir()
    for name, spec in ENCODINGS.items():
        key = hashlib.sha1(spec.url.encode()).hexdigest()
        shutil.copy(ASSETS_DIR / f"{name}.tiktoken", cache / key)


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_shipped_encodings_equal_tiktokens_own(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tiktoken's constructor hash-checks the cached file against its own expected_hash (a mismatch would
    delete it and try the unreachable network), so this proves the shipped files are genuine and that our
    split pattern and special tokens are tiktoken's."""
    _tiktoken_cache_with_shipped_files(tmp_path / "cache")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "cache"))
    for key, value in NO_NETWORK.items():
        monkeypatch.setenv(key, value)
    reference = tiktoken.Encoding(**getattr(openai_public, name)())
    ours = get_encoding(name)
    assert ours._pat_str == reference._pat_str
    assert ours._special_tokens == reference._special_tokens
    assert ours._mergeable_ranks == reference._mergeable_ranks
    sample = "Héllo, I was charged twice 😡 for order #48213 — can you refund? 你好\n\n  thanks!!"
    assert ours.encode_ordinary(sample) == reference.encode_ordinary(sample)


def _run_offline(code: str, tmp_path: Path, pythonpath: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in a fresh interpreter with an empty tiktoken cache, no network and a private temp dir."""
    cache = tmp_path / "empty-cache"
    temp = tmp_path / "tmp"
    cache.mkdir(exist_ok=True)
    temp.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k not in {"DATA_GYM_CACHE_DIR", "PYTHONPATH"}}
    env |= NO_NETWORK | {"TIKTOKEN_CACHE_DIR": str(cache), "TMPDIR": str(temp), "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_counting_works_offline_with_an_empty_cache_and_writes_nothing(tmp_path: Path) -> None:
    code = (
        "from support_console.core.model_facts import resolve_model\n"
        "from support_console.core.tokens import count_chat, count_text\n"
        "msgs = [{'role': 'user', 'content': 'What is 4200 + 42?'}]\n"
        "print(count_text('What is 4200 + 42?', 'cl100k_base'), count_chat(msgs, resolve_model('gpt-4o')))\n"
    )
    result = _run_offline(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["9", "16"]
    assert list((tmp_path / "empty-cache").iterdir()) == []
    assert list((tmp_path / "tmp").iterdir()) == []


def test_a_damaged_rank_file_fails_loudly(tmp_path: Path) -> None:
    """A copy of the package whose o200k file lost one byte: loading must refuse it, not miscount."""
    package = tmp_path / "site" / "support_console"
    shutil.copytree(ROOT / "support_console", package, ignore=shutil.ignore_patterns("__pycache__"))
    damaged = package / "assets" / "tiktoken" / "o200k_base.tiktoken"
    damaged.write_bytes(damaged.read_bytes()[:-1])
    code = (
        "import sys, support_console\n"
        "print(support_console.__file__, file=sys.stderr)\n"
        "from support_console.core.tokens import count_text\n"
        "print(count_text('hello', 'o200k_base'))\n"
    )
    result = _run_offline(code, tmp_path, pythonpath=tmp_path / "site")
    assert str(package) in result.stderr  # the damaged copy was the one imported
    assert result.returncode != 0
    assert "TokenizerError" in result.stderr
    assert "is damaged" in result.stderr
    assert "reinstall support-console" in result.stderr


# --- model facts (support_console/models.py) ---------------------------------------------------------------

MODEL_TABLE = [
    # name, family, encoding, context window, max output, reasoning
    ("gpt-4o", "gpt-4o", "o200k_base", 128_000, 16_384, False),
    ("gpt-4o-2024-08-06", "gpt-4o", "o200k_base", 128_000, 16_384, False),
    ("gpt-4o-2024-05-13", "gpt-4o", "o200k_base", 128_000, 4_096, False),
    ("gpt-4o-mini-2024-07-18", "gpt-4o", "o200k_base", 128_000, 16_384, False),
    ("chatgpt-4o-latest", "gpt-4o", "o200k_base", 128_000, 16_384, False),
    ("GPT-4o", "gpt-4o", "o200k_base", 128_000, 16_384, False),
    ("openai/gpt-4o-mini", "gpt-4o", "o200k_base", 128_000, 16_384, False),
    ("ft:gpt-4o-mini-2024-07-18:acme::9abc", "gpt-4o", "o200k_base", 128_000, 16_384, False),
    ("gpt-4.1", "gpt-4.1", "o200k_base", 1_047_576, 32_768, False),
    ("gpt-4.1-nano-2025-04-14", "gpt-4.1", "o200k_base", 1_047_576, 32_768, False),
    ("gpt-5", "gpt-5", "o200k_base", 400_000, 128_000, True),
    ("gpt-5-mini-2025-08-07", "gpt-5", "o200k_base", 400_000, 128_000, True),
    ("gpt-5.1", "gpt-5", "o200k_base", 400_000, 128_000, True),
    ("gpt-5-chat-latest", "gpt-5-chat", "o200k_base", 128_000, 16_384, False),
    ("o1", "o1", "o200k_base", 200_000, 100_000, True),
    ("o1-2024-12-17", "o1", "o200k_base", 200_000, 100_000, True),
    ("o1-mini", "o1-mini", "o200k_base", 128_000, 65_536, True),
    ("o3", "o3", "o200k_base", 200_000, 100_000, True),
    ("o3-mini-2025-01-31", "o3-mini", "o200k_base", 200_000, 100_000, True),
    ("o4-mini", "o4-mini", "o200k_base", 200_000, 100_000, True),
    ("gpt-4-turbo-2024-04-09", "gpt-4-turbo", "cl100k_base", 128_000, 4_096, False),
    ("gpt-4-1106-preview", "gpt-4-turbo", "cl100k_base", 128_000, 4_096, False),
    ("gpt-4", "gpt-4", "cl100k_base", 8_192, 8_192, False),
    ("gpt-4-0613", "gpt-4", "cl100k_base", 8_192, 8_192, False),
    ("gpt-4-32k", "gpt-4-32k", "cl100k_base", 32_768, 32_768, False),
    ("gpt-3.5-turbo", "gpt-3.5-turbo", "cl100k_base", 16_385, 4_096, False),
    ("gpt-3.5-turbo-0125", "gpt-3.5-turbo", "cl100k_base", 16_385, 4_096, False),
    ("gpt-3.5-turbo-0613", "gpt-3.5-turbo", "cl100k_base", 4_096, 4_096, False),
    ("gpt-35-turbo", "gpt-3.5-turbo", "cl100k_base", 16_385, 4_096, False),
    ("gpt-3.5-turbo-0301", "gpt-3.5-turbo-0301", "cl100k_base", 4_096, 4_096, False),
    ("llama-3.1-70b-instruct", "unknown", "o200k_base", 8_192, 4_096, False),
    ("o1x", "unknown", "o200k_base", 8_192, 4_096, False),
    ("gpt-4oops", "unknown", "o200k_base", 8_192, 4_096, False),
]


@pytest.mark.parametrize(("name", "family", "encoding", "window", "max_out", "reasoning"), MODEL_TABLE)
def test_resolve_model_by_name(
    name: str, family: str, encoding: str, window: int, max_out: int, reasoning: bool
) -> None:
    info = resolve_model(name)
    source = "assumed" if family == "unknown" else "published"  # an unknown name's window is a guess
    assert info == ModelInfo(name, family, encoding, window, max_out, reasoning, source)


def test_the_served_model_decides_the_family_of_a_deployment() -> None:
    info = resolve_model("prod-chat", served_model="gpt-4o-2024-08-06")
    assert (info.name, info.family, info.encoding, info.context_window) == (
        "prod-chat",
        "gpt-4o",
        "o200k_base",
        128_000,
    )
    assert resolve_model("prod-chat").family == "unknown"
    assert resolve_model("prod-chat", served_model="").family == "unknown"
    assert resolve_model("gpt-4o", served_model="my-llama").family == "gpt-4o"  # unknown served: name decides


def test_overrides_map_a_deployment_and_may_set_numbers() -> None:
    overrides = {
        "prod-chat": ModelOverride(family="gpt-4"),
        "Big-Local": ModelOverride(encoding="cl100k_base", context_window=32_000, max_output_tokens=2_000),
        "tuned": ModelOverride(family="gpt-4o-mini", context_window=64_000),
    }
    assert resolve_model("prod-chat", overrides).family == "gpt-4"
    # What really ran beats the configured family, but explicit numbers still win.
    assert resolve_model("prod-chat", overrides, served_model="gpt-4o-2024-08-06").family == "gpt-4o"
    tuned = resolve_model("tuned", overrides, served_model="gpt-4.1-mini-2025-04-14")
    assert (tuned.family, tuned.context_window) == ("gpt-4.1", 64_000)
    local = resolve_model("big-local", overrides)  # keys are matched case-insensitively
    assert (local.family, local.encoding, local.context_window, local.max_output_tokens) == (
        "unknown",
        "cl100k_base",
        32_000,
        2_000,
    )
