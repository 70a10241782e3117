"""Drafts: the only road by which a reply becomes ``sent``.

A reply is saved as ``role=agent, state=draft`` while it is being written (by the model or by hand),
repeatedly as it grows, so a crash loses at most the last few tokens. Nothing counts as sent until
:meth:`approve_draft`, which records the sent text, who approved it and when, and keeps the model's
original text next to it.

Messages are ordered by id (``tables.py``): a draft gets its id when it is started, so a reply sent after a
customer message or a note written meanwhile (another agent, another program) is moved to a new id when it
is sent (:func:`_move_to_end`). Otherwise it would show above what it answers, and the counters, which
read "after the last sent reply" by id, would leave the customer waiting for a reply already sent.
"""

from __future__ import annotations

from typing import Any, NoReturn

import sqlalchemy as sa
from sqlmodel import col, select

from support_console.core.clock import utcnow
from support_console.core.errors import NotFoundError, StoreError
from support_console.core.vocabulary import (
    EVENT_SENT,
    ROLE_AGENT,
    STATE_DISCARDED,
    STATE_DRAFT,
    STATE_SENT,
    ErrorKind,
)
from support_console.store.base import StoreBase
from support_console.store.counters import ACTIVE_STATES, update_counters_for
from support_console.store.generations import generation_facts, write_generation
from support_console.store.guard import refuse_if_changed
from support_console.store.tables import GENERATIONS, MESSAGES, SERVED_MODELS, Message
from support_console.store.team import latest_event_id, log_event


