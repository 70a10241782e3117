"""The audit trail of a conversation: what was said, and for every AI-assisted reply what the model wrote.

One home for "what the audit shows": :meth:`AuditMixin.audit_conversation` builds it, the audit screen
displays it and the exporter (``workflows/export.py``) writes it, so the console and an export always agree.
For every AI-assisted reply it keeps the model's original draft next to the sent text, with approver, time,
persona, model, tokens and finish reason.

What is included: customer messages, internal notes and sent replies. Unsent and discarded drafts are not part
of the trail (nothing was said with them), but every generation is (``AuditConversation.generations``, in the
order they started): what the model was asked and how each attempt ended, with the state of the draft it
went into (sent, draft, discarded or superseded). A sent reply names the generation its text came from.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from support_console.core.errors import NotFoundError
from support_console.core.text_diff import edit_distance
from support_console.core.vocabulary import GENERATION_REWRITE, OUTCOME_ACCEPTED, incomplete_kind
from support_console.store.base import StoreBase
from support_console.store.conversation_list import AUDITED_STATES, LogFilters, where_clauses
from support_console.store.generations import GenerationRecord, read_generations
from support_console.store.tables import CONVERSATIONS, CUSTOMERS, GENERATIONS, MESSAGES, ai_assisted
from support_console.store.team import EventRecord, read_events

_M = MESSAGES.c
_C = CONVERSATIONS.c
_K = CUSTOMERS.c


@dataclass(frozen=True)
class AuditMessage:
    """One message of the trail. For a reply, ``text`` is what was sent and ``original_text`` what the model
    wrote (None for a hand-written reply); ``ai_assisted`` is ``tables.ai_assisted`` as the store read it;
    ``edit_distance`` is 0.0 when sent unchanged."""

    message_id: int
    role: str
    state: str
    created_at: datetime
    text: str
    original_text: str | None
    persona_id: str | None
    model: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None
    error: str | None
    approved_by: str | None
    approved_at: datetime | None
    external_id: str | None
    ai_assisted: bool
    generation_id: int | None = None  # the generation the text came from (None: hand-written, or older)
    error_kind: str | None = None  # how that generation ended (a refusal, a stop…): not a complete reply
    #: The rewrite tools whose rewrites the agent accepted into this reply's draft, oldest first (a
    #: hand-written reply may have been rewritten by the model: it is not ``ai_assisted``, which looks at
    #: where the draft came from, but the trail must not call its words wholly the agent's).
    rewrites_accepted: tuple[str, ...] = ()

    @property
    def happened_at(self) -> datetime:
        """When it happened in the conversation (``tables.happened_at`` in SQL): a reply when it was sent (a
        reply sent after messages that came while it was drafted follows them, though its draft began before
        them), anything else when it was written."""
        return self.approved_at or self.created_at

    @property
    def verdict(self) -> str:
        """How the reply relates to the model's text, in words (the audit view and the Markdown export)."""
        if not self.ai_assisted:
            if not self.rewrites_accepted:
                return "hand-written"
            tools = " and ".join(dict.fromkeys(self.rewrites_accepted))
            tool = "tools" if len(set(self.rewrites_accepted)) > 1 else "tool"
            return f"hand-written, rewritten with the {tools} rewrite {tool}"
        if self.edited:
            return "AI-assisted, edited"
        incomplete = incomplete_kind(self.error_kind, self.finish_reason)
        if incomplete is not None:
            return f"AI-assisted, sent as the model left it ({incomplete}: not a complete reply)"
        return "AI-assisted, sent unchanged"

    @property
    def edit_distance(self) -> float | None:
        if not self.ai_assisted:
            return None
        return edit_distance(self.original_text if self.original_text is not None else self.text, self.text)

    @property
    def edited(self) -> bool:
        return bool(self.edit_distance)


