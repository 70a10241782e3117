"""The preservation check: what a rewrite of a draft dropped, changed or invented that it must not have.

A rewrite (shorter, friendlier, translated, …) must keep the facts a customer acts on exactly as they were:
links, email addresses, prices, order ids and other numbers, and the customer's quoted lines. Models get
these wrong now and then (a price rounded, an id retyped, a link "tidied"), and an agent skimming a fluent
rewrite misses it, so every rewrite is compared with its original here and the differences are listed
before the agent accepts it. Pure text in, structured findings out: the UI and the CLI show them.

What counts, and how it is compared (exactly, as written; ``1,299.00`` and ``1299.00`` differ):

- **url**: ``http(s)://…`` and ``www.…`` (trailing punctuation is not part of it); **email**: addresses.
- **price**: a number with a currency symbol before or after it (``$59.99``, ``€ 10``, ``10 €``) or a
  currency code (``USD 20``, ``1,299.00 EUR``).
- **id**: a token that mixes digits with letters or starts with ``#`` (``ORD-12345``, ``A1B2``, ``#4512``,
  ``v2.3.1``), taken whole, so the digits inside it are not also counted as a number.
- **number**: any other run of digits, with its separators (``30``, ``1,299.00``, ``10:30``, ``2024-05-01``,
  ``15%``). A number joined to a lowercase word (``30-day``, ``2nd``, ``5pm``) counts as the number alone.
- **quote**: each line starting with ``>`` (customer text quoted in the reply) must come back verbatim;
  the tokens above are taken from the other lines only, so a dropped quote is reported once.

For each kind, what the original has and the rewrite lacks is paired, in order, with what the rewrite has
and the original lacks: a pair is ``changed`` (``$59.99`` → ``$49.99``), the rest of the original's side is
``dropped``, and the rest of the rewrite's side is ``added`` for links, emails and prices (an invented link
or price is a promise nobody made; new plain numbers and ids are common in a fuller rewrite, "step 2").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["Finding", "Token", "check_rewrite", "quoted_lines", "tokens"]

TokenKind = Literal["url", "email", "price", "id", "number", "quote"]
Change = Literal["dropped", "changed", "added"]

_LABELS: dict[str, str] = {
    "url": "link",
    "email": "email address",
    "price": "price",
    "id": "id",
    "number": "number",
    "quote": "quoted line",
}
_KINDS: tuple[TokenKind, ...] = ("url", "email", "price", "id", "number", "quote")
_REPORT_ADDED = ("url", "email", "price")

_URL = re.compile(r"(?:https?://|www\.)[^\s<>\"'`]+", re.IGNORECASE)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_URL_TAIL = ".,;:!?'\"”’)]}>"
#: A word (letters and digits joined by - _ / . , :) that holds a digit; words without one are skipped by the
#: regex itself, which keeps the check fast on long drafts.
_WORD = re.compile(r"(?<![^\W_])#?(?:[^\W_]+[-_/.,:])*?[^\W_]*\d[^\W_]*(?:[-_/.,:][^\W_]+)*%?")
_NUMBER = re.compile(r"\d+(?:[.,:/-]\d+)*%?")
_NUMBER_WORD = re.compile(r"(\d+(?:[.,]\d+)*)-?[a-z]+")  # 30-day, 2nd, 5pm: the number alone
_SYMBOLS = "$€£¥₹₩₽₪"
_CODES = frozenset(
    [
        "USD",
        "EUR",
        "GBP",
        "CHF",
        "JPY",
        "CAD",
        "AUD",
        "NZD",
        "SEK",
        "NOK",
        "DKK",
        "PLN",
        "CZK",
        "INR",
        "CNY",
        "BRL",
        "MXN",
        "ZAR",
    ]
)
_CODE_BEFORE = re.compile(r"\b([A-Z]{3})\s?$")
_CODE_AFTER = re.compile(r"^\s?([A-Z]{3})\b")


@dataclass(frozen=True)
class Token:
    """One thing a rewrite must keep: its kind and its text as written (compared exactly)."""

    kind: TokenKind
    text: str


@dataclass(frozen=True)
class Finding:
    """One difference that matters: ``original`` is None for ``added``, ``rewritten`` None for ``dropped``."""

    kind: TokenKind
    change: Change
    original: str | None
    rewritten: str | None

    def __str__(self) -> str:
        label = _LABELS[self.kind]
        if self.change == "changed":
            return f"the {label} {self.original} became {self.rewritten}"
        if self.change == "dropped":
            return f"the {label} {self.original} is missing from the rewrite"
        return f"the rewrite adds the {label} {self.rewritten}, which the original does not have"

    def to_dict(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "change": self.change,
            "original": self.original,
            "rewritten": self.rewritten,
        }


def check_rewrite(original: str, rewritten: str) -> tuple[Finding, ...]:
    """Every link, email, price, id, number or quoted line of ``original`` that ``rewritten`` dropped or
    changed, and every link, email or price it added; empty when the rewrite kept them all."""
    findings: list[Finding] = []
    before, after = tokens(original), tokens(rewritten)
    before += [Token("quote", line) for line in quoted_lines(original)]
    after += [Token("quote", line) for line in quoted_lines(rewritten)]
    for kind in _KINDS:
        lost = _surplus([t.text for t in before if t.kind == kind], [t.text for t in after if t.kind == kind])
        new = _surplus([t.text for t in after if t.kind == kind], [t.text for t in before if t.kind == kind])
        for old, got in zip(lost, new, strict=False):
            findings.append(Finding(kind, "changed", old, got))
        findings.extend(Finding(kind, "dropped", old, None) for old in lost[len(new) :])
        if kind in _REPORT_ADDED:
            findings.extend(Finding(kind, "added", None, got) for got in new[len(lost) :])
    return tuple(findings)


def quoted_lines(text: str) -> list[str]:
    """The lines that quote someone (first non-space character ``>``), without trailing spaces."""
    return [line.rstrip() for line in text.splitlines() if line.lstrip().startswith(">")]


def tokens(text: str) -> list[Token]:
    """The links, emails, prices, ids and numbers of ``text`` outside its quoted lines, in order."""
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(">"))
    found: list[tuple[int, Token]] = []
    masked = list(body)
    for match in _URL.finditer(body):
        url = _trim_url(match.group(0))
        found.append((match.start(), Token("url", url)))
        masked[match.start() : match.start() + len(url)] = " " * len(url)
    plain = "".join(masked)
    for match in _EMAIL.finditer(plain):
        found.append((match.start(), Token("email", match.group(0))))
        masked[match.start() : match.end()] = " " * len(match.group(0))
    found.extend(_words("".join(masked)))
    found.sort(key=lambda item: item[0])
    return [token for _, token in found]


def _words(text: str) -> Iterator[tuple[int, Token]]:
    for match in _WORD.finditer(text):
        word = match.group(0)
        if _NUMBER.fullmatch(word):
            price = _price(text, match.start(), match.end(), word)
            yield match.start(), price or Token("number", word)
        elif word.startswith("#") and _NUMBER.fullmatch(word[1:]):
            yield match.start(), Token("id", word)
        elif (joined := _NUMBER_WORD.fullmatch(word)) is not None:
            number = joined.group(1)
            end = match.start() + len(number)
            yield match.start(), _price(text, match.start(), end, number) or Token("number", number)
        else:
            yield match.start(), Token("id", word)


def _price(text: str, start: int, end: int, number: str) -> Token | None:
    """A price token when a currency symbol or code stands right before or after the number."""
    before, after = text[max(0, start - 5) : start], text[end : end + 5]
    symbol_before, symbol_after = before.rstrip(" ")[-1:], after.lstrip(" ")[:1]
    if symbol_before and symbol_before in _SYMBOLS:
        return Token("price", symbol_before + number)
    if symbol_after and symbol_after in _SYMBOLS:
        return Token("price", f"{number} {symbol_after}")
    code = _CODE_BEFORE.search(before)
    if code and code.group(1) in _CODES:
        return Token("price", f"{code.group(1)} {number}")
    code = _CODE_AFTER.search(after)
    if code and code.group(1) in _CODES:
        return Token("price", f"{number} {code.group(1)}")
    return None


def _trim_url(url: str) -> str:
    """A URL without the punctuation that ends the sentence around it; a closing bracket stays when the URL
    opened one (``…/Foo_(bar)``)."""
    while url and url[-1] in _URL_TAIL:
        if url[-1] == ")" and url.count("(") >= url.count(")"):
            break
        url = url[:-1]
    return url


def _surplus(mine: Sequence[str], theirs: Sequence[str]) -> list[str]:
    """The items of ``mine`` beyond what ``theirs`` also has (counted), in ``mine``'s order."""
    left = Counter(theirs)
    extra: list[str] = []
    for item in mine:
        if left[item]:
            left[item] -= 1
        else:
            extra.append(item)
    return extra
