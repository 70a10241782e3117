"""What OpenAI-compatible servers said about the models they serve: the context window and offered names.

Why stored: asking costs a round trip or four, and a window learned from an overflow error can be learned no
other way; both stay true until the server is restarted with other settings, so they are kept per base URL
and model, shown by ``support-console config`` and overridden by ``[models."NAME"] context_window``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from support_console.core.clock import utcnow
from support_console.store.base import StoreBase
from support_console.store.tables import SERVER_MODELS


@dataclass(frozen=True)
class ServerModelFacts:
    """One row: what the server at ``base_url`` said about ``model``."""

    base_url: str
    model: str
    context_window: int | None
    source: str
    offered: tuple[str, ...]
    count_ratio: float | None = None  # the server's prompt_tokens over our count, the largest seen


class ServerModelsMixin(StoreBase):
    """The server_models table of the Store."""

    def server_model(self, base_url: str, model: str) -> ServerModelFacts | None:
        """What was learned about ``model`` at ``base_url``, if anything."""
        t = SERVER_MODELS.c
        with self._read() as session:
            row = (
                session.connection()
                .execute(sa.select(SERVER_MODELS).where(t.base_url == base_url, t.model == model))
                .first()
            )
        return None if row is None else _facts(row)

    def server_models(self) -> list[ServerModelFacts]:
        """Everything learned, by server and model (for ``support-console config``)."""
        t = SERVER_MODELS.c
        with self._read() as session:
            rows = session.connection().execute(sa.select(SERVER_MODELS).order_by(t.base_url, t.model))
            return [_facts(row) for row in rows]

    def remember_count_ratio(self, base_url: str, model: str, ratio: float) -> None:
        """Record how the server's prompt counts compare with ours (keeps any window stored before)."""
        t = SERVER_MODELS.c
        values: dict[str, object] = {"count_ratio": ratio, "updated_at": utcnow()}
        with self._write() as session:
            conn = session.connection()
            where = sa.and_(t.base_url == base_url, t.model == model)
            if conn.execute(SERVER_MODELS.update().where(where).values(values)).rowcount == 0:
                conn.execute(SERVER_MODELS.insert().values(base_url=base_url, model=model, **values))

    def remember_server_model(
        self,
        base_url: str,
        model: str,
        *,
        context_window: int | None,
        source: str,
        offered: tuple[str, ...] | None = None,
    ) -> None:
        """Record what the server said; ``offered`` None keeps the names stored before."""
        t = SERVER_MODELS.c
        values: dict[str, object] = {
            "context_window": context_window,
            "source": source,
            "updated_at": utcnow(),
        }
        if offered is not None:
            values["offered"] = "\n".join(offered)
        with self._write() as session:  # BEGIN IMMEDIATE: update-then-insert cannot race another writer
            conn = session.connection()
            where = sa.and_(t.base_url == base_url, t.model == model)
            if conn.execute(SERVER_MODELS.update().where(where).values(values)).rowcount == 0:
                conn.execute(SERVER_MODELS.insert().values(base_url=base_url, model=model, **values))


def _facts(row: sa.Row[tuple[object, ...]]) -> ServerModelFacts:
    m = row._mapping
    window, ratio = m["context_window"], m["count_ratio"]
    return ServerModelFacts(
        base_url=str(m["base_url"]),
        model=str(m["model"]),
        context_window=int(window) if isinstance(window, int) else None,
        source=str(m["source"] or ""),
        offered=tuple(name for name in str(m["offered"] or "").split("\n") if name),
        count_ratio=float(ratio) if isinstance(ratio, (int, float)) else None,
    )
