"""Conversation logs: the paged list of all conversations, and agent-assist stats over a period.

The list orders conversations by their last activity (newest message time; creation time for an empty
one), newest first, through an expression index created by :func:`migrate_logs_indexes` (appended to
``store/migrations.py``). With that index the first page of 100,000 conversations is an index walk of
``limit`` rows, not a sort; deep pages use OFFSET, which walks the index too (still milliseconds at 100,000).

Stats definitions (one home for them):

* an **AI draft** is an agent reply that came from the model: ``original_text`` or ``model`` is set
  (hand-written replies have neither);
* **drafts** counts AI drafts created in the period, whatever became of them; **sent** those approved;
  **unchanged** those sent exactly as the model wrote them; **acceptance** = unchanged / sent;
* **edit rate** is the mean normalised edit distance between the model's text and the sent text over sent AI
  drafts (0 = sent as written, 1 = entirely rewritten; see :func:`edit_distance`);
* **content filtered** counts AI drafts ended by a content filter (finish reason ``content_filter``, or an
  error saying so) or refused by the model; **errors** counts the other drafts saved with an error, except
  drafts the agent stopped on purpose.

Per agent (the approver) only sent replies can be attributed, so ``drafts`` is None there.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from support_console.core.vocabulary import (
    REFUSAL_NOTE,
    ROLE_AGENT,
    STATE_DISCARDED,
    STATE_SENT,
    STOPPED_NOTE,
)
from support_console.store.engine import reader
from support_console.store.search import customer_matches
from support_console.store.tables import Conversation, Customer, Message, UTCDateTime

if TYPE_CHECKING:
    from support_console.store.base import StoreBase

_M = Message.__table__.c  # type: ignore[attr-defined]
_C = Conversation.__table__.c  # type: ignore[attr-defined]
_K = Customer.__table__.c  # type: ignore[attr-defined]

ACTIVITY_INDEX: Final = "ix_conversations_activity"
#: Edit distances and diffs compare at most this many characters of each text: SequenceMatcher is quadratic in
#: the worst case, and replies longer than this are rare; the figure stays a good estimate.
DIFF_CAP: Final = 4000
PREVIEW_CHARS: Final = 160


@dataclass(frozen=True)
class LogFilters:
    """What the logs list shows. ``customer`` matches name, email or external id (substring, any case);
    ``since``/``until`` bound the conversation's last activity (inclusive / exclusive)."""

    customer: str | None = None
    persona: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class ConversationRow:
    """One line of the logs list."""

    conversation_id: int
    customer_id: int
    customer_name: str
    customer_email: str
    status: str
    persona_id: str | None
    created_at: datetime
    last_activity: datetime
    messages: int
    preview: str  # the newest message's text, first PREVIEW_CHARS characters


# ---------------------------------------------------------------------------------------------- migration


def migrate_logs_indexes(conn: Connection) -> None:
    """Migration: the index that orders conversations by last activity (see the module docstring)."""
    conn.exec_driver_sql(
        f"CREATE INDEX IF NOT EXISTS {ACTIVITY_INDEX} "
        "ON conversations ((coalesce(last_activity, created_at)), id)"  # (( )): also valid PostgreSQL
    )


# ------------------------------------------------------------------------------------------------- listing


def _activity() -> sa.ColumnElement[datetime]:
    """The ordering key; the same expression as the index, so SQLite walks the index."""
    return sa.func.coalesce(_C.last_activity, _C.created_at, type_=UTCDateTime())


