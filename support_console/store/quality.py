"""How good the drafts are: what became of each AI draft, per persona, rewrite tool, model and agent.

The definitions (their one home), over the AI drafts (``tables.ai_assisted``) created in the period, where
the **edit distance** is ``core.text_diff.edit_distance`` (rapidfuzz's normalised Levenshtein distance)
between the model's text and the sent text:

* **sent as-is**: sent with distance 0 from a complete generation (``vocabulary.incomplete_kind`` is None);
* **lightly edited**: sent with a distance above 0 and at most :data:`LIGHT_EDIT` (or sent unchanged from an
  incomplete generation, which the agent had to judge);
* **rewritten**: sent with a distance above :data:`LIGHT_EDIT`;
* **discarded**: thrown away by the agent (a draft superseded by a regeneration is not counted: its
  successor is);
* **median edit distance** over the sent ones; **median time to send**: from the end of the generation the
  sent text came from (its start when it never ended) to the approval, in seconds;
* **thumbs up / down**: the ratings on the drafts' generations (``store/insight.py``).

Per **tool**, a draft counts under every rewrite tool whose rewrite the agent accepted into it, and under
``(none)`` when none was; the tool rows also count the thumbs on the rewrites themselves. Per **agent**: the
approver of a sent draft, else the agent whose draft it was (its author, or who asked for its generation),
else ``(unknown)``.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Final

import sqlalchemy as sa

from support_console.core.text_diff import edit_distance
from support_console.core.vocabulary import (
    GENERATION_REWRITE,
    OUTCOME_ACCEPTED,
    STATE_DISCARDED,
    STATE_SENT,
    incomplete_kind,
)
from support_console.store.base import StoreBase
from support_console.store.stats import _period
from support_console.store.tables import CONVERSATIONS, GENERATIONS, MESSAGES, ai_assisted

LIGHT_EDIT: Final = 0.2
NONE: Final = "(none)"

_M = MESSAGES.c
_C = CONVERSATIONS.c
_G = GENERATIONS.c


@dataclass(frozen=True)
class QualityRow:
    """What became of the AI drafts of one persona, tool, model or agent (module docstring)."""

    key: str
    drafts: int
    sent_as_is: int
    lightly_edited: int
    rewritten: int
    discarded: int
    median_edit_distance: float | None
    median_seconds_to_send: float | None
    thumbs_up: int
    thumbs_down: int


@dataclass(frozen=True)
class QualityStats:
    since: datetime | None
    until: datetime | None
    by_persona: list[QualityRow]
    by_tool: list[QualityRow]
    by_model: list[QualityRow]
    by_agent: list[QualityRow]


@dataclass
class _Acc:
    drafts: int = 0
    as_is: int = 0
    light: int = 0
    rewritten: int = 0
    discarded: int = 0
    distances: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    up: int = 0
    down: int = 0

    def rate(self, rating: int | None) -> None:
        self.up += rating == 1
        self.down += rating == -1

    def row(self, key: str) -> QualityRow:
        return QualityRow(
            key, self.drafts, self.as_is, self.light, self.rewritten, self.discarded,
            round(statistics.median(self.distances), 4) if self.distances else None,
            round(statistics.median(self.seconds), 1) if self.seconds else None, self.up, self.down,
        )  # fmt: skip


class QualityMixin(StoreBase):
    """The draft-quality stats of the Store."""

    def quality_stats(self, since: datetime | None = None, until: datetime | None = None) -> QualityStats:
        """Per persona, tool, model and agent, over the AI drafts created in [since, until)."""
        drafts = (
            sa.select(
                _M.id,
                sa.func.coalesce(_M.persona_id, _C.persona_id, NONE),
                _M.model,
                _M.approved_by,
                sa.func.coalesce(_M.author, _G.agent),
                _M.state,
                _M.superseded_by,
                _M.text,
                _M.original_text,
                _M.error_kind,
                _M.finish_reason,
                sa.func.coalesce(_G.ended_at, _G.started_at),
                _M.approved_at,
                _G.rating,
            )
            .join_from(MESSAGES, CONVERSATIONS, _C.id == _M.conversation_id)
            .join(GENERATIONS, _G.id == _M.generation_id, isouter=True)
            .where(ai_assisted(_M), *_period(_M.created_at, since, until))
        )
        rewrites = sa.select(_G.message_id, _G.tool_id, _G.outcome, _G.rating).where(
            _G.kind == GENERATION_REWRITE, *_period(_G.started_at, since, until)
        )
        groups: dict[str, defaultdict[str, _Acc]] = {
            name: defaultdict(_Acc) for name in ("persona", "tool", "model", "agent")
        }
        with self._reading() as conn:
            tools_of: defaultdict[int, set[str]] = defaultdict(set)
            for draft_id, tool, outcome, rating in conn.execute(rewrites):
                groups["tool"][tool or NONE].rate(rating)
                if draft_id is not None and outcome == OUTCOME_ACCEPTED:
                    tools_of[draft_id].add(tool or NONE)
            for row in conn.execute(drafts):
                (draft_id, persona, model, approver, asker, state, superseded, text, original, kind, finish,
                 generated, approved, rating) = tuple(row)  # fmt: skip
                if superseded is not None:
                    continue
                accs = [
                    groups["persona"][persona], groups["model"][model or NONE],
                    groups["agent"][approver or asker or "(unknown)"],
                    *(groups["tool"][t] for t in sorted(tools_of.get(draft_id, {NONE}))),
                ]  # fmt: skip
                distance = edit_distance(original if original is not None else text, text)
                for acc in accs:
                    acc.drafts += 1
                    acc.rate(rating)
                    if state == STATE_DISCARDED:
                        acc.discarded += 1
                    elif state == STATE_SENT:
                        _count_sent(acc, distance, incomplete_kind(kind, finish) is None)
                        if generated is not None and approved is not None:
                            acc.seconds.append(max(0.0, (approved - generated).total_seconds()))
        rows = {name: [acc.row(k) for k, acc in sorted(g.items())] for name, g in groups.items()}
        return QualityStats(since, until, rows["persona"], rows["tool"], rows["model"], rows["agent"])


def _count_sent(acc: _Acc, distance: float, complete: bool) -> None:
    acc.distances.append(distance)
    if distance == 0.0 and complete:
        acc.as_is += 1
    elif distance <= LIGHT_EDIT:
        acc.light += 1
    else:
        acc.rewritten += 1


__all__ = ["LIGHT_EDIT", "QualityMixin", "QualityRow", "QualityStats"]