class DraftsMixin(StoreBase):
    """Draft operations of the Store."""

    def save_draft(
        self,
        conversation_id: int,
        *,
        draft_id: int | None = None,
        text: str,
        original_text: str | None = None,
        persona_id: str | None = None,
        model: str | None = None,
        finish_reason: str | None = None,
        usage: tuple[int, int] | None = None,
        error: str | None = None,
        error_kind: ErrorKind | None = None,
        generation_id: int | None = None,
        final: bool = False,
        basis_event_id: int | None = None,
        author: str | None = None,
    ) -> int:
        """Create (``draft_id=None``) or update a draft; return its id.

        Cheap on purpose (one INSERT or one UPDATE), because it is called every fraction of a second while a
        reply streams in. On update, optional arguments left as None keep their stored value. ``usage`` is
        (prompt_tokens, completion_tokens). An empty text is allowed: a stream may not have produced any yet.
        ``error`` says what went wrong for the agent, ``error_kind`` what kind of failure it was (what the
        stats count); an error given without a kind is recorded as ``ErrorKind.UNKNOWN``.

        With ``generation_id`` (a model's draft, see ``generations.py``) the outcome is that generation's
        alone: finish reason, usage, error and kind are all written, None included, to the draft and to the
        generation (``final``: the generation ended with this save, and its record keeps ``text`` as its
        ``output_text``, in the same transaction: a later regeneration rewrites the draft, not the trail).
        A new draft supersedes the conversation's earlier pending one (one pending draft per conversation;
        the audit keeps it).

        ``basis_event_id`` is the newest event the text was written against (the Drafter reads it before
        the history it sends); a new draft without one is based on the newest event now. The send-time
        guard compares it with what came after (``guard.py``). ``author`` is the agent whose draft it is: a
        new draft supersedes only that agent's pending draft (and those without an author), so another
        agent's draft on the same conversation stays theirs.
        """
        facts = generation_facts(finish_reason=finish_reason, usage=usage, error=error, error_kind=error_kind)
        values: dict[str, object] = {"text": text, "updated_at": utcnow()}
        optional = {"original_text": original_text, "persona_id": persona_id, "model": model}
        values.update({k: v for k, v in optional.items() if v is not None})
        if basis_event_id is not None:
            values["basis_event_id"] = basis_event_id
        generation = dict(facts, **({"model": model} if model else {}))  # the served model, once known
        if generation_id is not None:
            values.update(facts, generation_id=generation_id)
        else:
            values.update({k: v for k, v in facts.items() if v is not None})
        table = MESSAGES
        with self._write() as session:
            conn = session.connection()
            if draft_id is None:
                self._conversation(session, conversation_id)
                values.update(conversation_id=conversation_id, role=ROLE_AGENT, state=STATE_DRAFT)
                values.setdefault("basis_event_id", latest_event_id(conn))
                owner = values["author"] = (author or "").strip() or None
                values["created_at"] = values["updated_at"]
                new_id = int(conn.execute(table.insert().values(values).returning(table.c.id)).scalar_one())
                conn.execute(
                    table.update()
                    .where(
                        table.c.conversation_id == conversation_id,
                        table.c.state == STATE_DRAFT,
                        table.c.id != new_id,
                        *_own(table.c.author, owner),
                    )
                    .values(state=STATE_DISCARDED, superseded_by=new_id, updated_at=values["updated_at"])
                )
                if generation_id is not None:
                    write_generation(conn, generation_id, new_id, generation, final=final, text=text)
                return new_id
            result = conn.execute(
                table.update()
                .where(
                    table.c.id == draft_id,
                    table.c.conversation_id == conversation_id,
                    table.c.state == STATE_DRAFT,
                )
                .values(values)
            )
            if result.rowcount == 0:
                self._refuse(session, draft_id, "updated", conversation_id)
            if generation_id is not None:
                write_generation(conn, generation_id, draft_id, generation, final=final, text=text)
            return draft_id

    def pending_draft(self, conversation_id: int, author: str | None = None) -> Message | None:
        """The conversation's newest unsent draft, if any; with ``author``, that agent's (or one without an
        author): another agent's draft is theirs to restore, not this agent's."""
        stmt = (
            select(Message)
            .where(
                Message.conversation_id == conversation_id,
                Message.state == STATE_DRAFT,
                *_own(MESSAGES.c.author, (author or "").strip() or None),
            )
            .order_by(col(Message.id).desc())
        )
        with self._read() as session:
            return session.scalars(stmt).first()

    def get_message(self, message_id: int) -> Message:
        """One message by id (NotFoundError if there is none)."""
        with self._read() as session:
            message = session.get(Message, message_id)
            if message is None:
                raise NotFoundError(f"Message {message_id} does not exist: reload the conversation.")
            return message

    def approve_draft(
        self, draft_id: int, sent_text: str, approver: str, *, reviewed_through: int | None = None
    ) -> Message:
        """Send a draft: ``text`` becomes ``sent_text``; the model's text stays in ``original_text``.

        Refuses an empty text, an anonymous approver, and anything that is not a draft (already sent or
        discarded). If a model-written draft was saved without ``original_text``, its stored text is kept
        there. Refuses too, with ``ConversationChanged``, a draft whose conversation changed after it was
        written (``guard.py``), unless only what the agent has reviewed (``reviewed_through``) did.
        The message returned is the sent reply: when something was written in the conversation after the
        draft began, it has a new id, after those messages (see the module docstring).
        """
        if not sent_text.strip():
            raise StoreError("The reply is empty: write the text to send, or discard the draft.")
        if not approver.strip():
            raise StoreError("Approving a reply needs the agent's name: set [agent] name in the config file.")
        with self._write() as session:
            message = session.get(Message, draft_id)
            if message is None or message.state != STATE_DRAFT:
                self._refuse(session, draft_id, "sent")
            refuse_if_changed(session.connection(), message, reviewed_through)
            now = utcnow()
            if message.original_text is None and message.model is not None:
                message.original_text = message.text
            message.text = sent_text
            message.state = STATE_SENT
            message.approved_by = approver.strip()
            message.approved_at = now
            message.updated_at = now
            message.tokens_o200k = message.tokens_cl100k = None  # the text changed: recount lazily
            session.flush()
            conn = session.connection()
            sent_id = _move_to_end(conn, draft_id, message.conversation_id)
            if sent_id != draft_id:
                session.expunge(message)
                message = session.get_one(Message, sent_id)
            update_counters_for(conn, message.conversation_id, sent_id)
            log_event(conn, message.conversation_id, EVENT_SENT, approver, str(sent_id))
            return message

    def discard_draft(self, draft_id: int) -> None:
        """Throw a draft away (kept in the database as ``discarded``, hidden from the conversation)."""
        table = MESSAGES
        with self._write() as session:
            result = session.connection().execute(
                table.update()
                .where(table.c.id == draft_id, table.c.state.in_((STATE_DRAFT, STATE_DISCARDED)))
                .values(state=STATE_DISCARDED, updated_at=utcnow())
            )
            if result.rowcount == 0:
                self._refuse(session, draft_id, "discarded")

    def remember_served_model(self, name: str, served_model: str) -> None:
        """Record that requests for ``name`` (a model or Azure deployment) are served by ``served_model``."""
        if (
            not name
            or not served_model
            or name == served_model
            or self.served_model_for(name) == served_model
        ):
            return  # nothing new: no write (this runs after every draft)
        table = SERVED_MODELS
        values = {"served_model": served_model, "updated_at": utcnow()}
        with self._write() as session:  # BEGIN IMMEDIATE: update-then-insert cannot race another writer
            conn = session.connection()
            if conn.execute(table.update().where(table.c.name == name).values(values)).rowcount == 0:
                conn.execute(table.insert().values(name=name, **values))

    def served_model_for(self, name: str) -> str | None:
        """The model the service last said it served for ``name``, if it ever did."""
        table = SERVED_MODELS
        with self._read() as session:
            found = (
                session.connection()
                .execute(sa.select(table.c.served_model).where(table.c.name == name))
                .scalar_one_or_none()
            )
        return None if found is None else str(found)

    @staticmethod
    def _refuse(
        session: sa.orm.Session, draft_id: int, verb: str, conversation_id: int | None = None
    ) -> NoReturn:
        """Raise the error explaining why message ``draft_id`` cannot be ``verb`` as a draft."""
        message = session.get(Message, draft_id)
        if message is None or (conversation_id is not None and message.conversation_id != conversation_id):
            where = f" in conversation {conversation_id}" if conversation_id is not None else ""
            raise NotFoundError(
                f"There is no draft {draft_id}{where}: it may have been sent from another console or the "
                "command line (a reply sent after newer messages gets a newer number). Reload the "
                "conversation."
            )
        if message.state == STATE_SENT:
            raise StoreError(
                f"Message {draft_id} was already sent and cannot be {verb}: "
                "start a new draft for a new reply."
            )
        if message.state == STATE_DISCARDED:
            raise StoreError(f"Draft {draft_id} was discarded and cannot be {verb}: start a new draft.")
        raise StoreError(f"Message {draft_id} is a {message.role} message, not a draft: it cannot be {verb}.")


