"""Offline tiktoken: exact token counts without ever downloading a rank file.

tiktoken normally fetches its rank files from the internet on first use and caches them in a directory
chosen by ``TIKTOKEN_CACHE_DIR``. Support desks and CI runners often have no internet, so the rank files ship
inside the package (``assets/tiktoken``) and are loaded from there directly:

* no environment variable is touched, so the user's own tiktoken cache keeps working as before;
* nothing is written anywhere (not into site-packages, not into a cache directory);
* the bytes are checked with tiktoken's own ``check_hash`` against the SHA-256 that tiktoken itself expects
  (``tiktoken_ext/openai_public.py``), so a damaged file fails loudly instead of miscounting.

The split pattern and special tokens mirror ``tiktoken_ext.openai_public``; tests/test_tokens.py builds
the encodings the tiktoken way as well and checks that both agree token for token.
"""

from __future__ import annotations

import binascii
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

from support_console.core.errors import SupportConsoleError
from support_console.core.model_facts import ModelInfo, chat_format

if TYPE_CHECKING:
    import tiktoken

__all__ = [
    "ASSETS_DIR",
    "ENCODINGS",
    "ChatMessage",
    "EncodingSpec",
    "TokenizerError",
    "count_chat",
    "count_text",
    "get_encoding",
]

ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets" / "tiktoken"

ChatMessage = dict[str, str]


class TokenizerError(SupportConsoleError):
    """A tokenizer cannot be loaded: unknown encoding name or a damaged rank file."""


@dataclass(frozen=True)
class EncodingSpec:
    """How tiktoken builds one encoding (as in tiktoken_ext.openai_public)."""

    url: str  # the official download address; tiktoken keys its cache on it
    sha256: str  # tiktoken's expected_hash for that file
    pat_str: str
    special_tokens: Mapping[str, int]


_ENDOFTEXT = "<|endoftext|>"
_FIM_PREFIX = "<|fim_prefix|>"
_FIM_MIDDLE = "<|fim_middle|>"
_FIM_SUFFIX = "<|fim_suffix|>"
_ENDOFPROMPT = "<|endofprompt|>"
_BASE_URL = "https://openaipublic.blob.core.windows.net/encodings"

_O200K_PAT = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)

ENCODINGS: Mapping[str, EncodingSpec] = MappingProxyType(
    {
        "o200k_base": EncodingSpec(
            url=f"{_BASE_URL}/o200k_base.tiktoken",
            sha256="446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
            pat_str=_O200K_PAT,
            special_tokens=MappingProxyType({_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018}),
        ),
        "cl100k_base": EncodingSpec(
            url=f"{_BASE_URL}/cl100k_base.tiktoken",
            sha256="223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
            pat_str=_CL100K_PAT,
            special_tokens=MappingProxyType(
                {
                    _ENDOFTEXT: 100257,
                    _FIM_PREFIX: 100258,
                    _FIM_MIDDLE: 100259,
                    _FIM_SUFFIX: 100260,
                    _ENDOFPROMPT: 100276,
                }
            ),
        ),
    }
)


def _read_ranks(path: Path, spec: EncodingSpec) -> dict[bytes, int]:
    """Read and hash-check one shipped rank file; parse it the way tiktoken's load_tiktoken_bpe does."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TokenizerError(
            f"The token rank file {path} cannot be read ({exc.strerror}); reinstall support-console."
        ) from exc
    from tiktoken.load import check_hash  # tiktoken loads when a count is first needed, not at start

    if not check_hash(data, spec.sha256):
        raise TokenizerError(
            f"The token rank file {path} is damaged (its SHA-256 is not {spec.sha256}); "
            "reinstall support-console to restore it."
        )
    # One comprehension with binascii's decoder: half the time of a loop over base64.b64decode (it runs
    # when the first draft is prepared, so it is part of that draft's wait).
    a2b = binascii.a2b_base64
    return {a2b(token): int(rank) for token, rank in (line.split() for line in data.splitlines() if line)}


@functools.cache
def get_encoding(name: str) -> tiktoken.Encoding:
    """The tiktoken encoding ``name``, built offline from the shipped, hash-checked rank file (cached)."""
    spec = ENCODINGS.get(name)
    if spec is None:
        known = ", ".join(sorted(ENCODINGS))
        raise TokenizerError(
            f"Unknown token encoding {name!r}; use one of: {known} (check 'encoding' in config.toml)."
        )
    import tiktoken

    return tiktoken.Encoding(
        name=name,
        pat_str=spec.pat_str,
        mergeable_ranks=_read_ranks(ASSETS_DIR / f"{name}.tiktoken", spec),
        special_tokens=dict(spec.special_tokens),
    )


def count_text(text: str, encoding: str) -> int:
    """Tokens in ``text``. Special-token look-alikes ("<|endoftext|>") in customer text count as plain text,
    as the service treats them."""
    return len(get_encoding(encoding).encode_ordinary(text))


def count_chat(messages: Sequence[ChatMessage], model: ModelInfo) -> int:
    """Exactly the ``usage.prompt_tokens`` the service reports for these messages (text-only, no tools).

    Per the OpenAI cookbook: every value (role, content, name) counts as text, plus a fixed overhead per
    message and per name, plus the reply priming. The overheads depend on the family (see models.py).
    """
    fmt = chat_format(model)
    encoding = model.encoding
    total = fmt.reply_priming
    for message in messages:
        total += fmt.tokens_per_message
        for key, value in message.items():
            total += count_text(value, encoding)
            if key == "name":
                total += fmt.tokens_per_name
    return total
