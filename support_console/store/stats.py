"""Agent-assist stats over a period, per persona and per approving agent: their one definition.

* an **AI draft** is an AI-assisted agent reply (``tables.ai_assisted``: ``original_text`` or ``model`` set;
  hand-written replies have neither);
* **drafts** counts AI drafts created in the period, whatever became of them; **sent** those approved;
  **unchanged** those sent exactly as the model wrote them from a complete generation (a refusal, a
  content-filter fragment, a reply cut at its length limit, a stopped partial or a failed draft sent as it
  was is never "accepted unchanged": ``vocabulary.incomplete_kind``); **acceptance** = unchanged / sent;
* **edit rate** is the mean normalised edit distance between the model's text and the sent text over sent AI
  drafts (0 = sent as written, 1 = entirely rewritten; ``core.text_diff.edit_distance``);
* **generations** counts every request to the model started in the period (``generations.py``: a draft
  regenerated four times is five); **content filtered** counts generations whose error kind says a content
  filter ended them or the model refused (``ErrorKind.CONTENT_FILTER``, ``ErrorKind.REFUSED``); **errors**
  counts those with any other error kind, except generations the agent stopped on purpose
  (``ErrorKind.STOPPED``). By the kind, never by an error message's wording. An AI draft saved without a
  generation record (the record's write failed) counts as one generation of its own kind.

Per agent (the approver) only sent replies can be attributed, so ``drafts`` is None there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import sqlalchemy as sa

from support_console.core.text_diff import edit_distance
from support_console.core.vocabulary import GENERATION_DRAFT, STATE_SENT, ErrorKind, incomplete_kind
from support_console.store.base import StoreBase
from support_console.store.tables import CONVERSATIONS, GENERATIONS, MESSAGES, UTCDateTime, ai_assisted

#: Stored error kinds (their values) counted as "content filtered", and those that are no error at all.
FILTERED_KINDS: Final = frozenset({ErrorKind.CONTENT_FILTER.value, ErrorKind.REFUSED.value})
NOT_ERRORS: Final = frozenset({ErrorKind.STOPPED.value})

_M = MESSAGES.c
_C = CONVERSATIONS.c
_G = GENERATIONS.c


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
    generations: int | None = None  # None per agent (generations are not attributed to an approver)

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
    generations: int = 0

    def row(self, key: str, *, with_drafts: bool) -> StatsRow:
        return StatsRow(
            key=key, drafts=self.drafts if with_drafts else None, sent=self.sent, unchanged=self.unchanged,
            edit_rate=self.distance / self.sent if self.sent else None, content_filtered=self.filtered,
            errors=self.errors, generations=self.generations if with_drafts else None,
        )  # fmt: skip

    def count_generation(self, kind: str | None) -> None:
        self.generations += 1
        if kind in FILTERED_KINDS:
            self.filtered += 1
        elif kind is not None and kind not in NOT_ERRORS:
            self.errors += 1


class StatsMixin(StoreBase):
    """The agent-assist stats of the Store."""

    def stats(self, since: datetime | None = None, until: datetime | None = None) -> LogStats:
        """Per persona and per agent: drafts, sent, unchanged (acceptance), edit rate, content filter,
        errors, over the AI drafts created in [since, until)."""
        persona = sa.func.coalesce(_M.persona_id, _C.persona_id, "(none)")
        stmt = (
            sa.select(
                persona,
                _M.approved_by,
                _M.state,
                _M.text,
                _M.original_text,
                _M.error_kind,
                _M.generation_id,
                _M.finish_reason,
            )
            .join_from(MESSAGES, CONVERSATIONS, _C.id == _M.conversation_id)
            .where(ai_assisted(_M), *_period(_M.created_at, since, until))
        )
        generations = (
            sa.select(sa.func.coalesce(_G.persona_id, _C.persona_id, "(none)"), _G.error_kind)
            .join_from(GENERATIONS, CONVERSATIONS, _C.id == _G.conversation_id)
            .where(_G.kind == GENERATION_DRAFT, *_period(_G.started_at, since, until))
        )
        personas: dict[str, _Acc] = {}
        agents: dict[str, _Acc] = {}
        with self._reading() as conn:
            for persona_id, approver, state, text, original, kind, generation, finish in conn.execute(stmt):
                p = personas.setdefault(persona_id, _Acc())
                p.drafts += 1
                if generation is None:  # saved without a generation record: it counts as its own one
                    p.count_generation(kind)
                if state != STATE_SENT:
                    continue
                distance = edit_distance(original if original is not None else text, text)
                for acc in (p, agents.setdefault(approver or "(unknown)", _Acc())):
                    acc.sent += 1
                    acc.unchanged += distance == 0.0 and incomplete_kind(kind, finish) is None
                    acc.distance += distance
            for persona_id, kind in conn.execute(generations):
                personas.setdefault(persona_id, _Acc()).count_generation(kind)
        return LogStats(
            since=since,
            until=until,
            by_persona=[personas[k].row(k, with_drafts=True) for k in sorted(personas)],
            by_agent=[agents[k].row(k, with_drafts=False) for k in sorted(agents)],
        )


def _period(
    column: sa.ColumnElement[datetime], since: datetime | None, until: datetime | None
) -> list[sa.ColumnElement[bool]]:
    """``column`` within [since, until)."""
    clauses: list[sa.ColumnElement[bool]] = []
    if since is not None:
        clauses.append(column >= sa.literal(since, UTCDateTime()))
    if until is not None:
        clauses.append(column < sa.literal(until, UTCDateTime()))
    return clauses
