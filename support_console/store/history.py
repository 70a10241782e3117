"""The model-visible history of a conversation, read fast: the hot path of every draft.

What reaches the model is a conversation's customer messages and sent replies, newest first, each with its
token count in the model's encoding (computed once and stored in ``tokens_o200k`` / ``tokens_cl100k``).
:class:`History` is that sequence: lazy (the trimmer stops reading as soon as its budget is full) and sized
(``len()`` for the trim report's "N older messages left out").

Why it is built the way it is (bench: benchmarks/bench_store.py):

* Rows come from a plain DBAPI cursor as ``(id, 'user'|'assistant', text, tokens)`` tuples that become
  :class:`HistoryItem` in C (:func:`_items`): for thousands of rows SQLAlchemy's per-execution work and
  Row objects, and a dataclass per row, cost more than SQLite itself. The SQL is still written with
  SQLAlchemy and compiled for the engine's dialect, once per process.
* Each iteration starts with one statement over the partial index :data:`HISTORY_INDEX`: the history's
  length, the sum and the maximum of its ids. It is the exact ``len()``, the upper bound every later read
  is pinned to (a consistent view even while others write), and the key of a small per-Store cache of what
  was read.
* The cache: a conversation drafted again (a retry, another persona, the next turn) is not read again. When
  only newer messages were added since (the usual case: the customer wrote again), just those are read; if
  anything else changed (an older draft approved, counts reset), the (count, sum of ids) check fails and the
  history is read afresh. Messages that reach the model are never edited in place: a customer message is
  immutable, and a reply becomes visible only by being approved, which changes both numbers.
* Computed counts are written back only if that costs no wait (``save_counts`` fails at once while another
  program holds the write lock): a draft never waits for a cache. Counts that could not be written are kept
  and written by a later read of any history of this Store (or computed again by another process).
* Reads are batched: a small first batch, then sized to the consumer's budget (``expect_tokens``), so filling
  a big window costs two or three statements without reading much past what fits. No statement stays open
  between yields.
"""

from __future__ import annotations

import itertools
import operator
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from support_console.core.errors import StoreError
from support_console.core.tokens import count_text
from support_console.core.trimming import HistoryItem
from support_console.core.vocabulary import ROLE_AGENT, ROLE_CUSTOMER, STATE_RECEIVED, STATE_SENT
from support_console.store.base import translated_errors
from support_console.store.tables import MESSAGES, TOKEN_COLUMNS

__all__ = ["HISTORY_INDEX", "History", "HistoryReader", "create_history_index", "reaches_model"]

#: First and largest batch: small first (a short read costs little), then sized to the budget (_next_batch).
_FIRST_BATCH, _MAX_BATCH = 64, 8192

#: Rough per-message overhead (tokens) used only to size the next read; the trimmer counts exactly.
_SIZING_OVERHEAD = 4

#: Counts kept for a later write-back when the write lock was held (beyond that they are simply recomputed).
_UNSAVED_MAX = 100_000

#: Conversations (per encoding) whose read history a Store keeps: the few an agent is working on; and the
#: most messages kept for one (about 6 MB of text at typical message sizes).
_CACHE_SIZE, _CACHE_MAX_ITEMS = 8, 20_000

_ID = operator.itemgetter(0)
_TOKENS = operator.itemgetter(3)

Row = tuple[Any, ...]
SaveCounts = Callable[[str, list[dict[str, int]]], None]


#: The partial index of the messages that reach the model, in message order (migration 4).
HISTORY_INDEX = "ix_messages_to_model"


def reaches_model(table: Any) -> sa.ColumnElement[bool]:
    """Only customer messages and sent replies are ever shown to the model (not notes, drafts, discards).

    The values are SQL literals, not parameters: that is what lets SQLite use the partial index
    :data:`HISTORY_INDEX`, whose WHERE clause is this same expression (:func:`create_history_index`).
    """

    def literal(value: str) -> sa.ColumnElement[str]:
        return sa.literal_column(f"'{value}'")

    return sa.or_(
        sa.and_(table.c.role == literal(ROLE_CUSTOMER), table.c.state == literal(STATE_RECEIVED)),
        sa.and_(table.c.role == literal(ROLE_AGENT), table.c.state == literal(STATE_SENT)),
    )


def create_history_index(conn: sa.Connection) -> None:
    """Migration 4: a partial index on (conversation_id, id) of exactly the messages that reach the model.

    The history's length and id sum are then a walk over just those index entries, with no filter to
    evaluate, and its newest id one index probe. Partial indexes exist in SQLite and PostgreSQL alike.
    """
    table = MESSAGES
    where = reaches_model(table).compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True})
    conn.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS {HISTORY_INDEX} ON messages (conversation_id, id) WHERE {where}"
    )


@dataclass(frozen=True, slots=True)
class _Stats:
    """One conversation's model-visible history at one moment: how many, the sum and the max of the ids."""

    count: int
    id_sum: int
    top: int


