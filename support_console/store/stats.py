"""Agent-assist stats over a period, per persona and per approving agent: their one definition.

* an **AI draft** is an AI-assisted agent reply (``tables.ai_assisted``: ``original_text`` or ``model`` set;
  hand-written replies have neither);
* **drafts** counts AI drafts created in the period, whatever became of them; **sent** those approved;
  **unchanged** those sent exactly as the model wrote them; **acceptance** = unchanged / sent;
* **edit rate** is the mean normalised edit distance between the model's text and the sent text over sent AI
  drafts (0 = sent as written, 1 = entirely rewritten; ``core.text_diff.edit_distance``);
* **content filtered** counts AI drafts whose stored error kind says a content filter ended them or the
  model refused (``ErrorKind.CONTENT_FILTER``, ``ErrorKind.REFUSED``); **errors** counts those with any other
  error kind, except drafts the agent stopped on purpose (``ErrorKind.STOPPED``). By the kind, never by an
  error message's wording.

Per agent (the approver) only sent replies can be attributed, so ``drafts`` is None there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

import sqlalchemy as sa

from support_console.core.text_diff import edit_distance
from support_console.core.vocabulary import STATE_SENT, ErrorKind
from support_console.store.base import StoreBase
from support_console.store.tables import CONVERSATIONS, MESSAGES, UTCDateTime, ai_assisted

#: Stored error kinds (their values) counted as "content filtered", and those that are no error at all.
FILTERED_KINDS: Final = frozenset({ErrorKind.CONTENT_FILTER.value, ErrorKind.REFUSED.value})
NOT_ERRORS: Final = frozenset({ErrorKind.STOPPED.value})

_M = MESSAGES.c
_C = CONVERSATIONS.c


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


class StatsMixin(StoreBase):
    """The agent-assist stats of the Store."""

    def stats(self, since: datetime | None = None, until: datetime | None = None) -> LogStats:
        """Per persona and per agent: drafts, sent, unchanged (acceptance), edit rate, content filter,
        errors, over the AI drafts created in [since, until)."""
        clauses: list[sa.ColumnElement[bool]] = [ai_assisted(_M)]
        if since is not None:
            clauses.append(_M.created_at >= sa.literal(since, UTCDateTime()))
        if until is not None:
            clauses.append(_M.created_at < sa.literal(until, UTCDateTime()))
        persona = sa.func.coalesce(_M.persona_id, _C.persona_id, "(none)")
        stmt = (
            sa.select(persona, _M.approved_by, _M.state, _M.text, _M.original_text, _M.error_kind)
            .join_from(MESSAGES, CONVERSATIONS, _C.id == _M.conversation_id)
            .where(*clauses)
        )
        personas: dict[str, _Acc] = {}
        agents: dict[str, _Acc] = {}
        with self._reading() as conn:
            for persona_id, approver, state, text, original, kind in conn.execute(stmt):
                p = personas.setdefault(persona_id, _Acc())
                p.drafts += 1
                if kind in FILTERED_KINDS:
                    p.filtered += 1
                elif kind is not None and kind not in NOT_ERRORS:
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
