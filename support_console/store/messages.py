"""Messages: adding customer messages and notes, bulk import, paging, and the history fed to the model.

Token counts are computed lazily, once: every write stores NULL in ``tokens_o200k`` / ``tokens_cl100k`` (so
writes and bulk imports never pay for tokenising), and :meth:`MessagesMixin.history_newest_first` counts the
messages it actually yields that have no count yet and writes the counts back. A message's text never changes
once it can reach the model (customer messages and sent replies are immutable), so a stored count stays right.
Encodings without a column are counted on the fly and not stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlmodel import col, select

from support_console.core.clock import as_utc, utcnow
from support_console.core.errors import StoreError
from support_console.core.vocabulary import (
    EVENT_CUSTOMER,
    EVENT_NOTE,
    ROLE_AGENT,
    ROLE_CUSTOMER,
    ROLE_NOTE,
    STATE_DISCARDED,
    STATE_NOTE,
    STATE_RECEIVED,
    STATE_SENT,
    STATUS_OPEN,
    STATUS_PENDING,
)
from support_console.store.base import StoreBase, translated_errors
from support_console.store.counters import after, update_counters, update_counters_for
from support_console.store.engine import no_wait
from support_console.store.history import History, HistoryReader
from support_console.store.tables import CONVERSATIONS, MESSAGES, Message
from support_console.store.team import log_event, log_imported
from support_console.store.times import to_stored

#: Role/state pairs a bulk import may write (history: no drafts, nothing discarded).
_BULK_STATES = {ROLE_CUSTOMER: STATE_RECEIVED, ROLE_NOTE: STATE_NOTE, ROLE_AGENT: STATE_SENT}


@dataclass(frozen=True, slots=True)
class NewMessage:
    """One row for :meth:`MessagesMixin.add_messages_bulk` (importer).

    ``role`` is customer, note or agent; an imported agent message is a reply that was already sent (state
    ``sent``), with ``approved_by`` naming who sent it if known.
    """

    conversation_id: int
    role: str
    text: str
    created_at: datetime | None = None
    external_id: str | None = None
    approved_by: str | None = None


class MessagesMixin(StoreBase):
    """Message operations of the Store."""

    def add_message(
        self,
        conversation_id: int,
        role: str,
        text: str,
        *,
        created_at: datetime | None = None,
        external_id: str | None = None,
        agent: str | None = None,
    ) -> Message:
        """Record a customer message or a note. Replies go through save_draft / approve_draft instead.

        With an ``external_id`` already present in the conversation, returns the existing message (idempotent
        re-import). A customer message reopens a ``pending`` conversation (pending: waiting for the
        customer). ``agent`` is who typed it in (the events log keeps it: a note's author).
        """
        if role == ROLE_AGENT:
            raise StoreError(
                "A reply cannot be added directly: save it with save_draft and send it with approve_draft."
            )
        if role not in (ROLE_CUSTOMER, ROLE_NOTE):
            raise StoreError(f"Unknown message role {role!r}: use 'customer' or 'note'.")
        if not text.strip():
            raise StoreError("The message is empty: type some text before adding it.")
        when = utcnow() if created_at is None else as_utc(created_at)
        with self._write() as session:
            conversation = self._conversation(session, conversation_id)
            if external_id is not None:
                existing = session.scalars(
                    select(Message).where(
                        Message.conversation_id == conversation_id, Message.external_id == external_id
                    )
                ).first()
                if existing is not None:
                    return existing
            state = STATE_RECEIVED if role == ROLE_CUSTOMER else STATE_NOTE
            message = Message(
                conversation_id=conversation_id, role=role, state=state, text=text,
                created_at=when, updated_at=when, external_id=external_id,
            )  # fmt: skip
            session.add(message)
            if role == ROLE_CUSTOMER and conversation.status == STATUS_PENDING:
                conversation.status = STATUS_OPEN
            session.flush()
            assert message.id is not None  # flushed
            update_counters_for(session.connection(), conversation_id, message.id)
            kind = EVENT_CUSTOMER if role == ROLE_CUSTOMER else EVENT_NOTE
            log_event(session.connection(), conversation_id, kind, agent, str(message.id))
            return message

    def add_messages_bulk(self, rows: Iterable[NewMessage]) -> int:
        """Insert many messages in one transaction without tokenising; return how many were new.

        Rows whose (conversation_id, external_id) already exists are skipped, so re-importing a file adds
        nothing twice. The conversations' counters are updated from the rows actually inserted. Rows go to
        the driver's executemany as plain tuples (no per-row SQLAlchemy processing): this is the importer's
        hot path.
        """
        values = [_bulk_values(row) for row in rows]
        if not values:
            return 0
        wanted = {row[0] for row in values}
        c = CONVERSATIONS.c
        with self._write() as session:
            conn = session.connection()
            found = conn.execute(sa.select(c.id).where(c.id.in_(wanted))).scalars()
            if wanted - set(found):
                raise StoreError(
                    "The import refers to a conversation that does not exist: create the conversations first "
                    "(current_conversation), then import their messages."
                )
            before = int(conn.execute(_MAX_MESSAGE_ID).scalar_one())
            added = self.backend.insert_messages(conn, values)
            update_counters(conn, c.id.in_(wanted), after(before))
            if added:
                log_imported(conn, before)
        return added

    def page_messages(
        self, conversation_id: int, before_id: int | None = None, limit: int = 100
    ) -> list[Message]:
        """Up to ``limit`` messages older than ``before_id`` (the newest ones if None), oldest first.

        Discarded drafts are left out. Pass the first message's id as ``before_id`` to load the previous page.
        """
        stmt = (
            select(Message)
            .where(Message.conversation_id == conversation_id, Message.state != STATE_DISCARDED)
            .order_by(col(Message.id).desc())
            .limit(limit)
        )
        if before_id is not None:
            stmt = stmt.where(col(Message.id) < before_id)
        with self._read() as session:
            page = list(session.scalars(stmt).all())
        page.reverse()
        return page

    def count_messages(self, conversation_id: int) -> int:
        """How many messages page_messages can return for the conversation (discarded drafts excluded)."""
        stmt = select(sa.func.count()).where(
            Message.conversation_id == conversation_id, Message.state != STATE_DISCARDED
        )
        with self._read() as session:
            return int(session.scalars(stmt).one())

    def history_newest_first(self, conversation_id: int, encoding: str) -> History:
        """Customer messages and sent replies, newest first, with their token counts in ``encoding``.

        The result is lazy (iterating reads in batches sized to the consumer's budget and holds no transaction
        between yields, so a consumer that stops early, like the context trimmer, costs only what it read) and
        sized (``len()`` is one COUNT query), so the trimmer can report exactly how many older messages it
        left out. Missing counts are computed and stored once. See ``store/history.py``.
        """
        reader: HistoryReader | None = self.__dict__.get("_history_reader")
        if reader is None:
            reader = self.__dict__.setdefault(
                "_history_reader", HistoryReader(self.engine, self._save_counts)
            )
        return History(reader, conversation_id, encoding)

    def _save_counts(self, column: str, counts: list[dict[str, int]]) -> None:
        """Store token counts computed by the history reader (``counts``: {"mid": id, "n": count}), only if
        that costs no wait: raises ``WriteLockBusy`` at once while another program holds the write lock
        (the reader keeps the counts and tries again later; a draft never waits for a cache).

        Thousands of rows the first time a long history is read, so they go to the driver's executemany as
        plain parameters (SQLAlchemy's per-row parameter processing cost more than the UPDATEs).
        """
        table = MESSAGES
        update = table.update().where(table.c.id == sa.bindparam("mid")).values({column: sa.bindparam("n")})
        with translated_errors(), no_wait(self.engine).begin() as conn:
            compiled = update.compile(dialect=conn.dialect)
            if compiled.positiontup is None:
                conn.exec_driver_sql(str(compiled), counts)
            else:
                order = compiled.positiontup
                conn.exec_driver_sql(str(compiled), [tuple(row[name] for name in order) for row in counts])


#: The largest message id (new messages get larger ones: see tables.py).
_MAX_MESSAGE_ID: Final = sa.select(sa.func.coalesce(sa.func.max(MESSAGES.c.id), 0))


def _bulk_values(row: NewMessage) -> tuple[Any, ...]:
    """A NewMessage as a row for ``Backend.insert_messages`` (BULK_COLUMNS order; None is NULL)."""
    state = _BULK_STATES.get(row.role)
    if state is None:
        raise StoreError(f"Unknown message role {row.role!r}: use 'customer', 'agent' or 'note'.")
    when = to_stored(row.created_at or utcnow())
    sent = state == STATE_SENT
    return (
        row.conversation_id, row.role, state, row.text, None, None, None, None, None, None,
        row.approved_by if sent else None, when if sent else None, when, when, row.external_id,
    )  # fmt: skip