def _own(column: sa.ColumnElement[Any], author: str | None) -> list[sa.ColumnElement[bool]]:
    """The drafts that are ``author``'s: theirs and those without an author (all of them when no author is
    named, as before team mode)."""
    return [] if author is None else [sa.or_(column.is_(None), column == author)]


_M = MESSAGES.c
_G = GENERATIONS.c


def _move_to_end(conn: sa.Connection, message_id: int, conversation_id: int) -> int:
    """Give message ``message_id`` the next id if its conversation has newer activity (a customer message,
    a note, a sent reply: ``counters.ACTIVE_STATES``; drafts do not count); return its id.

    The row is copied whole to a new id, and what points at it (its generations, the drafts of the
    conversation it superseded) is pointed at the copy before the old row goes: the audit trail keeps every
    fact, in the new place.
    """
    in_conversation = _M.conversation_id == conversation_id
    newer = sa.select(_M.id).where(in_conversation, _M.id > message_id, _M.state.in_(ACTIVE_STATES)).limit(1)
    if conn.execute(newer).first() is None:
        return message_id
    columns = [column for column in MESSAGES.c if column.key != "id"]
    copied = MESSAGES.insert().from_select(columns, sa.select(*columns).where(_M.id == message_id))
    moved = int(conn.execute(copied.returning(_M.id)).scalar_one())
    conn.execute(GENERATIONS.update().where(_G.message_id == message_id).values(message_id=moved))
    superseded = MESSAGES.update().where(in_conversation, _M.superseded_by == message_id)
    conn.execute(superseded.values(superseded_by=moved))
    conn.execute(MESSAGES.delete().where(_M.id == message_id))
    return moved
