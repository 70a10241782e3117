"""Customers and conversations: creating, finding, and the customer list the UI starts with.

The customer list aggregates the small ``conversations`` table (its counters are maintained on every message
write), never the large ``messages`` table, so it stays fast with millions of messages.

Customer matching has one definition here (:func:`customer_keys` written with every customer, and
:func:`customer_filter` / :func:`email_is` that read them), used by the customer list, the logs list, search,
export and the importer: ``core.matching.fold`` on both sides, compared in SQL as plain text, so SQLite and
PostgreSQL give the same answers for every script.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from support_console.core.clock import utcnow
from support_console.core.errors import NotFoundError, StoreError
from support_console.core.matching import fold
from support_console.core.personas import BUILTIN_VARIABLES
from support_console.core.vocabulary import EVENT_STATUS, STATUS_OPEN, STATUSES, UNRESOLVED
from support_console.store.base import StoreBase
from support_console.store.first_page import LIST_ORDER_SQL, CustomerRecord, CustomerSummary
from support_console.store.like import contains
from support_console.store.tables import CUSTOMERS, Conversation, Customer
from support_console.store.team import log_event

LIST_ORDER: Final = tuple(sa.text(term) for term in LIST_ORDER_SQL)
"""The customer list's order as SQLAlchemy terms (see ``first_page.LIST_ORDER_SQL``)."""

#: An attribute's name: what a persona placeholder can name (``core.personas``).
_ATTRIBUTE_NAME: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

#: Between the folded name, email and external id in ``match_key``: ``fold`` turns every whitespace run into
#: one space, so no folded field or pattern holds a newline, and no match can span two fields.
_KEY_SEPARATOR: Final = "\n"


def customer_keys(name: str, email: str, external_id: str | None) -> dict[str, Any]:
    """The folded keys stored with a customer (``tables.Customer``): written by every customer write."""
    email_key = fold(email)
    return {
        "email_key": email_key,
        "match_key": _KEY_SEPARATOR.join((fold(name), email_key, fold(external_id or ""))),
    }


def customer_filter(text: str) -> sa.ColumnElement[bool]:
    """Customers whose name, email or external id contains ``text``, ignoring case, width and spacing."""
    return contains(CUSTOMERS.c.match_key, fold(text))


def email_is(email: str) -> sa.ColumnElement[bool]:
    """The customer with this email, by the same folding (one probe of the unique ``email_key`` index)."""
    return CUSTOMERS.c.email_key == fold(email)


