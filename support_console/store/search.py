"""Full-text search over message text: SQLite FTS5, with a LIKE fallback for other databases.

Why FTS5 and why this shape:

* ``messages_fts`` is an *external-content* FTS5 table over ``messages.text``: the text is stored once (in
  ``messages``) and the index holds only tokens. Triggers on insert, update of ``text`` and delete keep it in
  sync on every write, whoever writes (the store, the importer, another process). The migration
  (:func:`migrate_fts5`, appended to ``store/migrations.py``) also indexes the rows that already exist, so
  upgrading a database makes its whole history searchable.
* User input never reaches FTS5 syntax: every term is quoted (:func:`fts_query`), so ``"``, ``*``, ``AND``,
  ``NEAR`` or ``[bold]`` are searched as words, never parsed as operators. A trailing ``*`` on a term is kept
  as a prefix search, the one operator worth offering.
* Highlights come back as character spans (:attr:`SearchHit.highlights`) over a plain snippet, never as
  markup: the UI styles the spans with ``rich.text.Text``, so customer text is shown literally.
* Newest first means by message id (insertion order, which is chronological: see ``store/models.py``); FTS5
  walks its index in descending rowid order, so the first page of a common word costs no sort, and the
  snippets are made only for the rows returned.

Which messages are searched: customer messages, sent replies and internal notes. Unsent drafts and discarded
drafts are left out: search is for what happened in a conversation.

On databases other than SQLite (or a SQLite built without FTS5) the migration does nothing and :func:`search`
falls back to a case-insensitive ``LIKE`` scan with the same results shape: correct, but slow on large tables.

Bulk writers index their batches set-based instead: see ``store/bulk.py``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from support_console.core.vocabulary import STATE_NOTE, STATE_RECEIVED, STATE_SENT
from support_console.store.engine import is_sqlite, reader
from support_console.store.tables import Conversation, Customer, Message, UTCDateTime

if TYPE_CHECKING:
    from support_console.store.base import StoreBase

FTS_TABLE: Final = "messages_fts"
#: Message states that search covers (see the module docstring).
SEARCHED_STATES: Final = (STATE_RECEIVED, STATE_SENT, STATE_NOTE)
#: Snippet markers: private-use characters, never markup; stripped from the user's query.
_OPEN, _CLOSE = "\ue000", "\ue001"
_ELLIPSIS: Final = "…"
#: Tokens around the match in a snippet (FTS5 allows at most 64).
_SNIPPET_TOKENS: Final = 16
_LIKE_CONTEXT: Final = 60

_M = Message.__table__.c  # type: ignore[attr-defined]
_C = Conversation.__table__.c  # type: ignore[attr-defined]
_K = Customer.__table__.c  # type: ignore[attr-defined]


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
    created_at: datetime
    snippet: str
    highlights: tuple[tuple[int, int], ...]


# ---------------------------------------------------------------------------------------------- migration


def migrate_fts5(conn: Connection) -> None:
    """Migration: the FTS5 index over messages.text, its sync triggers, and the index of existing rows.

    SQLite only; does nothing elsewhere (and on a SQLite built without FTS5), where search uses LIKE.
    """
    if not is_sqlite(conn) or not _fts5_compiled(conn):
        return
    statements = (
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS_TABLE} USING fts5("
        "text, content='messages', content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER IF NOT EXISTS messages_fts_ai AFTER INSERT ON messages BEGIN "
        f"INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text); END",
        f"CREATE TRIGGER IF NOT EXISTS messages_fts_ad AFTER DELETE ON messages BEGIN "
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text); END",
        f"CREATE TRIGGER IF NOT EXISTS messages_fts_au AFTER UPDATE OF text ON messages BEGIN "
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, text) VALUES ('delete', old.id, old.text); "
        f"INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text); END",
        # Index every row already there: an upgraded database is searchable at once.
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
    )
    for statement in statements:
        conn.exec_driver_sql(statement)


def migrate_fts_deferral(conn: Connection) -> None:
    """Migration: let bulk writers index a batch at once (``store.bulk.deferred_fts``) instead of row by row.

    Adds the ``fts_deferred`` marker table (empty except inside a bulk writer's transaction) and makes the
    insert trigger stand aside while it holds a row. A trigger cannot see a connection's temp tables, hence a
    table in the main schema. Also lets FTS5 merge index segments 16 at a time rather than 4 (``automerge``):
    less merging work per import batch, while searches still read few segments.
    """
    if not has_fts(conn):
        return
    statements = (
        "CREATE TABLE IF NOT EXISTS fts_deferred (since INTEGER NOT NULL)",
        "DROP TRIGGER IF EXISTS messages_fts_ai",
        "CREATE TRIGGER messages_fts_ai AFTER INSERT ON messages "
        "WHEN NOT EXISTS (SELECT 1 FROM fts_deferred) BEGIN "
        f"INSERT INTO {FTS_TABLE}(rowid, text) VALUES (new.id, new.text); END",
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('automerge', 16)",
    )
    for statement in statements:
        conn.exec_driver_sql(statement)


def _fts5_compiled(conn: Connection) -> bool:
    """Whether this SQLite library has FTS5 (virtually all builds do; a few minimal ones do not)."""
    options = {row[0] for row in conn.exec_driver_sql("PRAGMA compile_options").all()}
    if "ENABLE_FTS5" in options:
        return True
    try:  # FTS5 can also be built in without the compile option: ask it directly.
        conn.exec_driver_sql("CREATE VIRTUAL TABLE temp.support_console_fts5_probe USING fts5(x)")
    except sa.exc.DBAPIError:
        return False
    conn.exec_driver_sql("DROP TABLE temp.support_console_fts5_probe")
    return True


def has_fts(conn: Connection) -> bool:
    """Whether the FTS5 index exists in this database (it does after migration on SQLite with FTS5)."""
    if not is_sqlite(conn):
        return False
    found = conn.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (FTS_TABLE,)
    ).first()
    return found is not None


# ------------------------------------------------------------------------------------------------- query


def query_terms(query: str) -> list[tuple[str, bool]]:
    """The user's words as (term, is_prefix), split on whitespace; words without a letter or digit dropped."""
    terms: list[tuple[str, bool]] = []
    for raw in query.replace(_OPEN, " ").replace(_CLOSE, " ").split():
        prefix = raw.endswith("*")
        core = raw.strip("*")
        if any(ch.isalnum() for ch in core):
            terms.append((core, prefix))
    return terms


def fts_query(query: str) -> str | None:
    """An FTS5 MATCH expression that finds all of the user's words; None if there is nothing to search.

    Each term becomes a quoted string (``"`` doubled inside), so FTS5 never sees an operator from the user.
    """
    parts = []
    for term, prefix in query_terms(query):
        quoted = '"' + term.replace('"', '""') + '"'
        parts.append(quoted + ("*" if prefix else ""))
    return " ".join(parts) or None


def search(
    store: StoreBase,
    query: str,
    customer: str | None = None,
    persona: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
) -> list[SearchHit]:
    """Messages containing all words of ``query``, newest first, with highlighted snippets.

    ``customer`` matches the customer's name, email or external id (case-insensitive substring); ``persona``
    the persona of the message or of its conversation; ``since`` the message time (inclusive).
    """
    if not query_terms(query) or limit <= 0:
        return []
    filters = _filters(customer, persona, since)
    with reader(store.engine).connect() as conn:
        if not has_fts(conn):
            return _search_like(conn, query, filters, limit)
        prefix = any(is_prefix for _term, is_prefix in query_terms(query))
        few = _few_conversations(conn, customer) if customer and customer.strip() and not prefix else None
        if few is not None:  # the conversations already carry the customer filter
            return _search_fts_within(conn, query, few, _filters(None, persona, since), limit)
        return _search_fts(conn, query, filters, limit)


def _filters(
    customer: str | None, persona: str | None, since: datetime | None
) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses over messages (``_M``) for the optional filters."""
    clauses: list[sa.ColumnElement[bool]] = [_M.state.in_(SEARCHED_STATES)]
    conversation = sa.select(_C.id).where(_C.id == _M.conversation_id)
    if customer and customer.strip():
        owners = sa.select(_K.id).where(customer_matches(customer))
        clauses.append(conversation.where(_C.customer_id.in_(owners)).exists())
    if persona:
        in_conversation = conversation.where(_C.persona_id == persona).exists()
        clauses.append(sa.or_(_M.persona_id == persona, in_conversation))
    if since is not None:
        clauses.append(_M.created_at >= sa.literal(since, UTCDateTime()))
    return clauses


def customer_matches(text: str) -> sa.ColumnElement[bool]:
    """Case-insensitive substring match on a customer's name, email or external id (wildcards literal)."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return sa.or_(
        sa.func.lower(_K.name).like(pattern, escape="\\"),
        sa.func.lower(_K.email).like(pattern, escape="\\"),
        sa.func.lower(sa.func.coalesce(_K.external_id, "")).like(pattern, escape="\\"),
    )


