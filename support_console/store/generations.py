"""Generations: one record per request to the model (schema version 9), never reused.

Why its own table: a draft can be generated many times (regenerated, stopped, failed and tried again), and
the audit must tell each attempt apart. When the facts lived only on the draft, a stopped regeneration
inherited the previous attempt's usage and finish reason, a later success kept an earlier error, and four
failures in a row counted as one. Now :meth:`GenerationsMixin.start_generation` opens a row before the
request is sent, every save of the draft writes that row's facts (``DraftsMixin.save_draft`` with
``generation_id``), and :meth:`GenerationsMixin.end_generation` closes one that never reached a draft.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from support_console.core.clock import utcnow
from support_console.core.errors import NotFoundError
from support_console.core.vocabulary import (
    GENERATION_DRAFT,
    GENERATION_KINDS,
    OUTCOME_ACCEPTED,
    OUTCOME_REJECTED,
    SUPERSEDED,
    ErrorKind,
)
from support_console.store.base import StoreBase
from support_console.store.tables import GENERATIONS, MESSAGES

_G = GENERATIONS.c
_M = MESSAGES.c


@dataclass(frozen=True)
class GenerationRecord:
    """One generation as the audit, the exports and the tests read it (``draft_state`` is the state of the
    draft it went into as the audit names it: draft, sent, discarded or superseded; None without one)."""

    id: int
    conversation_id: int
    message_id: int | None
    replaces: int | None
    persona_id: str | None
    model: str | None
    parameters: Mapping[str, Any]
    prompt_tokens: int | None
    completion_tokens: int | None
    finish_reason: str | None
    error: str | None
    error_kind: str | None
    started_at: datetime
    ended_at: datetime | None
    stopped_by_agent: bool
    draft_state: str | None
    kind: str = GENERATION_DRAFT
    tool_id: str | None = None
    agent: str | None = None
    output_text: str | None = None
    outcome: str | None = None
    covers_message_id: int | None = None  # a summary's newest message read (store/insight.py)
    rating: int | None = None  # the agent's thumbs: +1 up, -1 down
    rating_reason: str | None = None
    #: It left its draft as it was (a regeneration that failed, stopped or came back empty before any text):
    #: it is newer than the generation the draft's text came from, and a generation writing into its draft
    #: becomes that one. Its ``draft_state`` is then the state of a text it did not write.
    draft_kept: bool = False


_COLUMNS: Final = (
    _G.id, _G.conversation_id, _G.message_id, _G.replaces, _G.persona_id, _G.model, _G.parameters,
    _G.prompt_tokens, _G.completion_tokens, _G.finish_reason, _G.error, _G.error_kind, _G.started_at,
    _G.ended_at, _G.stopped_by_agent,
    sa.case((_M.superseded_by.is_not(None), SUPERSEDED), else_=_M.state),
    _G.kind, _G.tool_id, _G.agent, _G.output_text, _G.outcome, _G.covers_message_id, _G.rating,
    _G.rating_reason, sa.and_(_M.generation_id.is_not(None), _G.id > _M.generation_id),
)  # fmt: skip


def generation_facts(
    *,
    finish_reason: str | None,
    usage: tuple[int, int] | None,
    error: str | None,
    error_kind: ErrorKind | None,
) -> dict[str, object]:
    """The columns one generation's outcome sets, on the generation and on its draft: all of them, None
    included, so nothing of an earlier generation survives (an error given without a kind is ``unknown``)."""
    if error is not None and error_kind is None:
        error_kind = ErrorKind.UNKNOWN
    prompt, completion = usage if usage is not None else (None, None)
    return {
        "finish_reason": finish_reason, "prompt_tokens": prompt, "completion_tokens": completion,
        "error": error, "error_kind": None if error_kind is None else str(error_kind),
    }  # fmt: skip


def read_generations(conn: Connection, where: sa.ColumnElement[bool]) -> tuple[GenerationRecord, ...]:
    """The generations matching ``where``, in the order they started (by id)."""
    stmt = (
        sa.select(*_COLUMNS)
        .join_from(GENERATIONS, MESSAGES, _M.id == _G.message_id, isouter=True)
        .where(where)
        .order_by(_G.id)
    )
    records = []
    for row in conn.execute(stmt):
        values: list[Any] = list(row)
        values[14], values[-1] = bool(values[14]), bool(values[-1])  # SQLite returns 0/1; no draft: NULL
        records.append(GenerationRecord(*values))
    return tuple(records)


class GenerationsMixin(StoreBase):
    """Generation records of the Store."""

    def start_generation(
        self,
        conversation_id: int,
        *,
        draft_id: int | None,
        persona_id: str | None,
        model: str | None,
        parameters: Mapping[str, Any],
        kind: str = GENERATION_DRAFT,
        tool_id: str | None = None,
        agent: str | None = None,
    ) -> int:
        """Record that a generation starts now (before the request is sent); return its id.

        ``draft_id`` is the draft it regenerates (None for a new draft): its current generation becomes
        this one's ``replaces``. A rewrite, summary or translation (``kind``) names the draft it worked on,
        if any, and replaces nothing: its text is kept on the record itself (:meth:`record_output`).
        """
        if kind not in GENERATION_KINDS:
            raise ValueError(f"unknown generation kind {kind!r}")
        now = utcnow()
        with self._write() as session:
            self._conversation(session, conversation_id)
            conn = session.connection()
            replaces = None
            if draft_id is not None and kind == GENERATION_DRAFT:
                replaces = conn.execute(
                    sa.select(_M.generation_id).where(_M.id == draft_id)
                ).scalar_one_or_none()
                if replaces is not None:
                    _keep_replaced_text(conn, replaces, draft_id)
            values = {
                "conversation_id": conversation_id, "message_id": draft_id, "replaces": replaces,
                "persona_id": persona_id, "model": model, "parameters": dict(parameters),
                "started_at": now, "stopped_by_agent": False, "kind": kind, "tool_id": tool_id,
                "agent": agent,
            }  # fmt: skip
            return int(conn.execute(GENERATIONS.insert().values(values).returning(_G.id)).scalar_one())

    def end_generation(
        self,
        generation_id: int,
        *,
        finish_reason: str | None = None,
        usage: tuple[int, int] | None = None,
        error: str | None = None,
        error_kind: ErrorKind | None = None,
    ) -> None:
        """Close a generation that left no draft text to save (stopped or failed before any came)."""
        values = generation_facts(
            finish_reason=finish_reason, usage=usage, error=error, error_kind=error_kind
        )
        values.update(ended_at=utcnow(), stopped_by_agent=error_kind == ErrorKind.STOPPED)
        self._update_generation(generation_id, values)

    def record_output(
        self,
        generation_id: int,
        output_text: str,
        *,
        finish_reason: str | None = None,
        usage: tuple[int, int] | None = None,
        error: str | None = None,
        error_kind: ErrorKind | None = None,
        final: bool = True,
    ) -> None:
        """Keep the text of a generation that went into no draft (a rewrite's preview, a summary, a
        translation) with its outcome so far; ``final`` closes it. Called as it grows, so a crash keeps it."""
        values = generation_facts(
            finish_reason=finish_reason, usage=usage, error=error, error_kind=error_kind
        )
        values["output_text"] = output_text
        if final:
            values.update(ended_at=utcnow(), stopped_by_agent=error_kind == ErrorKind.STOPPED)
        self._update_generation(generation_id, values)

    def set_outcome(self, generation_id: int, outcome: str) -> None:
        """Record what the agent did with a generation offered beside the draft (accepted or rejected)."""
        if outcome not in (OUTCOME_ACCEPTED, OUTCOME_REJECTED):
            raise ValueError(f"unknown outcome {outcome!r}")
        self._update_generation(generation_id, {"outcome": outcome})

    def _update_generation(self, generation_id: int, values: Mapping[str, object]) -> None:
        with self._write() as session:
            update_generation(session.connection(), generation_id, values)

    def generations(self, conversation_id: int) -> tuple[GenerationRecord, ...]:
        """Every generation of a conversation, oldest first."""
        with self._reading() as conn:
            return read_generations(conn, _G.conversation_id == conversation_id)


def update_generation(conn: Connection, generation_id: int, values: Mapping[str, object]) -> None:
    """Set ``values`` on one generation record (NotFoundError when it does not exist): the one UPDATE of a
    generation's own facts, its outcome, its coverage and its rating."""
    result = conn.execute(GENERATIONS.update().where(_G.id == generation_id).values(dict(values)))
    if result.rowcount == 0:
        raise NotFoundError(f"Generation {generation_id} does not exist: reload the conversation.")


