"""Full-text search over message text: the backend's index (SQLite: FTS5), else a portable LIKE scan.

* The index and its queries belong to the backend (``Backend.full_text_search``; SQLite: ``sqlite/fts.py``,
  which says why it is shaped as it is). This module builds what is portable: the filters, the hits.
* User words are split by :func:`query_terms`; a trailing ``*`` asks for a prefix. No user text ever
  reaches a query language: the backend quotes every term.
* Highlights come back as character spans (:attr:`SearchHit.highlights`) over a plain snippet, never as
  markup: the UI styles the spans with ``rich.text.Text``, so customer text is shown literally. A backend
  marks matches with the private-use characters :data:`SNIPPET_OPEN` / :data:`SNIPPET_CLOSE` (stripped from
  user queries), which :func:`parse_marked` turns into spans.
* Newest first means by message id (insertion order, which is chronological: see ``tables.py``).

Which messages are searched: customer messages, sent replies and internal notes. Unsent drafts and discarded
drafts are left out: search is for what happened in a conversation.

Without an index (a SQLite built without FTS5) :meth:`SearchMixin.search` falls back to a ``LIKE`` scan with
the same results shape: correct, but slow on large tables, and its case folding is the database's own
(ASCII only on SQLite).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from support_console.core.vocabulary import STATE_NOTE, STATE_RECEIVED, STATE_SENT
from support_console.store.backend import Snippet
from support_console.store.base import StoreBase
from support_console.store.customers import customer_filter
from support_console.store.like import contains
from support_console.store.tables import CONVERSATIONS, CUSTOMERS, MESSAGES, UTCDateTime, happened_at

#: Message states that search covers (see the module docstring).
SEARCHED_STATES: Final = (STATE_RECEIVED, STATE_SENT, STATE_NOTE)
#: Snippet markers: private-use characters, never markup; stripped from the user's query.
SNIPPET_OPEN: Final = "\ue000"
SNIPPET_CLOSE: Final = "\ue001"
SNIPPET_ELLIPSIS: Final = "…"
_LIKE_CONTEXT: Final = 60

_M = MESSAGES.c
_C = CONVERSATIONS.c
_K = CUSTOMERS.c


@dataclass(frozen=True)
class SearchHit:
    """One matching message: where it is, and a snippet with the matched words as spans.

    ``highlights`` are ``(start, end)`` character offsets into ``snippet``; style them, never interpret them.
    """

    message_id: int
    conversation_id: int
    customer_id: int
    customer_name: str
    customer_email: str
    role: str
    state: str
    persona_id: str | None
    happened_at: datetime  # a reply: when it was sent (as the audit view and the exports date it)
    snippet: str
    highlights: tuple[tuple[int, int], ...]


def query_terms(query: str) -> list[tuple[str, bool]]:
    """The user's words as (term, is_prefix), split on whitespace; words without a letter or digit dropped."""
    terms: list[tuple[str, bool]] = []
    for raw in query.replace(SNIPPET_OPEN, " ").replace(SNIPPET_CLOSE, " ").split():
        prefix = raw.endswith("*")
        core = raw.strip("*")
        if any(ch.isalnum() for ch in core):
            terms.append((core, prefix))
    return terms


class SearchMixin(StoreBase):
    """Full-text search of the Store."""

    def search(
        self,
        query: str,
        customer: str | None = None,
        persona: str | None = None,
        since: datetime | None = None,
        limit: int = 50,
    ) -> list[SearchHit]:
        """Messages containing all words of ``query``, newest first, with highlighted snippets.

        ``customer`` matches the customer's name, email or external id (``customers.customer_filter``);
        ``persona`` the persona of the message or of its conversation; ``since`` the message time
        (inclusive).
        """
        if not query_terms(query) or limit <= 0:
            return []
        where: list[sa.ColumnElement[bool]] = [_M.state.in_(SEARCHED_STATES)]
        if persona:
            in_conversation = sa.select(_C.id).where(_C.id == _M.conversation_id, _C.persona_id == persona)
            where.append(sa.or_(_M.persona_id == persona, in_conversation.exists()))
        if since is not None:
            where.append(_M.created_at >= sa.literal(since, UTCDateTime()))
        owners = sa.select(_K.id).where(customer_filter(customer)) if customer and customer.strip() else None
        with self._reading() as conn:
            found = self.backend.full_text_search(conn, query, where, owners, limit)
            if found is None:
                found = _search_like(conn, query, where, owners, limit)
            snippets = dict(found)
            return _hits(conn, [message_id for message_id, _snippet in found], snippets)


