"""Export of the audit trail as Markdown (for people) or JSON / JSONL (for machines).

What the trail holds is the store's to say (``Store.iter_audit``: ``store/audit.py``), so an export always
agrees with the audit view; this module only writes it. For every AI-assisted reply it keeps the model's
original draft next to the sent text, with approver, time, persona, model, tokens and finish reason, and the
generation its text came from; every generation of the conversation follows, in the order they started, then
who did what (the events log). No settings are read here, so no API key can reach an export.
"""

from __future__ import annotations

import difflib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, Literal, TextIO

from support_console.core.clock import utcnow
from support_console.core.errors import SupportConsoleError
from support_console.core.safe_text import escaped, json_escaped
from support_console.core.vocabulary import (
    EVENT_ASSIGNED,
    EVENT_STATUS,
    GENERATION_DRAFT,
    ROLE_AGENT,
    ROLE_CUSTOMER,
)

if TYPE_CHECKING:
    from support_console.store import AuditConversation, AuditMessage, EventRecord, GenerationRecord, Store

ExportFormat = Literal["md", "json", "jsonl"]
FORMATS: Final = ("md", "json", "jsonl")
FORMAT_ID: Final = "support-console-export/1"


class ExportError(SupportConsoleError):
    """The export cannot be written (unknown format)."""


# ------------------------------------------------------------------------------------------------ writing


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def message_dict(m: AuditMessage) -> dict[str, Any]:
    """The machine-readable form of one message (JSON / JSONL)."""
    data: dict[str, Any] = {
        "id": m.message_id,
        "role": m.role,
        "state": m.state,
        "time": _iso(m.happened_at),
        "text": m.text,
        "external_id": m.external_id,
    }
    if m.role == ROLE_AGENT:
        data.update(
            {
                "ai_assisted": m.ai_assisted,
                "rewrites_accepted": list(m.rewrites_accepted),
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
                "generation_id": m.generation_id,
                "error_kind": m.error_kind,
            }
        )
    return data


def generation_dict(g: GenerationRecord) -> dict[str, Any]:
    """The machine-readable form of one generation (a request to the model and how it ended)."""
    return {
        "id": g.id, "draft_id": g.message_id, "draft_state": g.draft_state, "replaces": g.replaces,
        "persona": g.persona_id, "model": g.model, "parameters": dict(g.parameters),
        "prompt_tokens": g.prompt_tokens, "completion_tokens": g.completion_tokens,
        "finish_reason": g.finish_reason, "error": g.error, "error_kind": g.error_kind,
        "started_at": _iso(g.started_at), "ended_at": _iso(g.ended_at),
        "stopped_by_agent": g.stopped_by_agent, "kind": g.kind, "tool": g.tool_id, "agent": g.agent,
        "output_text": g.output_text, "outcome": g.outcome, "covers_message_id": g.covers_message_id,
        "rating": g.rating, "rating_reason": g.rating_reason, "draft_kept": g.draft_kept,
    }  # fmt: skip


def generation_line(g: GenerationRecord) -> str:
    """One generation in words (Markdown export, audit view): what was asked and how it ended."""
    if g.stopped_by_agent:
        outcome = "stopped by the agent"
    elif g.error_kind is not None:
        outcome = f"ended: {g.error_kind}"
    else:
        outcome = f"finish reason {g.finish_reason or '—'}"
    tokens = f"{g.prompt_tokens if g.prompt_tokens is not None else '?'} prompt / "
    tokens += f"{g.completion_tokens if g.completion_tokens is not None else '?'} completion"
    if g.message_id is None:
        draft = "no draft"
    elif g.draft_kept:
        draft = f"no text: draft #{g.message_id} ({g.draft_state}) kept as it was"
    else:
        draft = f"draft #{g.message_id} ({g.draft_state})"
    replaces = f" · replaces #{g.replaces}" if g.replaces is not None else ""
    rated = ""
    if g.rating is not None:
        rated = " · thumbs " + ("up" if g.rating > 0 else "down")
        rated += f": {g.rating_reason}" if g.rating_reason else ""
    return (
        f"#{g.id} · {_when(g.started_at)} · {_kind(g)}persona {g.persona_id or '—'} · "
        f"model {g.model or '—'} · {tokens} · {outcome} · {draft}{replaces}{rated}"
    )


def event_line(e: EventRecord) -> str:
    """One event in words (Markdown export, audit view): when, who ("—" for no agent) and what; a status or
    an assignment with what it was set to."""
    detail = f" {e.detail}" if e.kind in (EVENT_STATUS, EVENT_ASSIGNED) and e.detail else ""
    return f"{_when(e.at)} · {e.agent or '—'} · {e.kind}{detail}"


def _kind(g: GenerationRecord) -> str:
    """What a generation other than a draft was (a rewrite by its tool, by whom) and the agent's verdict."""
    if g.kind == GENERATION_DRAFT:
        return ""
    tool = f" {g.tool_id}" if g.tool_id else ""
    agent = f" by {g.agent}" if g.agent else ""
    verdict = f", {g.outcome}" if g.outcome else ""
    return f"{g.kind}{tool}{agent}{verdict} · "


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
        "generations": [generation_dict(g) for g in c.generations],
        "events": [
            {"at": _iso(e.at), "agent": e.agent, "kind": e.kind, "detail": e.detail} for e in c.events
        ],
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
        return f"**Customer** · {_when(m.happened_at)}\n\n{_quote(m.text)}\n"
    if m.role != ROLE_AGENT:
        return f"**Internal note** · {_when(m.happened_at)}\n\n{_quote(m.text)}\n"
    when = _when(m.happened_at)
    parts = [f"**Reply sent by {m.approved_by or 'unknown'}** ({m.verdict}) · {when}"]
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
    body = head + "\n" + "\n".join(message_markdown(m) for m in c.messages)
    if c.generations:
        lines = "".join(_generation_markdown(g) for g in c.generations)
        body += f"\n### Generations ({len(c.generations)}, oldest first)\n\n{lines}"
    if c.events:
        lines = "".join(f"- {event_line(e)}\n" for e in c.events)
        body += f"\n### Who did what (oldest first)\n\n{lines}"
    return body


def _generation_markdown(g: GenerationRecord) -> str:
    """One generation as a list item, with the whole of its own text quoted under it (the audit view shows
    its beginning): a draft that a later one replaced, a rewrite not taken, a summary are nowhere else."""
    item = f"- {generation_line(g)}\n"
    if g.output_text:
        item += "\n" + "\n".join("  " + line for line in _quote(g.output_text).splitlines()) + "\n\n"
    return item


def export(
    store: Store, out: TextIO, fmt: str, customer: str | None = None, since: datetime | None = None
) -> int:
    """Write the audit trail of the matching conversations to ``out``; return how many were written."""
    if fmt not in FORMATS:
        raise ExportError(f"Unknown export format {fmt!r}: use md, json or jsonl.")
    count = 0
    if fmt == "md":
        out.write(f"# Conversation export\n\nExported {_when(utcnow())}.\n\n")
    elif fmt == "json":
        out.write(f'{{"format": "{FORMAT_ID}", "exported_at": "{_iso(utcnow())}", "conversations": [')
    for trail in store.iter_audit(customer=customer, since=since):
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