def _search_fts(
    conn: Connection, query: str, filters: Sequence[sa.ColumnElement[bool]], limit: int
) -> list[SearchHit]:
    """Matching messages newest first, with their snippets, in one statement.

    FTS5 walks its index in descending rowid order and SQLite stops after ``limit`` rows passing the filters,
    so ``snippet()`` runs only for the rows returned (no sort step: see tests/test_search.py). A second
    ``MATCH … AND rowid IN (…)`` query for the snippets would re-run the whole match once per id, which is
    slow for a prefix query over a common prefix.
    """
    fts = sa.table(FTS_TABLE, sa.column("rowid"))
    snippet = sa.func.snippet(
        sa.literal_column(FTS_TABLE), 0, _OPEN, _CLOSE, _ELLIPSIS, _SNIPPET_TOKENS, type_=sa.String()
    )
    stmt = (
        sa.select(fts.c.rowid, snippet)
        .select_from(fts.join(Message.__table__, _M.id == fts.c.rowid))  # type: ignore[attr-defined]
        .where(sa.text(f"{FTS_TABLE} MATCH :match"), *filters)
        .order_by(fts.c.rowid.desc())
        .limit(limit)
    )
    snippets = {
        int(rowid): parse_marked(raw) for rowid, raw in conn.execute(stmt, {"match": fts_query(query)})
    }
    return _hits(conn, list(snippets), lambda message_id, _text: snippets[message_id])


