"""Customers and conversations: creating, finding, and the customer list the UI starts with.

The customer list aggregates the small ``conversations`` table (its counters are maintained on every message
write), never the large ``messages`` table, so it stays fast with millions of messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.sql.expression import SelectOfScalar

from support_console.core.errors import NotFoundError, StoreError
from support_console.core.vocabulary import STATUS_OPEN, STATUSES, UNRESOLVED
from support_console.store.base import StoreBase
from support_console.store.first_page import LIST_ORDER_SQL, CustomerRecord, CustomerSummary
from support_console.store.tables import Conversation, Customer
from support_console.store.times import utcnow

LIST_ORDER: Final = tuple(sa.text(term) for term in LIST_ORDER_SQL)
"""The customer list's order as SQLAlchemy terms (see ``customer_list.LIST_ORDER_SQL``)."""


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
        """Create a customer; the email (case-insensitive) and the external id must be new."""
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
                name=name, email=email, external_id=external_id, attributes=dict(attributes or {})
            )
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

    def find_customer(self, key: str) -> Customer | None:
        """The customer whose email (case-insensitive) or external id is ``key``; email wins if both match."""
        key = key.strip()
        if not key:
            return None
        with self._read() as session:
            return self._by_email(session, key) or self._by_external_id(session, key)

    def list_customers(self, query: str = "", limit: int = 500) -> list[CustomerSummary]:
        """Customers matching ``query`` (name, email or external id; case-insensitive substring).

        Customers with unresolved conversations come first, then the most recent activity. Reads only the
        customers table, in the order of its ``ix_customers_list`` index, so it costs ``limit`` rows.
        """
        stmt = select(Customer).order_by(*LIST_ORDER).limit(limit)
        if query.strip():
            stmt = stmt.where(_matches(query.strip()))
        with self._read() as session:
            customers = session.scalars(stmt).all()
        return [
            CustomerSummary(record_of(c), c.open_conversations, c.unread, c.last_activity) for c in customers
        ]

    @staticmethod
    def _by_email(session: sa.orm.Session, email: str) -> Customer | None:
        # lower() on both sides, in SQL: the same folding as the unique index (Python's lower() differs on
        # non-ASCII letters), and the index on lower(email) still serves the lookup.
        stmt = select(Customer).where(sa.func.lower(Customer.email) == sa.func.lower(email))
        return session.scalars(stmt).first()

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

    def set_status(self, conversation_id: int, status: str) -> None:
        """Set open / pending / resolved."""
        if status not in STATUSES:
            raise StoreError(f"Unknown conversation status {status!r}: use one of {', '.join(STATUSES)}.")
        with self._write() as session:
            conversation = self._conversation(session, conversation_id)
            conversation.status = status
            conversation.updated_at = utcnow()

    def set_persona(self, conversation_id: int, persona_id: str) -> None:
        """Remember which persona this conversation uses."""
        with self._write() as session:
            conversation = self._conversation(session, conversation_id)
            conversation.persona_id = persona_id
            conversation.updated_at = utcnow()


def _matches(query: str) -> sa.ColumnElement[bool]:
    """Case-insensitive substring match on name, email and external id (LIKE wildcards taken literally)."""
    escaped = query.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = sa.func.lower(f"%{escaped}%")  # folded by SQL, like the columns
    return sa.or_(
        sa.func.lower(Customer.name).like(pattern, escape="\\"),
        sa.func.lower(Customer.email).like(pattern, escape="\\"),
        sa.func.lower(sa.func.coalesce(Customer.external_id, "")).like(pattern, escape="\\"),
    )


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
