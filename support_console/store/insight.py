"""Summaries and ratings (schema version 13): what the agent-assist tools beside the draft keep in the store.

* A **summary** is a generation of kind ``summary`` whose text is its ``output_text``; it records the newest
  message it read (``covers_message_id``: the newest that reaches the model, ``history.reaches_model``).
  It is **stale** once a newer such message exists (a customer message or a sent reply came after it). Why
  computed on reading rather than flagged on each write: every writer of messages (the console, the CLI,
  the importer, another agent's console) would have to remember to flag it, and one that forgot would leave
  a summary claiming to be current. Internal notes do not make it stale: they never reach the model, and a
  summary added as a note (the hand-over) must not outdate itself.
* A **rating** is the agent's thumbs up (+1) or down (-1) on a generation (a draft's or a rewrite's), with
  an optional reason; rating again replaces it. The stats (``store/quality.py``) and the exports read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import sqlalchemy as sa

from support_console.core.clock import utcnow
from support_console.core.errors import NotFoundError
from support_console.core.vocabulary import GENERATION_SUMMARY
from support_console.store.base import StoreBase
from support_console.store.generations import update_generation
from support_console.store.history import reaches_model
from support_console.store.tables import GENERATIONS, MESSAGES

_G = GENERATIONS.c
_M = MESSAGES.c

RATING_UP: Final = 1
RATING_DOWN: Final = -1


@dataclass(frozen=True)
class SummaryState:
    """The newest summary of a conversation and whether it is still current."""

    generation_id: int
    text: str
    covers_message_id: int | None
    started_at: datetime
    model: str | None
    finish_reason: str | None
    error: str | None
    stale: bool  # a customer message or sent reply newer than covers_message_id exists
    newer_messages: int  # how many


@dataclass(frozen=True)
class Rating:
    """A generation's thumbs up or down as stored."""

    generation_id: int
    rating: int
    reason: str | None
    rated_by: str | None
    rated_at: datetime | None


class InsightMixin(StoreBase):
    """Summaries (coverage, staleness) and ratings of the Store."""

    def set_coverage(self, generation_id: int, covers_message_id: int | None) -> None:
        """Record the newest message a summary read (None: the conversation had none)."""
        with self._write() as session:
            update_generation(session.connection(), generation_id, {"covers_message_id": covers_message_id})

    def latest_summary(self, conversation_id: int) -> SummaryState | None:
        """The conversation's newest summary that has text, with its staleness; None when there is none."""
        stmt = (
            sa.select(
                _G.id,
                _G.output_text,
                _G.covers_message_id,
                _G.started_at,
                _G.model,
                _G.finish_reason,
                _G.error,
            )
            .where(
                _G.conversation_id == conversation_id,
                _G.kind == GENERATION_SUMMARY,
                _G.output_text.is_not(None),
                _G.output_text != "",
            )
            .order_by(_G.id.desc())
            .limit(1)
        )
        with self._reading() as conn:
            row = conn.execute(stmt).first()
            if row is None:
                return None
            gid, text, covers, started, model, finish, error = tuple(row)
            newer = conn.execute(
                sa.select(sa.func.count()).where(
                    _M.conversation_id == conversation_id,
                    reaches_model(MESSAGES),
                    _M.id > (covers if covers is not None else 0),
                )
            ).scalar_one()
        return SummaryState(gid, text, covers, started, model, finish, error, newer > 0, int(newer))

    def rate_generation(
        self, generation_id: int, rating: int, *, reason: str | None = None, agent: str | None = None
    ) -> None:
        """Thumbs up (+1) or down (-1) on a generation, with an optional reason; replaces an earlier one."""
        if rating not in (RATING_UP, RATING_DOWN):
            raise ValueError(f"a rating is +1 or -1, not {rating!r}")
        reason = (reason or "").strip() or None
        rated = {"rating": rating, "rating_reason": reason, "rated_by": agent or None, "rated_at": utcnow()}
        with self._write() as session:
            update_generation(session.connection(), generation_id, rated)

    def rating(self, generation_id: int) -> Rating | None:
        """The generation's rating, None when it has none (NotFoundError for an unknown generation)."""
        stmt = sa.select(_G.rating, _G.rating_reason, _G.rated_by, _G.rated_at).where(_G.id == generation_id)
        with self._reading() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            raise NotFoundError(f"Generation {generation_id} does not exist: reload the conversation.")
        value, reason, by, at = tuple(row)
        return None if value is None else Rating(generation_id, int(value), reason, by, at)

    def draft_generation(self, draft_id: int) -> int | None:
        """The generation a draft's text came from (what its thumbs rate); None for a hand-written draft."""
        with self._reading() as conn:
            return conn.execute(sa.select(_M.generation_id).where(_M.id == draft_id)).scalar_one_or_none()


__all__ = ["RATING_DOWN", "RATING_UP", "InsightMixin", "Rating", "SummaryState"]