def _search_like(
    conn: Connection,
    query: str,
    where: Sequence[sa.ColumnElement[bool]],
    owners: sa.Select[Any] | None,
    limit: int,
) -> list[tuple[int, Snippet]]:
    """The portable fallback: every word as a case-insensitive substring, snippet cut in Python."""
    terms = [term for term, _prefix in query_terms(query)]
    clauses = [contains(sa.func.lower(_M.text), term.lower()) for term in terms]
    if owners is not None:
        mine = sa.select(_C.id).where(_C.id == _M.conversation_id, _C.customer_id.in_(owners))
        clauses.append(mine.exists())
    stmt = sa.select(_M.id, _M.text).where(*clauses, *where).order_by(_M.id.desc()).limit(limit)
    return [(int(row[0]), like_snippet(row[1], terms)) for row in conn.execute(stmt)]


def _hits(conn: Connection, ids: list[int], snippets: dict[int, Snippet]) -> list[SearchHit]:
    """SearchHits for message ``ids`` (kept in that order), with their snippets."""
    stmt = (
        sa.select(
            _M.id,
            _M.conversation_id,
            _C.customer_id,
            _K.name,
            _K.email,
            _M.role,
            _M.state,
            sa.func.coalesce(_M.persona_id, _C.persona_id),
            happened_at(_M),
        )
        .join_from(MESSAGES, CONVERSATIONS, _C.id == _M.conversation_id)
        .join(CUSTOMERS, _K.id == _C.customer_id)
        .where(_M.id.in_(ids))
    )
    rows = {int(row[0]): row for row in conn.execute(stmt)}
    hits = []
    for message_id in ids:
        row = rows.get(message_id)
        if row is None:  # deleted between the two queries
            continue
        snippet, spans = snippets[message_id]
        hits.append(SearchHit(
            message_id=message_id, conversation_id=row[1], customer_id=row[2], customer_name=row[3],
            customer_email=row[4], role=row[5], state=row[6], persona_id=row[7], happened_at=row[8],
            snippet=snippet, highlights=spans,
        ))  # fmt: skip
    return hits


# ---------------------------------------------------------------------------------------------- snippets


def parse_marked(marked: str) -> Snippet:
    """Split a snippet marked with :data:`SNIPPET_OPEN` / :data:`SNIPPET_CLOSE` into text and spans."""
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    start: int | None = None
    for piece in re.split(f"([{SNIPPET_OPEN}{SNIPPET_CLOSE}])", marked):
        if piece == SNIPPET_OPEN:
            start = length
        elif piece == SNIPPET_CLOSE:
            if start is not None and length > start:
                spans.append((start, length))
            start = None
        else:
            plain.append(piece)
            length += len(piece)
    return "".join(plain), tuple(spans)


def like_snippet(text: str, terms: Sequence[str]) -> Snippet:
    """A window of ``text`` around the first match of any term, with every term occurrence as a span."""
    lowered = text.lower()
    found = [i for i in (lowered.find(t.lower()) for t in terms) if i >= 0]
    first = min(found) if found else 0
    start = max(0, first - _LIKE_CONTEXT)
    end = min(len(text), first + 2 * _LIKE_CONTEXT)
    prefix = SNIPPET_ELLIPSIS if start > 0 else ""
    window = prefix + text[start:end] + (SNIPPET_ELLIPSIS if end < len(text) else "")
    spans = []
    low_window = window.lower()
    for term in terms:
        needle = term.lower()
        pos = low_window.find(needle)
        while needle and pos >= 0:
            spans.append((pos, pos + len(needle)))
            pos = low_window.find(needle, pos + len(needle))
    return window, tuple(sorted(spans))
