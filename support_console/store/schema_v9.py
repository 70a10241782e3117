"""The generations table as schema version 9 created it, frozen: migration 9 creates exactly this.

Like ``schema_v1.py`` and for the same reason: ``tables.py`` describes the latest schema, and version 12
ALTERs columns into this table. Were migration 9 to follow ``tables.py``, a new database would get those
columns from migration 9 and then fail to add them again. Never edit this file.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa

from support_console.store.tables import UTCDateTime

#: Only the generations table is created from here; the two stubs let its foreign keys resolve.
V9: Final = sa.MetaData()
sa.Table("conversations", V9, sa.Column("id", sa.Integer, primary_key=True))
sa.Table("messages", V9, sa.Column("id", sa.Integer, primary_key=True))

V9_GENERATIONS: Final = sa.Table(
    "generations",
    V9,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "conversation_id", sa.Integer, sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("message_id", sa.Integer, sa.ForeignKey("messages.id", ondelete="SET NULL")),
    sa.Column("replaces", sa.Integer, sa.ForeignKey("generations.id", ondelete="SET NULL")),
    sa.Column("persona_id", sa.String),
    sa.Column("model", sa.String),
    sa.Column("parameters", sa.JSON, nullable=False),
    sa.Column("prompt_tokens", sa.Integer),
    sa.Column("completion_tokens", sa.Integer),
    sa.Column("finish_reason", sa.String),
    sa.Column("error", sa.String),
    sa.Column("error_kind", sa.String),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("ended_at", UTCDateTime),
    sa.Column("stopped_by_agent", sa.Boolean, nullable=False),
    sa.Index("ix_generations_conversation_id", "conversation_id", "id"),
    sa.Index("ix_generations_message_id", "message_id"),
    sa.Index("ix_generations_started_at", "started_at"),
)