def _keep_replaced_text(conn: Connection, generation_id: int, draft_id: int) -> None:
    """Before a regeneration rewrites the draft: the generation it replaces keeps the model's text of the
    draft, when that generation never reached its final save (the console crashed or was killed while it
    streamed; the draft holds what its saves wrote) and so has no text of its own on its record. The
    model's text (``original_text``), not the draft's: the agent's edits are not the model's words."""
    original = sa.select(_M.original_text).where(_M.id == draft_id).scalar_subquery()
    conn.execute(
        GENERATIONS.update()
        .where(_G.id == generation_id, _G.output_text.is_(None), _G.kind == GENERATION_DRAFT)
        .values(output_text=original)
    )


def write_generation(
    conn: Connection,
    generation_id: int,
    draft_id: int,
    facts: Mapping[str, object],
    *,
    final: bool,
    text: str | None = None,
) -> None:
    """Record on the generation what a save of its draft says (the draft, the model, the outcome so far);
    the final save also keeps the generation's ``text`` (what the model wrote into the draft), because the
    draft itself is rewritten by the next regeneration and the audit must still show every text."""
    values: dict[str, object] = {"message_id": draft_id, **facts}
    if final:
        values.update(ended_at=utcnow(), stopped_by_agent=facts.get("error_kind") == ErrorKind.STOPPED)
        if text is not None:
            values["output_text"] = text
    conn.execute(GENERATIONS.update().where(_G.id == generation_id).values(values))


__all__ = [
    "GenerationRecord",
    "GenerationsMixin",
    "generation_facts",
    "read_generations",
    "update_generation",
    "write_generation",
]