@dataclass(frozen=True, slots=True)
class _Cached:
    """What an earlier iteration read: ``items`` newest first, all of them when ``complete``."""

    stats: _Stats
    items: tuple[HistoryItem, ...]
    complete: bool


class History:
    """A conversation's model-visible history, newest first: lazy to iterate, cheap to size."""

    def __init__(self, reader: HistoryReader, conversation_id: int, encoding: str) -> None:
        self._reader = reader
        self._conversation_id = conversation_id
        self._encoding = encoding
        self._expected_tokens: int | None = None
        self._length: int | None = None  # known once an iteration has started

    def expect_tokens(self, tokens: int) -> None:
        """Size the reads to a consumer that will take about ``tokens`` tokens (context.BudgetAware)."""
        self._expected_tokens = tokens

    def __iter__(self) -> Iterator[HistoryItem]:
        stats = self._reader.stats(self._conversation_id)
        self._length = stats.count
        return self._reader.rows(self._conversation_id, self._encoding, stats, self._expected_tokens)

    def __len__(self) -> int:
        """How many messages the history holds: one COUNT, already made when iterating has started."""
        if self._length is None:
            self._length = self._reader.stats(self._conversation_id).count
        return self._length


class HistoryReader:
    """Reads histories for one Store: compiled statements, the cache, and the write-back of new counts
    (best effort, never waiting for another program's write lock)."""

    def __init__(self, engine: sa.Engine, save_counts: SaveCounts) -> None:
        self._engine = engine
        self._save_counts = save_counts
        self._cache: OrderedDict[tuple[int, str], _Cached] = OrderedDict()
        self._lock = threading.Lock()
        self._unsaved: dict[str, dict[int, int]] = {}  # column -> {message id: count} not written yet

    def stats(self, conversation_id: int) -> _Stats:
        self._save_unsaved()
        count, id_sum, top = self._query("stats", None).fetch(self._engine, {"cid": conversation_id})[0]
        return _Stats(int(count), int(id_sum or 0), int(top or 0))

    def rows(
        self, conversation_id: int, encoding: str, stats: _Stats, expected_tokens: int | None
    ) -> Iterator[HistoryItem]:
        """The history as of ``stats``, newest first: the cached part, then read on from the database."""
        key = (conversation_id, encoding)
        items = list(self._cached(key, stats, encoding))
        complete = len(items) == stats.count
        self._remember(key, _Cached(stats, tuple(items), complete))
        yield from items
        if complete:
            return
        params = {"cid": conversation_id, "top": _ID(items[-1]) - 1 if items else stats.top}
        read_tokens = sum(map(_TOKENS, items))
        params["n"] = _next_batch(_FIRST_BATCH // 2, expected_tokens, len(items), read_tokens)
        while True:
            rows = self._read(encoding, params)
            new = _items(rows)
            items += new
            read_tokens += sum(map(_TOKENS, rows))
            complete = len(rows) < params["n"]
            self._remember(key, _Cached(stats, tuple(items), complete))
            yield from new
            if complete:
                return
            params["top"] = rows[-1][0] - 1
            params["n"] = _next_batch(params["n"], expected_tokens, len(items), read_tokens)

    def _cached(self, key: tuple[int, str], stats: _Stats, encoding: str) -> Sequence[HistoryItem]:
        """What is still valid of the cached history: all of it, or it behind the messages added since."""
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            return ()
        old = cached.stats
        if old == stats:
            return cached.items
        if stats.count <= old.count or stats.top <= old.top:
            return ()
        newer = self._read(encoding, {"cid": key[0], "top": stats.top, "bottom": old.top, "n": _MAX_BATCH})
        only_added = (
            len(newer) == stats.count - old.count and sum(map(_ID, newer)) == stats.id_sum - old.id_sum
        )
        if not only_added:
            return ()
        return (*_items(newer), *cached.items)

    def _remember(self, key: tuple[int, str], entry: _Cached) -> None:
        with self._lock:
            if len(entry.items) > _CACHE_MAX_ITEMS:  # bound the memory: such a history is simply read again
                self._cache.pop(key, None)
                return
            self._cache[key] = entry
            self._cache.move_to_end(key)
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)

    def _read(self, encoding: str, params: dict[str, int]) -> list[Row]:
        """One batch of rows with ``id <= top`` (and ``> bottom``), newest first, every token count filled."""
        column = TOKEN_COLUMNS.get(encoding)
        rows = self._query("bottom" if "bottom" in params else "walk", column).fetch(self._engine, params)
        if None in map(_TOKENS, rows):
            rows = self._fill_counts(rows, encoding, column)
        return rows

    def _fill_counts(self, rows: Sequence[Row], encoding: str, column: str | None) -> list[Row]:
        """``rows`` with every missing count computed, and saved when the encoding has a column."""
        filled: list[Row] = []
        missing: list[dict[str, int]] = []
        for message_id, role, text, stored in rows:
            if stored is None:
                stored = count_text(text, encoding)
                missing.append({"mid": message_id, "n": stored})
            filled.append((message_id, role, text, stored))
        if missing and column is not None:
            self._try_save(column, missing)
        return filled

    def _try_save(self, column: str, counts: list[dict[str, int]]) -> None:
        """Write counts back if the database lets us at once; else keep them for :meth:`_save_unsaved`."""
        try:
            self._save_counts(column, counts)
        except StoreError:  # the write lock is held (or the disk is full): counts are a cache, try later
            with self._lock:
                kept = self._unsaved.setdefault(column, {})
                if len(kept) + len(counts) <= _UNSAVED_MAX:
                    kept.update((row["mid"], row["n"]) for row in counts)

    def _save_unsaved(self) -> None:
        """Try again to write the counts a held write lock kept back (skipped again if it still is)."""
        if not self._unsaved:
            return
        with self._lock:
            unsaved, self._unsaved = self._unsaved, {}
        for column, counts in unsaved.items():
            self._try_save(column, [{"mid": mid, "n": n} for mid, n in counts.items()])

    def _query(self, kind: str, column: str | None) -> _RawQuery:
        return _compiled(kind, column, self._engine)


