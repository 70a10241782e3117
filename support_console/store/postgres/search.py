"""Full-text search on PostgreSQL: a stored ``tsvector`` column with a GIN index, FTS5's query semantics.

Why this shape:

* **The same words as FTS5.** SQLite's ``unicode61 remove_diacritics 2`` tokenizer splits on anything that
  is not a letter or a digit and folds case and accents. PostgreSQL's parser would instead keep
  ``kim@example.com``, ``3.5`` or ``e-mail`` as single tokens, so the indexed text first goes through
  :data:`FOLD_FUNCTION`: accents removed (``normalize(…, NFD)`` and its combining marks dropped), lower
  case, and ASCII punctuation made a space (:func:`fold` is the same in Python). The ``simple``
  configuration then indexes every word as it is (no stemming, no stop words: FTS5 has neither).
  No extension is needed (``unaccent`` may not be installable by the database's owner): the function is
  plain SQL, ``IMMUTABLE``, so it may feed a stored generated column, and inlined there
  (:func:`create_fold_function`).
* **A stored generated column** ``search_vector`` (PostgreSQL 12+), not an expression index: the newest-first
  walk of a common word checks each row's vector without re-parsing its text, and every writer (the Store,
  the importer's ``COPY``, another program) keeps it right without a trigger. Only searched messages
  (``search.SEARCHED_STATES``) get a vector, so a streaming draft's saves do not re-index it; the first
  :data:`INDEXED_CHARS` characters are indexed (a ``tsvector`` is limited to 1 MB).
* **Queries never reach a query language.** Each user term is folded in Python the same way (:func:`fold`)
  and split into words; the query is built as ``tsquery`` text of quoted lexemes: every term must match, a
  term of several words is a phrase (as FTS5 reads ``"e-mail"``), a trailing ``*`` makes its last word a
  prefix.
* **Newest first, in two steps** (:func:`full_text_search`): the newest :data:`RECENT_WINDOW` messages are
  walked backwards on the primary key (``ORDER BY id DESC LIMIT n``, a bounded walk: a common word has its
  ``n`` hits there), and only when fewer than ``n`` match there are the older messages asked through the GIN
  index (``ORDER BY id + 0``: no ordered walk of the key), for the rest. Left to itself, the planner cannot
  tell a rare word (a ticket number) from a middling one: the statistics keep only the common lexemes and
  guess any other at half the rarest one's frequency (a raised statistics target keeps no more of them),
  so ``ticket 4242`` walked the whole key backwards (1,000,000 rows, 0.5 s) for its 5 hits. The second
  step is only reached by a query with fewer than ``n`` hits in the window, so its bitmap stays small.
* **Snippets are cut in Python** (:func:`snippet`): ``ts_headline`` would have to see folded text to find
  accented matches, and would then show it folded. The window (:data:`SNIPPET_WORDS` words around the first
  match, ``…`` where cut) and the spans follow FTS5's ``snippet()``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from functools import cache
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import TSQUERY, TSVECTOR
from sqlalchemy.engine import Connection
from sqlalchemy.sql.util import ClauseAdapter

from support_console.core.errors import StoreError
from support_console.store.backend import Snippet
from support_console.store.tables import CONVERSATIONS, MESSAGES

FOLD_FUNCTION: Final = "support_console_fold"
VECTOR_COLUMN: Final = "search_vector"
INDEX_NAME: Final = "ix_messages_search_vector"
#: Characters of a message that are indexed (a tsvector holds at most 1 MB of words and positions).
INDEXED_CHARS: Final = 100_000
#: The newest messages that a search walks in id order before it asks the index for older ones.
RECENT_WINDOW: Final = 20_000
#: Words in a snippet, as the SQLite backend asks FTS5 for.
SNIPPET_WORDS: Final = 16
_ELLIPSIS: Final = "…"

_M = MESSAGES.c
_C = CONVERSATIONS.c
_WORD = re.compile(r"[^\W_]+")


#: Unicode's combining diacritical marks: what ``NFD`` splits off accented letters, and folding removes.
_MARKS: Final = "[\u0300-\u036f]+"
#: ASCII punctuation, which FTS5's tokenizer treats as a separator and PostgreSQL's parser may not.
_PUNCTUATION: Final = "[!-/:-@\\[-`{-~]+"
_PY_MARKS: Final = re.compile(_MARKS)
_PY_PUNCTUATION: Final = re.compile(_PUNCTUATION)


def fold(text: str) -> str:
    """What :data:`FOLD_FUNCTION` makes of ``text``: accents removed (canonical decomposition, its marks
    dropped; skipped for ASCII text, which has none), lower case, ASCII punctuation made a space."""
    if not text.isascii():
        text = _PY_MARKS.sub("", unicodedata.normalize("NFD", text))
    return _PY_PUNCTUATION.sub(" ", text.lower())


def words(text: str) -> list[str]:
    """The indexed words of ``text``, folded."""
    return _WORD.findall(fold(text))


def _fold_sql(value: str) -> str:
    """:func:`fold` in SQL. ``octet_length = length`` says "ASCII" at once, so most support text skips the
    decomposition; ``normalize`` needs a UTF-8 database (every PostgreSQL default today)."""
    decomposed = f"regexp_replace(normalize({value}, NFD), '{_MARKS}', '', 'g')"
    unaccented = f"CASE WHEN octet_length({value}) = length({value}) THEN {value} ELSE {decomposed} END"
    return f"regexp_replace(lower({unaccented}), '{_PUNCTUATION}', ' ', 'g')"


# ---------------------------------------------------------------------------------------------- migration


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def create_search_index(conn: Connection, searched_states: Sequence[str]) -> None:
    """Migration 2: the folding function, the generated vector column (existing rows too), its index."""
    states = ", ".join(_sql_literal(s) for s in searched_states)
    encoding = conn.exec_driver_sql("SHOW server_encoding").scalar()
    if encoding != "UTF8":
        raise StoreError(
            f"This PostgreSQL database stores text as {encoding}: support-console needs a UTF-8 database "
            "(CREATE DATABASE … ENCODING 'UTF8'), so that every customer's text fits and is searched alike."
        )
    create_fold_function(conn)
    statements = (
        f"ALTER TABLE messages ADD COLUMN IF NOT EXISTS {VECTOR_COLUMN} tsvector GENERATED ALWAYS AS ("
        f"CASE WHEN state IN ({states}) THEN to_tsvector('simple'::regconfig, "
        f"{FOLD_FUNCTION}(left(text, {INDEXED_CHARS}))) END) STORED",
        f"CREATE INDEX IF NOT EXISTS {INDEX_NAME} ON messages USING gin ({VECTOR_COLUMN})",
    )
    for statement in statements:
        conn.exec_driver_sql(statement.replace("%", "%%"))  # the driver's placeholder character


def create_fold_function(conn: Connection) -> None:
    """:data:`FOLD_FUNCTION` (migration 2; replaced by version 15). Not ``STRICT``: PostgreSQL inlines a
    SQL function into the expression that calls it only when it can prove a strict one's body strict too,
    which a ``CASE`` is not; called, not inlined, it cost the generated column 0.12 s more per 100,000 rows
    (a plain SELECT of it over them: 336 ms called, 216 ms inlined). Its NULL in gives NULL out either way.
    """
    conn.exec_driver_sql(
        f"CREATE OR REPLACE FUNCTION {FOLD_FUNCTION}(text) RETURNS text LANGUAGE sql IMMUTABLE "
        f"PARALLEL SAFE AS $fold$ SELECT {_fold_sql('$1')} $fold$".replace("%", "%%")
    )


# ------------------------------------------------------------------------------------------------- search


def ts_query(terms: Sequence[tuple[str, bool]]) -> str | None:
    """``tsquery`` text for (term, is_prefix) pairs: all must match; None when no term has a word."""
    parts = []
    for term, prefix in terms:
        found = words(term)
        if not found:
            continue
        lexemes = [f"'{w}'" for w in found]  # letters and digits only: nothing to escape
        if prefix:
            lexemes[-1] += ":*"
        parts.append("(" + " <-> ".join(lexemes) + ")" if len(lexemes) > 1 else lexemes[0])
    return " & ".join(parts) or None


def full_text_search(
    conn: Connection,
    terms: Sequence[tuple[str, bool]],
    where: Sequence[sa.ColumnElement[bool]],
    owners: sa.Select[Any] | None,
    limit: int,
    window: int = RECENT_WINDOW,
) -> list[tuple[int, Snippet]]:
    """``Backend.full_text_search``: the newest matching messages and their snippets; the newest ``window``
    messages walked first, the older ones through the index (see the module docstring)."""
    query = ts_query(terms)
    if query is None:
        return []
    vector = sa.literal_column(f"messages.{VECTOR_COLUMN}", TSVECTOR)
    matches = vector.op("@@", return_type=sa.Boolean)(sa.cast(sa.literal(query), TSQUERY))
    clauses = [matches, *where]
    if owners is not None:
        clauses.append(_M.conversation_id.in_(sa.select(_C.id).where(_C.customer_id.in_(owners))))
    floor = int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(_M.id), 0))).scalar_one()) - window
    found = list(conn.execute(_recent(clauses, floor, limit)))
    if len(found) < limit and floor > 0:
        older = (
            sa.select(_M.id, _M.text)
            .where(*clauses, _M.id <= floor)
            .order_by((_M.id + 0).desc())  # the GIN index, then a sort: see the module docstring
            .limit(limit - len(found))
        )
        found += conn.execute(older)
    return [(int(mid), snippet(text, terms)) for mid, text in found]


def _recent(clauses: Sequence[sa.ColumnElement[bool]], floor: int, limit: int) -> sa.Select[Any]:
    """The newest matches among the messages after ``floor``, walked backwards on the primary key.

    The window is a subquery fenced by ``OFFSET 0`` (PostgreSQL pushes no condition into it), so the walk
    is the plan whatever the estimates: the search conditions are applied to its rows as they come, and
    the walk stops at the ``limit``-th match. The window keeps the table's name, so that the vector column
    (named in SQL text) and the conditions (moved onto the window's columns) read it.
    """
    vector = sa.literal_column(f"messages.{VECTOR_COLUMN}", TSVECTOR).label(VECTOR_COLUMN)
    window = (
        sa.select(MESSAGES, vector).where(_M.id > floor).order_by(_M.id.desc()).offset(0).subquery("messages")
    )
    adapter = ClauseAdapter(window)
    moved = [adapter.traverse(clause) for clause in clauses]
    return sa.select(window.c.id, window.c.text).where(*moved).order_by(window.c.id.desc()).limit(limit)


@cache
def _matchers(terms: tuple[tuple[str, bool], ...]) -> tuple[frozenset[str], tuple[str, ...]]:
    """Whole words and prefixes that count as a match for highlighting (every word of every term)."""
    exact: set[str] = set()
    prefixes: list[str] = []
    for term, prefix in terms:
        found = words(term)
        if prefix and found:
            prefixes.append(found.pop())
        exact.update(found)
    return frozenset(exact), tuple(prefixes)


def snippet(text: str, terms: Sequence[tuple[str, bool]]) -> Snippet:
    """About :data:`SNIPPET_WORDS` words of ``text`` from just before its first match, matched words as
    spans, ``…`` where the text was cut (FTS5's ``snippet()`` shape)."""
    exact, prefixes = _matchers(tuple(terms))
    spans: list[tuple[int, int]] = []
    positions = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    hits = [
        i for i, (s, e) in enumerate(positions)
        if (w := fold(text[s:e])) in exact or w.startswith(prefixes)
    ]  # fmt: skip
    if not positions:
        return text, ()
    first = hits[0] if hits else 0
    start_word = max(0, min(first - 2, len(positions) - SNIPPET_WORDS))
    end_word = min(len(positions), start_word + SNIPPET_WORDS)
    begin = 0 if start_word == 0 else positions[start_word][0]
    finish = len(text) if end_word == len(positions) else positions[end_word - 1][1]
    head = _ELLIPSIS if begin > 0 else ""
    window = head + text[begin:finish] + (_ELLIPSIS if finish < len(text) else "")
    shift = len(head) - begin
    for i in hits:
        if start_word <= i < end_word:
            s, e = positions[i]
            spans.append((s + shift, e + shift))
    return window, tuple(spans)