#: Up to this many conversations, a customer-filtered search starts from the customer's messages.
_FEW_CONVERSATIONS: Final = 1000


def _few_conversations(conn: Connection, customer: str) -> list[int] | None:
    """The matching customers' conversation ids, or None when there are too many to start from them."""
    owners = sa.select(_K.id).where(customer_matches(customer))
    stmt = sa.select(_C.id).where(_C.customer_id.in_(owners)).limit(_FEW_CONVERSATIONS + 1)
    ids = [int(i) for i in conn.scalars(stmt)]
    return ids if len(ids) <= _FEW_CONVERSATIONS else None


def _search_fts_within(
    conn: Connection,
    query: str,
    conversations: list[int],
    filters: Sequence[sa.ColumnElement[bool]],
    limit: int,
) -> list[SearchHit]:
    """A search limited to a few conversations (a customer filter): their messages, each checked in the index.

    Walking the whole index newest first and skipping other customers' messages would read every match of a
    common word; here each of the few conversations' messages is looked up in the index by rowid (a seek per
    term). Only for queries without a prefix term: a prefix is re-expanded at every lookup, so those take the
    index walk instead (see :func:`search`).
    """
    if not conversations:
        return []
    match = fts_query(query)
    in_index = sa.text(
        f"EXISTS (SELECT 1 FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :match AND rowid = messages.id)"
    )
    stmt = (
        sa.select(_M.id)
        .where(_M.conversation_id.in_(conversations), in_index, *filters)
        .order_by(_M.id.desc())
        .limit(limit)
    )
    ids = [int(i) for i in conn.scalars(stmt, {"match": match})]
    one = sa.text(
        f"SELECT snippet({FTS_TABLE}, 0, :open, :close, :ellipsis, :tokens) FROM {FTS_TABLE} "
        f"WHERE {FTS_TABLE} MATCH :match AND rowid = :id"
    )
    params = {
        "open": _OPEN,
        "close": _CLOSE,
        "ellipsis": _ELLIPSIS,
        "tokens": _SNIPPET_TOKENS,
        "match": match,
    }
    snippets = {i: parse_marked(str(conn.execute(one, {**params, "id": i}).scalar_one())) for i in ids}
    return _hits(conn, ids, lambda message_id, _text: snippets[message_id])


