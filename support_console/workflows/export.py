"""The audit trail of conversations, and its export as Markdown (for people) or JSON / JSONL (for machines).

One home for "what the audit shows": :func:`audit_conversation` builds it, the audit screen displays it and
the exporter writes it, so the console and an export always agree. For every AI-assisted reply it keeps the
model's original draft next to the sent text, with approver, time, persona, model, tokens and finish reason.

What is included: customer messages, internal notes and sent replies. Unsent and discarded drafts are not part
of the trail (nothing was said with them). No settings are read here, so no API key can reach an export.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal, TextIO

import sqlalchemy as sa

from support_console.core.errors import NotFoundError, SupportConsoleError
from support_console.core.safe_text import escaped, json_escaped
from support_console.store import (
    ROLE_AGENT,
    ROLE_CUSTOMER,
    STATE_NOTE,
    STATE_RECEIVED,
    STATE_SENT,
    Conversation,
    Customer,
    Message,
    Store,
)
from support_console.store.conversation_list import LogFilters, edit_distance, where_clauses
from support_console.store.engine import reader

ExportFormat = Literal["md", "json", "jsonl"]
FORMATS: Final = ("md", "json", "jsonl")
FORMAT_ID: Final = "support-console-export/1"
_AUDITED_STATES: Final = (STATE_RECEIVED, STATE_SENT, STATE_NOTE)

_M = Message.__table__.c  # type: ignore[attr-defined]
_C = Conversation.__table__.c  # type: ignore[attr-defined]
_K = Customer.__table__.c  # type: ignore[attr-defined]


@dataclass(frozen=True)
class AuditMessage:
    """One message of the trail. For a reply, ``text`` is what was sent and ``original_text`` what the model
    wrote (None for a hand-written reply); ``edit_distance`` is 0.0 when sent unchanged."""

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

    @property
    def ai_assisted(self) -> bool:
        return self.role == ROLE_AGENT and (self.original_text is not None or self.model is not None)

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


class ExportError(SupportConsoleError):
    """The export cannot be written (unknown format)."""


# ----------------------------------------------------------------------------------------------- building

# fmt: off
_MESSAGE_COLUMNS = (
    _M.id, _M.role, _M.state, _M.created_at, _M.text, _M.original_text, _M.persona_id, _M.model,
    _M.prompt_tokens, _M.completion_tokens, _M.finish_reason, _M.error, _M.approved_by, _M.approved_at,
    _M.external_id,
)
_CONVERSATION_COLUMNS = (
    _C.id, _C.customer_id, _K.name, _K.email, _K.external_id, _C.status, _C.persona_id, _C.created_at,
)
# fmt: on


def _conversation_select() -> sa.Select[Any]:
    return sa.select(*_CONVERSATION_COLUMNS).join_from(
        Conversation.__table__,  # type: ignore[attr-defined]
        Customer.__table__,  # type: ignore[attr-defined]
        _K.id == _C.customer_id,
    )


def _build(conn: sa.Connection, row: sa.Row[Any]) -> AuditConversation:
    stmt = (
        sa.select(*_MESSAGE_COLUMNS)
        .where(_M.conversation_id == row[0], _M.state.in_(_AUDITED_STATES))
        .order_by(_M.id)
    )
    messages = tuple(AuditMessage(*tuple(m)) for m in conn.execute(stmt))
    conversation_id, customer_id, name, email, external_id, status, persona_id, created_at = tuple(row)
    return AuditConversation(
        conversation_id, customer_id, name, email, external_id, status, persona_id, created_at, messages
    )


def audit_conversation(store: Store, conversation_id: int) -> AuditConversation:
    """The audit trail of one conversation (NotFoundError if it does not exist)."""
    with reader(store.engine).connect() as conn:
        row = conn.execute(_conversation_select().where(_C.id == conversation_id)).first()
        if row is None:
            raise NotFoundError(f"Conversation {conversation_id} does not exist: reload the logs list.")
        return _build(conn, row)


def iter_audit(
    store: Store, customer: str | None = None, since: datetime | None = None, batch: int = 200
) -> Iterator[AuditConversation]:
    """Every matching conversation's trail, oldest conversation first, read in batches (any size of DB).

    ``customer`` matches name, email or external id; ``since`` keeps conversations active since then.
    """
    clauses = where_clauses(LogFilters(customer=customer, since=since))
    after = 0
    while True:
        with reader(store.engine).connect() as conn:
            rows = conn.execute(
                _conversation_select().where(*clauses, _C.id > after).order_by(_C.id).limit(batch)
            ).all()
            trails = [_build(conn, row) for row in rows]
        yield from trails
        if len(rows) < batch:
            return
        after = rows[-1][0]


# ------------------------------------------------------------------------------------------------ writing


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def message_dict(m: AuditMessage) -> dict[str, Any]:
    """The machine-readable form of one message (JSON / JSONL)."""
    data: dict[str, Any] = {
        "id": m.message_id,
        "role": m.role,
        "state": m.state,
        "time": _iso(m.created_at),
        "text": m.text,
        "external_id": m.external_id,
    }
    if m.role == ROLE_AGENT:
        data.update(
            {
                "ai_assisted": m.ai_assisted,
                "original_text": m.original_text,
                "sent_text": m.text,
                "edited": m.edited,
                "edit_distance": m.edit_distance,
                "approved_by": m.approved_by,
                "approved_at": _iso(m.approved_at),
                "persona": m.persona_id,
                "model": m.model,
                "prompt_tokens": m.prompt_tokens,
                "completion_tokens": m.completion_tokens,
                "finish_reason": m.finish_reason,
                "error": m.error,
            }
        )
    return data


def conversation_dict(c: AuditConversation) -> dict[str, Any]:
    """The machine-readable form of one conversation."""
    return {
        "id": c.conversation_id,
        "customer": {
            "id": c.customer_id,
            "name": c.customer_name,
            "email": c.customer_email,
            "external_id": c.customer_external_id,
        },
        "status": c.status,
        "persona": c.persona_id,
        "created_at": _iso(c.created_at),
        "messages": [message_dict(m) for m in c.messages],
    }


def _fence(text: str) -> str:
    """A backtick fence longer than any run of backticks in ``text`` (so the text cannot close it)."""
    longest, run = 0, 0
    for ch in text:
        run = run + 1 if ch == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def _json(data: dict[str, Any]) -> str:
    """One conversation as JSON text; control and bidi characters as ``\\u`` escapes (same data, safe to
    ``cat``)."""
    return json_escaped(json.dumps(data, ensure_ascii=False))


def _quote(text: str) -> str:
    return "\n".join("> " + line if line else ">" for line in text.splitlines() or [""])


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def message_markdown(m: AuditMessage) -> str:
    """One message for people: who and when, the text as a quote, and for AI replies the audit details."""
    if m.role == ROLE_CUSTOMER:
        return f"**Customer** · {_when(m.created_at)}\n\n{_quote(m.text)}\n"
    if m.role != ROLE_AGENT:
        return f"**Internal note** · {_when(m.created_at)}\n\n{_quote(m.text)}\n"
    kind = (
        "AI-assisted, edited"
        if m.edited
        else "AI-assisted, sent unchanged"
        if m.ai_assisted
        else "hand-written"
    )
    parts = [
        f"**Reply sent by {m.approved_by or 'unknown'}** ({kind}) · {_when(m.approved_at or m.created_at)}"
    ]
    if m.ai_assisted:
        tokens = f"{m.prompt_tokens if m.prompt_tokens is not None else '?'} prompt / "
        tokens += f"{m.completion_tokens if m.completion_tokens is not None else '?'} completion"
        parts.append(
            f"persona {m.persona_id or '—'} · model {m.model or '—'} · tokens {tokens} · "
            f"finish reason {m.finish_reason or '—'} · edit distance {m.edit_distance:.2f}"
        )
    parts.append(_quote(m.text))
    if m.edited and m.original_text is not None:
        diff = "\n".join(
            difflib.unified_diff(
                m.original_text.splitlines(), m.text.splitlines(), "model's draft", "sent", lineterm=""
            )
        )
        fence = _fence(diff)
        parts.append(f"Model's draft → sent:\n\n{fence}diff\n{diff}\n{fence}")
    return "\n\n".join(parts) + "\n"


def conversation_markdown(c: AuditConversation) -> str:
    """One conversation for people."""
    head = (
        f"## Conversation {c.conversation_id}: {c.customer_name} <{c.customer_email}>\n\n"
        f"Status {c.status} · persona {c.persona_id or '—'} · started {_when(c.created_at)} · "
        f"{len(c.messages)} messages\n"
    )
    return head + "\n" + "\n".join(message_markdown(m) for m in c.messages)


def export(
    store: Store, out: TextIO, fmt: str, customer: str | None = None, since: datetime | None = None
) -> int:
    """Write the audit trail of the matching conversations to ``out``; return how many were written."""
    if fmt not in FORMATS:
        raise ExportError(f"Unknown export format {fmt!r}: use md, json or jsonl.")
    count = 0
    if fmt == "md":
        out.write(f"# Conversation export\n\nExported {_when(datetime.now(UTC))}.\n\n")
    elif fmt == "json":
        out.write(
            f'{{"format": "{FORMAT_ID}", "exported_at": "{_iso(datetime.now(UTC))}", "conversations": ['
        )
    for trail in iter_audit(store, customer=customer, since=since):
        if fmt == "md":
            out.write(escaped(conversation_markdown(trail)) + "\n")  # read in terminals too
        elif fmt == "json":
            out.write(("," if count else "") + "\n" + _json(conversation_dict(trail)))
        else:
            out.write(_json(conversation_dict(trail)) + "\n")
        count += 1
    if fmt == "json":
        out.write("\n]}\n")
    elif fmt == "md" and count == 0:
        out.write("No conversations matched.\n")
    return count
