"""The tables as schema version 1 created them, frozen: migration 1 creates exactly these.

``tables.py`` describes the latest schema; later migrations ALTER version 1 into it (the first to do so was
version 7). So version 1 must never follow ``tables.py``: a new database would otherwise get the new columns
from migration 1 and then fail to add them again. Never edit this file.
"""

from __future__ import annotations

from typing import Final

import sqlalchemy as sa

from support_console.store.tables import UTCDateTime

V1: Final = sa.MetaData()


def _one_of(column: str, values: tuple[str, ...]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=f"ck_{column}_known")


sa.Table(
    "customers",
    V1,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String, nullable=False),
    sa.Column("email", sa.String, nullable=False, unique=True),
    sa.Column("external_id", sa.String),
    sa.Column("attributes", sa.JSON, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("open_conversations", sa.Integer, nullable=False),
    sa.Column("unread", sa.Integer, nullable=False),
    sa.Column("last_activity", UTCDateTime),
    sa.Index("ix_customers_email_lower", sa.func.lower(sa.column("email")), unique=True),
    sa.Index("ix_customers_external_id", "external_id", unique=True),
    sa.Index(
        "ix_customers_list",
        sa.text("(open_conversations > 0) DESC"),
        sa.text("last_activity DESC"),
        sa.text("id DESC"),
    ),
)

sa.Table(
    "conversations",
    V1,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("persona_id", sa.String),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("last_activity", UTCDateTime),
    sa.Column("unread_count", sa.Integer, nullable=False),
    sa.Index("ix_conversations_customer_status", "customer_id", "status"),
    _one_of("status", ("open", "pending", "resolved")),
)

sa.Table(
    "messages",
    V1,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "conversation_id", sa.Integer, sa.ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("role", sa.String, nullable=False),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("text", sa.String, nullable=False),
    sa.Column("original_text", sa.String),
    sa.Column("persona_id", sa.String),
    sa.Column("model", sa.String),
    sa.Column("finish_reason", sa.String),
    sa.Column("prompt_tokens", sa.Integer),
    sa.Column("completion_tokens", sa.Integer),
    sa.Column("error", sa.String),
    sa.Column("approved_by", sa.String),
    sa.Column("approved_at", UTCDateTime),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("external_id", sa.String),
    sa.Column("tokens_o200k", sa.Integer),
    sa.Column("tokens_cl100k", sa.Integer),
    sa.Index("ix_messages_conversation_id_id", "conversation_id", "id"),
    sa.Index("ix_messages_conversation_external", "conversation_id", "external_id", unique=True),
    _one_of("role", ("customer", "agent", "note")),
    _one_of("state", ("received", "draft", "sent", "discarded", "note")),
)