def where_clauses(filters: LogFilters | None) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses over conversations (and their customers) for ``filters``; shared with export."""
    f = filters or LogFilters()
    clauses: list[sa.ColumnElement[bool]] = []
    if f.customer and f.customer.strip():
        clauses.append(_C.customer_id.in_(sa.select(_K.id).where(customer_matches(f.customer))))
    if f.persona:
        clauses.append(_C.persona_id == f.persona)
    if f.status:
        clauses.append(_C.status == f.status)
    if f.since is not None:
        clauses.append(_activity() >= sa.literal(f.since, UTCDateTime()))
    if f.until is not None:
        clauses.append(_activity() < sa.literal(f.until, UTCDateTime()))
    return clauses


def list_conversations(
    store: StoreBase, filters: LogFilters | None = None, offset: int = 0, limit: int = 50
) -> list[ConversationRow]:
    """Conversations matching ``filters``, most recent activity first, ``limit`` rows from ``offset``."""
    count = (
        sa.select(sa.func.count())
        .where(_M.conversation_id == _C.id, _M.state != STATE_DISCARDED)
        .scalar_subquery()
    )
    preview = (
        sa.select(sa.func.substr(_M.text, 1, PREVIEW_CHARS))
        .where(_M.conversation_id == _C.id, _M.state != STATE_DISCARDED)
        .order_by(_M.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    stmt = (
        sa.select(
            _C.id,
            _C.customer_id,
            _K.name,
            _K.email,
            _C.status,
            _C.persona_id,
            _C.created_at,
            _activity(),
            count,
            preview,
        )
        .join_from(Conversation.__table__, Customer.__table__, _K.id == _C.customer_id)  # type: ignore[attr-defined]
        .where(*where_clauses(filters))
        .order_by(_activity().desc(), _C.id.desc())
        .offset(max(0, offset))
        .limit(max(0, limit))
    )
    with reader(store.engine).connect() as conn:
        rows = conn.execute(stmt).all()
    return [
        ConversationRow(
            conversation_id=r[0],
            customer_id=r[1],
            customer_name=r[2],
            customer_email=r[3],
            status=r[4],
            persona_id=r[5],
            created_at=r[6],
            last_activity=r[7],
            messages=int(r[8] or 0),
            preview=r[9] or "",
        )
        for r in rows
    ]


def count_conversations(store: StoreBase, filters: LogFilters | None = None) -> int:
    """How many conversations match ``filters`` (for the list's size and paging)."""
    stmt = sa.select(sa.func.count()).select_from(Conversation.__table__).where(*where_clauses(filters))  # type: ignore[attr-defined]
    with reader(store.engine).connect() as conn:
        return int(conn.execute(stmt).scalar_one())


# --------------------------------------------------------------------------------------------------- stats


@dataclass(frozen=True)
class StatsRow:
    """Agent-assist figures for one persona or one agent (see the module docstring for the definitions)."""

    key: str
    drafts: int | None
    sent: int
    unchanged: int
    edit_rate: float | None  # mean normalised edit distance over sent AI drafts; None when none were sent
    content_filtered: int
    errors: int

    @property
    def acceptance(self) -> float | None:
        """Share of sent AI drafts that went out exactly as the model wrote them."""
        return self.unchanged / self.sent if self.sent else None


@dataclass(frozen=True)
class LogStats:
    """Stats over [since, until): per persona and per approving agent."""

    since: datetime | None
    until: datetime | None
    by_persona: list[StatsRow]
    by_agent: list[StatsRow]


@dataclass
class _Acc:
    drafts: int = 0
    sent: int = 0
    unchanged: int = 0
    distance: float = 0.0
    filtered: int = 0
    errors: int = 0

    def row(self, key: str, *, with_drafts: bool) -> StatsRow:
        return StatsRow(
            key=key, drafts=self.drafts if with_drafts else None, sent=self.sent, unchanged=self.unchanged,
            edit_rate=self.distance / self.sent if self.sent else None, content_filtered=self.filtered,
            errors=self.errors,
        )  # fmt: skip


def is_content_filtered(finish_reason: str | None, error: str | None) -> bool:
    """A content filter (provider) or a refusal (model) ended the draft."""
    if finish_reason == "content_filter":
        return True
    if error is None:
        return False
    lowered = error.lower()
    return "content filter" in lowered or "content_filter" in lowered or error == REFUSAL_NOTE


def stats(store: StoreBase, since: datetime | None = None, until: datetime | None = None) -> LogStats:
    """Per persona and per agent: drafts, sent, unchanged (acceptance), edit rate, content filter, errors."""
    ai = sa.and_(_M.role == ROLE_AGENT, sa.or_(_M.original_text.is_not(None), _M.model.is_not(None)))
    clauses: list[sa.ColumnElement[bool]] = [ai]
    if since is not None:
        clauses.append(_M.created_at >= sa.literal(since, UTCDateTime()))
    if until is not None:
        clauses.append(_M.created_at < sa.literal(until, UTCDateTime()))
    persona = sa.func.coalesce(_M.persona_id, _C.persona_id, "(none)")
    stmt = (
        sa.select(persona, _M.approved_by, _M.state, _M.text, _M.original_text, _M.finish_reason, _M.error)
        .join_from(Message.__table__, Conversation.__table__, _C.id == _M.conversation_id)  # type: ignore[attr-defined]
        .where(*clauses)
    )
    personas: dict[str, _Acc] = {}
    agents: dict[str, _Acc] = {}
    with reader(store.engine).connect() as conn:
        for persona_id, approver, state, text, original, finish, error in conn.execute(stmt):
            p = personas.setdefault(persona_id, _Acc())
            p.drafts += 1
            if is_content_filtered(finish, error):
                p.filtered += 1
            elif error is not None and error != STOPPED_NOTE:
                p.errors += 1
            if state != STATE_SENT:
                continue
            distance = edit_distance(original if original is not None else text, text)
            for acc in (p, agents.setdefault(approver or "(unknown)", _Acc())):
                acc.sent += 1
                acc.unchanged += distance == 0.0
                acc.distance += distance
    return LogStats(
        since=since,
        until=until,
        by_persona=[personas[k].row(k, with_drafts=True) for k in sorted(personas)],
        by_agent=[agents[k].row(k, with_drafts=False) for k in sorted(agents)],
    )


# ---------------------------------------------------------------------------------------------------- diffs


def edit_distance(original: str, sent: str) -> float:
    """Normalised character edit distance: 0.0 identical, 1.0 nothing in common (difflib, capped cost)."""
    if original == sent:
        return 0.0
    a, b = original[:DIFF_CAP], sent[:DIFF_CAP]
    if not a or not b:
        return 1.0
    return round(1.0 - difflib.SequenceMatcher(None, a, b, autojunk=False).ratio(), 4)


DiffOp = tuple[str, str]  # ("equal" | "insert" | "delete", text)


def diff_words(original: str, sent: str) -> list[DiffOp]:
    """Word-level diff of the model's text against the sent text, as (op, text) runs in reading order.

    Words carry their trailing whitespace but are compared without it (so "word." at the end of the draft
    still matches "word. More" in the sent text). Joining the "equal" and "insert" runs gives ``sent`` back;
    "equal" and "delete" runs give ``original`` up to whitespace (within DIFF_CAP characters).
    """
    a, b = _words(original[:DIFF_CAP]), _words(sent[:DIFF_CAP])
    matcher = difflib.SequenceMatcher(None, [w.strip() for w in a], [w.strip() for w in b], autojunk=False)
    ops: list[DiffOp] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            _push(ops, "equal", "".join(b[j1:j2]))
        else:
            _push(ops, "delete", "".join(a[i1:i2]))
            _push(ops, "insert", "".join(b[j1:j2]))
    return ops


def _words(text: str) -> list[str]:
    """Words with their trailing whitespace (leading whitespace is its own token): lossless."""
    return re.findall(r"^\s+|\S+\s*", text)


def _push(ops: list[DiffOp], op: str, text: str) -> None:
    if not text:
        return
    if ops and ops[-1][0] == op:
        ops[-1] = (op, ops[-1][1] + text)
    else:
        ops.append((op, text))
