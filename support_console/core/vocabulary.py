"""The store's words: roles, states, statuses and the notes a draft can end with.

Kept apart from the tables (``models.py``) so the console can name them without importing SQLAlchemy and
sqlmodel, which it loads only after its first frame (see ``Services``).
"""

from __future__ import annotations

from typing import Final

# Roles and states: the one home of these strings.
ROLE_CUSTOMER: Final = "customer"
ROLE_AGENT: Final = "agent"
ROLE_NOTE: Final = "note"
ROLES: Final = (ROLE_CUSTOMER, ROLE_AGENT, ROLE_NOTE)

STATE_RECEIVED: Final = "received"
STATE_DRAFT: Final = "draft"
STATE_SENT: Final = "sent"
STATE_DISCARDED: Final = "discarded"
STATE_NOTE: Final = "note"
STATES: Final = (STATE_RECEIVED, STATE_DRAFT, STATE_SENT, STATE_DISCARDED, STATE_NOTE)

STATUS_OPEN: Final = "open"
STATUS_PENDING: Final = "pending"
STATUS_RESOLVED: Final = "resolved"
STATUSES: Final = (STATUS_OPEN, STATUS_PENDING, STATUS_RESOLVED)

#: What a draft's ``error`` says when no model error ended it: stats tell these apart from real errors.
REFUSAL_NOTE: Final = "The model refused to write this reply; edit the draft by hand or try another persona."
STOPPED_NOTE: Final = "Drafting was stopped before the model finished; edit the partial draft or draft again."
#: Statuses of a conversation that still needs the agent (counted as "open" in the customer list).
UNRESOLVED: Final = (STATUS_OPEN, STATUS_PENDING)