def _items(rows: Sequence[Row]) -> list[HistoryItem]:
    """Rows as HistoryItems, built in C: ``tuple.__new__`` on the named tuple class (what ``_make`` does,
    without its Python-level call per row)."""
    return list(map(tuple.__new__, itertools.repeat(HistoryItem), rows))


#: Compiled statements, shared by every Store on the same kind of database (compiling costs milliseconds).
_COMPILED: dict[tuple[object, ...], _RawQuery] = {}


def _compiled(kind: str, column: str | None, engine: sa.Engine) -> _RawQuery:
    dialect = engine.dialect
    key = (type(dialect), dialect.paramstyle, dialect.server_version_info, kind, column)
    query = _COMPILED.get(key)
    if query is None:
        query = _COMPILED[key] = _RawQuery.compile(_statement(kind, column), engine)
    return query


def _statement(kind: str, column: str | None) -> sa.Select[Any]:
    table = MESSAGES
    mine = sa.and_(table.c.conversation_id == sa.bindparam("cid"), reaches_model(table))
    if kind == "stats":
        newest = sa.select(table.c.id).where(mine).order_by(table.c.id.desc()).limit(1).scalar_subquery()
        return sa.select(sa.func.count(), sa.func.coalesce(sa.func.sum(table.c.id), 0), newest).where(mine)
    role = sa.case(
        (table.c.role == ROLE_CUSTOMER, sa.literal_column("'user'")), else_=sa.literal_column("'assistant'")
    )
    tokens = table.c[column] if column else sa.null()
    stmt = sa.select(table.c.id, role, table.c.text, tokens).where(mine, table.c.id <= sa.bindparam("top"))
    if kind == "bottom":
        stmt = stmt.where(table.c.id > sa.bindparam("bottom"))
    return stmt.order_by(table.c.id.desc()).limit(sa.bindparam("n"))


def _next_batch(batch: int, expected_tokens: int | None, read_rows: int, read_tokens: int) -> int:
    """How many rows to read next.

    With the consumer's budget known (``History.expect_tokens``), read about as many rows as the rest of the
    budget needs at the average size seen so far, plus a tenth; without it, double.
    """
    if expected_tokens is None or read_rows == 0:
        return min(batch * 2, _MAX_BATCH)
    remaining = expected_tokens - read_tokens - _SIZING_OVERHEAD * read_rows
    if remaining <= 0:
        return _FIRST_BATCH
    average = (read_tokens + _SIZING_OVERHEAD * read_rows) / read_rows
    return max(_FIRST_BATCH, min(int(remaining / average * 1.1) + 16, _MAX_BATCH))


@dataclass(frozen=True, slots=True)
class _RawQuery:
    """A SELECT compiled once to the driver's SQL, run on a raw DBAPI cursor.

    A single SELECT needs no BEGIN: it is its own consistent snapshot, and takes no write lock.
    """

    sql: str
    order: tuple[str, ...] | None  # parameter names in positional order, None for named paramstyles
    constants: Mapping[str, Any]  # the statement's own bound values (role and state names)

    @classmethod
    def compile(cls, stmt: sa.Select[Any], engine: sa.Engine) -> _RawQuery:
        compiled = stmt.compile(dialect=engine.dialect)
        order = tuple(compiled.positiontup) if compiled.positiontup is not None else None
        constants = {name: value for name, value in compiled.params.items() if value is not None}
        return cls(str(compiled), order, constants)

    def fetch(self, engine: sa.Engine, params: Mapping[str, Any]) -> list[Row]:
        values = {**self.constants, **params}
        args: Any = tuple(values[name] for name in self.order) if self.order is not None else values
        dbapi = engine.dialect.loaded_dbapi
        with translated_errors():
            try:
                connection = engine.raw_connection()
                try:
                    cursor = connection.cursor()
                    try:
                        cursor.execute(self.sql, args)
                        return list(cursor.fetchall())
                    finally:
                        cursor.close()
                finally:
                    connection.close()
            except dbapi.Error as exc:
                raise sa.exc.DBAPIError.instance(self.sql, None, exc, dbapi.Error) from exc