@dataclass(frozen=True)
class AuditConversation:
    """A conversation with its customer and its trail, oldest message first."""

    conversation_id: int
    customer_id: int
    customer_name: str
    customer_email: str
    customer_external_id: str | None
    status: str
    persona_id: str | None
    created_at: datetime
    messages: tuple[AuditMessage, ...]
    generations: tuple[GenerationRecord, ...] = ()
    events: tuple[EventRecord, ...] = ()  # who did what, oldest first: notes, statuses, assignments, sends


# fmt: off
_MESSAGE_COLUMNS = (
    _M.id, _M.role, _M.state, _M.created_at, _M.text, _M.original_text, _M.persona_id, _M.model,
    _M.prompt_tokens, _M.completion_tokens, _M.finish_reason, _M.error, _M.approved_by, _M.approved_at,
    _M.external_id, sa.type_coerce(ai_assisted(_M), sa.Boolean), _M.generation_id, _M.error_kind,
)
_CONVERSATION_COLUMNS = (
    _C.id, _C.customer_id, _K.name, _K.email, _K.external_id, _C.status, _C.persona_id, _C.created_at,
)
# fmt: on


def _conversation_select() -> sa.Select[Any]:
    return sa.select(*_CONVERSATION_COLUMNS).join_from(CONVERSATIONS, CUSTOMERS, _K.id == _C.customer_id)


def _rewrites_accepted(generations: Sequence[GenerationRecord]) -> dict[int, list[str]]:
    """Message id -> the tools of the rewrites accepted into that draft, oldest first."""
    accepted: dict[int, list[str]] = {}
    for g in generations:
        if g.kind == GENERATION_REWRITE and g.outcome == OUTCOME_ACCEPTED and g.message_id is not None:
            accepted.setdefault(g.message_id, []).append(g.tool_id or "unknown")
    return accepted


def _build(conn: Connection, row: sa.Row[Any]) -> AuditConversation:
    stmt = (
        sa.select(*_MESSAGE_COLUMNS)
        .where(_M.conversation_id == row[0], _M.state.in_(AUDITED_STATES))
        .order_by(_M.id)
    )
    conversation_id, customer_id, name, email, external_id, status, persona_id, created_at = tuple(row)
    generations = read_generations(conn, GENERATIONS.c.conversation_id == conversation_id)
    rewrites = _rewrites_accepted(generations)
    read = (AuditMessage(*tuple(m)) for m in conn.execute(stmt))
    messages = tuple(
        replace(m, rewrites_accepted=tuple(rewrites[m.message_id])) if m.message_id in rewrites else m
        for m in read
    )
    events = tuple(read_events(conn, conversation_id))
    return AuditConversation(
        conversation_id,
        customer_id,
        name,
        email,
        external_id,
        status,
        persona_id,
        created_at,
        messages,
        generations,
        events,
    )


class AuditMixin(StoreBase):
    """The audit trail of the Store."""

    def audit_conversation(self, conversation_id: int) -> AuditConversation:
        """The audit trail of one conversation (NotFoundError if it does not exist)."""
        with self._reading() as conn:
            row = conn.execute(_conversation_select().where(_C.id == conversation_id)).first()
            if row is None:
                raise NotFoundError(f"Conversation {conversation_id} does not exist: reload the logs list.")
            return _build(conn, row)

    def iter_audit(
        self, customer: str | None = None, since: datetime | None = None, batch: int = 200
    ) -> Iterator[AuditConversation]:
        """Every matching conversation's trail, oldest conversation first, read in batches (any size of DB).

        ``customer`` matches name, email or external id (``customers.customer_filter``); ``since`` keeps
        conversations active since then.
        """
        clauses = where_clauses(LogFilters(customer=customer, since=since))
        after = 0
        while True:
            with self._reading() as conn:
                rows = conn.execute(
                    _conversation_select().where(*clauses, _C.id > after).order_by(_C.id).limit(batch)
                ).all()
                trails = [_build(conn, row) for row in rows]
            yield from trails
            if len(rows) < batch:
                return
            after = rows[-1][0]