class CustomersMixin(StoreBase):
    """Customer and conversation operations of the Store."""

    # ---- customers ----------------------------------------------------------------------------------------

    def add_customer(
        self,
        name: str,
        email: str,
        external_id: str | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> Customer:
        """Create a customer; the email (compared folded: ``core.matching``) and external id must be new."""
        name, email = name.strip(), email.strip()
        if not name or not email:
            raise StoreError("A customer needs a name and an email address: fill in both.")
        with self._write() as session:
            if self._by_email(session, email) is not None:
                raise StoreError(
                    f"A customer with the email {email} already exists: open that customer instead."
                )
            if external_id is not None and self._by_external_id(session, external_id) is not None:
                raise StoreError(
                    f"A customer with the external id {external_id} already exists: "
                    "open that customer instead."
                )
            customer = Customer(
                name=name, email=email, external_id=external_id, attributes=dict(attributes or {}),
                **customer_keys(name, email, external_id),
            )  # fmt: skip
            session.add(customer)
            session.flush()
            return customer

    def get_customer(self, customer_id: int) -> Customer:
        """The customer with this id, or NotFoundError."""
        with self._read() as session:
            customer = session.get(Customer, customer_id)
        if customer is None:
            raise NotFoundError(f"Customer {customer_id} does not exist: reload the customer list.")
        return customer

    def set_attributes(self, customer_id: int, attributes: Mapping[str, str]) -> Customer:
        """Replace the customer's attributes (what persona placeholders such as ``{{ plan }}`` use).

        Names must be placeholder names (letters, digits, underscores; not starting with a digit) and not
        a built-in (name, email, external_id: those are the customer's own fields).
        """
        for key in attributes:
            if not _ATTRIBUTE_NAME.fullmatch(key) or key in BUILTIN_VARIABLES:
                raise StoreError(
                    f"{key!r} cannot be an attribute name: use letters, digits and underscores (not first a "
                    f"digit), and not one of {', '.join(BUILTIN_VARIABLES)}."
                )
        with self._write() as session:
            customer = session.get(Customer, customer_id)
            if customer is None:
                raise NotFoundError(f"Customer {customer_id} does not exist: reload the customer list.")
            customer.attributes = {str(k): str(v) for k, v in attributes.items()}
            session.flush()
            return customer

    def find_customer(self, key: str) -> Customer | None:
        """The customer whose email (compared folded) or external id is ``key``; email wins if both match."""
        key = key.strip()
        if not key:
            return None
        with self._read() as session:
            return self._by_email(session, key) or self._by_external_id(session, key)

    def list_customers(self, query: str = "", limit: int = 500) -> list[CustomerSummary]:
        """Customers matching ``query`` (:func:`customer_filter`: name, email or external id, any case).

        Customers with unresolved conversations come first, then the most recent activity. Reads only the
        customers table, in the order of its ``ix_customers_list`` index, so it costs ``limit`` rows.
        """
        stmt = select(Customer).order_by(*LIST_ORDER).limit(limit)
        if query.strip():
            stmt = stmt.where(customer_filter(query))
        with self._read() as session:
            customers = session.scalars(stmt).all()
        return [
            CustomerSummary(record_of(c), c.open_conversations, c.unread, c.last_activity) for c in customers
        ]

    @staticmethod
    def _by_email(session: sa.orm.Session, email: str) -> Customer | None:
        return session.scalars(select(Customer).where(email_is(email))).first()

    @staticmethod
    def _by_external_id(session: sa.orm.Session, external_id: str) -> Customer | None:
        return session.scalars(select(Customer).where(Customer.external_id == external_id)).first()

    # ---- conversations ------------------------------------------------------------------------------------

    def open_conversation(self, customer_id: int) -> Conversation | None:
        """The customer's newest unresolved (open or pending) conversation, or None; never creates one, so
        a dry run or a look at a customer writes nothing."""
        with self._read() as session:
            return session.scalars(_unresolved(customer_id)).first()

    def current_conversation(self, customer_id: int, persona_id: str | None = None) -> Conversation:
        """The customer's newest unresolved (open or pending) conversation, or a new open one.

        ``persona_id`` is recorded on a new conversation, and on an existing one that has none yet.
        """
        with self._write() as session:
            conversation = session.scalars(_unresolved(customer_id)).first()
            if conversation is None:
                if session.get(Customer, customer_id) is None:
                    raise NotFoundError(f"Customer {customer_id} does not exist: reload the customer list.")
                conversation = Conversation(
                    customer_id=customer_id, status=STATUS_OPEN, persona_id=persona_id
                )
                session.add(conversation)
            elif persona_id is not None and conversation.persona_id is None:
                conversation.persona_id = persona_id
                conversation.updated_at = utcnow()
            session.flush()
            return conversation

    def get_conversation(self, conversation_id: int) -> Conversation:
        """The conversation with this id, or NotFoundError."""
        with self._read() as session:
            return self._conversation(session, conversation_id)

    def set_status(self, conversation_id: int, status: str, *, agent: str | None = None) -> None:
        """Set open / pending / resolved; ``agent`` is who did it (the events log keeps it)."""
        if status not in STATUSES:
            raise StoreError(f"Unknown conversation status {status!r}: use one of {', '.join(STATUSES)}.")
        with self._write() as session:
            conversation = self._conversation(session, conversation_id)
            changed = conversation.status != status
            conversation.status = status
            conversation.updated_at = utcnow()
            if changed:
                session.flush()
                log_event(session.connection(), conversation_id, EVENT_STATUS, agent, status)

    def set_persona(self, conversation_id: int, persona_id: str) -> None:
        """Remember which persona this conversation uses."""
        with self._write() as session:
            conversation = self._conversation(session, conversation_id)
            conversation.persona_id = persona_id
            conversation.updated_at = utcnow()


def _unresolved(customer_id: int) -> SelectOfScalar[Conversation]:
    """The customer's unresolved conversations, newest first."""
    return (
        select(Conversation)
        .where(Conversation.customer_id == customer_id, col(Conversation.status).in_(UNRESOLVED))
        .order_by(col(Conversation.id).desc())
    )


def record_of(customer: Customer) -> CustomerRecord:
    """The plain value of a customer row, for the customer list."""
    assert customer.id is not None  # read from the database
    return CustomerRecord(
        id=customer.id,
        name=customer.name,
        email=customer.email,
        external_id=customer.external_id,
        attributes=dict(customer.attributes or {}),
        created_at=customer.created_at,
    )