def _search_like(
    conn: Connection, query: str, filters: Sequence[sa.ColumnElement[bool]], limit: int
) -> list[SearchHit]:
    """The portable fallback: every word as a case-insensitive substring, snippet cut in Python."""
    terms = [term for term, _prefix in query_terms(query)]
    likes = []
    for term in terms:
        escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        likes.append(sa.func.lower(_M.text).like(f"%{escaped}%", escape="\\"))
    stmt = sa.select(_M.id).where(*likes, *filters).order_by(_M.id.desc()).limit(limit)
    ids = [int(row[0]) for row in conn.execute(stmt)]
    return _hits(conn, ids, lambda _message_id, text: like_snippet(text, terms))


Snippet = tuple[str, tuple[tuple[int, int], ...]]


def _hits(conn: Connection, ids: list[int], snippet_of: Callable[[int, str], Snippet]) -> list[SearchHit]:
    """SearchHits for message ``ids`` (kept in that order), with snippets from ``snippet_of(id, text)``."""
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
            _M.created_at,
            _M.text,
        )
        .join_from(Message.__table__, Conversation.__table__, _C.id == _M.conversation_id)  # type: ignore[attr-defined]
        .join(Customer.__table__, _K.id == _C.customer_id)  # type: ignore[attr-defined]
        .where(_M.id.in_(ids))
    )
    rows = {int(row[0]): row for row in conn.execute(stmt)}
    hits = []
    for message_id in ids:
        row = rows.get(message_id)
        if row is None:  # deleted between the two queries
            continue
        snippet, spans = snippet_of(message_id, row[9])
        hits.append(SearchHit(
            message_id=message_id, conversation_id=row[1], customer_id=row[2], customer_name=row[3],
            customer_email=row[4], role=row[5], state=row[6], persona_id=row[7], created_at=row[8],
            snippet=snippet, highlights=spans,
        ))  # fmt: skip
    return hits


# ---------------------------------------------------------------------------------------------- snippets


def parse_marked(marked: str) -> Snippet:
    """Split an FTS5 snippet with our private markers into plain text and highlight spans."""
    plain: list[str] = []
    spans: list[tuple[int, int]] = []
    length = 0
    start: int | None = None
    for piece in re.split(f"([{_OPEN}{_CLOSE}])", marked):
        if piece == _OPEN:
            start = length
        elif piece == _CLOSE:
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
    prefix = _ELLIPSIS if start > 0 else ""
    window = prefix + text[start:end] + (_ELLIPSIS if end < len(text) else "")
    spans = []
    low_window = window.lower()
    for term in terms:
        needle = term.lower()
        pos = low_window.find(needle)
        while needle and pos >= 0:
            spans.append((pos, pos + len(needle)))
            pos = low_window.find(needle, pos + len(needle))
    return window, tuple(sorted(spans))
