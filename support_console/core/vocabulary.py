"""The conversation's words: roles, states, statuses, the notes a draft can end with, and error kinds.

Their one home. Kept apart from the tables (``store/tables.py``) so the console and the import parser (a child
process) can name them without importing SQLAlchemy and sqlmodel.
"""

from __future__ import annotations

from enum import StrEnum, auto
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
#: How the audit names a draft that a newer draft of its conversation replaced (one pending draft per
#: conversation). Stored as ``discarded`` with ``messages.superseded_by`` set, so every reader that hides
#: discarded drafts hides it too, and the CHECK on ``state`` (part of schema version 1) stays as it is.
SUPERSEDED: Final = "superseded"

#: What a generation was for (``generations.kind``, schema version 12): a reply draft, a rewrite of the
#: draft by a rewrite tool, a summary of the conversation, a translation for the agent to read.
GENERATION_DRAFT: Final = "draft"
GENERATION_REWRITE: Final = "rewrite"
GENERATION_SUMMARY: Final = "summary"
GENERATION_TRANSLATION: Final = "translation"
GENERATION_KINDS: Final = (GENERATION_DRAFT, GENERATION_REWRITE, GENERATION_SUMMARY, GENERATION_TRANSLATION)
#: What the agent did with a generation that was offered beside the draft rather than written into it
#: (``generations.outcome``): a rewrite's preview accepted into the draft or rejected; None while undecided.
OUTCOME_ACCEPTED: Final = "accepted"
OUTCOME_REJECTED: Final = "rejected"

STATUS_OPEN: Final = "open"
STATUS_PENDING: Final = "pending"
STATUS_RESOLVED: Final = "resolved"
STATUSES: Final = (STATUS_OPEN, STATUS_PENDING, STATUS_RESOLVED)

# What the events table records (schema version 14, ``store/team.py``): who did what to a conversation. The
# log is also the change feed every console follows (``store/live.py``), so writes without an agent (a
# customer message, an import) are in it too.
EVENT_CUSTOMER: Final = "customer"  # a customer message was added
EVENT_NOTE: Final = "note"  # an internal note was added
EVENT_SENT: Final = "sent"  # a reply was approved and sent
EVENT_STATUS: Final = "status"  # the status changed (detail: the new status)
EVENT_ASSIGNED: Final = "assigned"  # taken or (re)assigned (detail: the new assignee)
EVENT_RELEASED: Final = "released"  # handed back to the unassigned queue
EVENT_IMPORTED: Final = "imported"  # messages were imported into it
#: An agent read what was unread (``seen_id`` moved): the unread mark goes in every console. Nothing a
#: reply answers changes, so it is not in :data:`ANSWER_CHANGING`.
EVENT_SEEN: Final = "seen"
#: The events that change what a reply answers: a draft written before one of them is refused
#: (``ConversationChanged``, the send-time guard).
ANSWER_CHANGING: Final = (EVENT_CUSTOMER, EVENT_SENT, EVENT_IMPORTED)

# What an agent's console is doing on a conversation (presence heartbeats).
ACTIVITY_VIEWING: Final = "viewing"
ACTIVITY_DRAFTING: Final = "drafting"

#: What a draft's ``error`` says when no model error ended it: stats tell these apart from real errors.
REFUSAL_NOTE: Final = "The model refused to write this reply; edit the draft by hand or try another persona."
STOPPED_NOTE: Final = "Drafting was stopped before the model finished; edit the partial draft or draft again."
#: Statuses of a conversation that still needs the agent (counted as "open" in the customer list).
UNRESOLVED: Final = (STATUS_OPEN, STATUS_PENDING)


class ErrorKind(StrEnum):
    """How a generation went wrong, coarse enough for the UI and the CLI to choose a reaction, and the word
    the store records with a draft (values are lower-case; stats count by them, never by an error's wording).

    The model client raises every kind but the last three, which are not failures of the request: the model
    refusing to write the reply, the agent stopping the stream, and an error whose kind was not recorded.
    """

    AUTH = auto()  # 401/403: the key (or sign-in) was refused
    NOT_FOUND = auto()  # 404: no such model or deployment
    CONTENT_FILTER = auto()  # the provider's content filter blocked the prompt or stopped the reply
    CONTEXT_LENGTH = auto()  # the request does not fit the model's context window
    RATE_LIMIT = auto()  # 429 after the SDK's retries (or quota exhausted)
    TIMEOUT = auto()  # no answer (or no next chunk) within the timeout
    UNREACHABLE = auto()  # could not connect at all
    STREAM_ERROR = auto()  # the stream broke off mid-reply (dropped connection, error event, garbage)
    BAD_REQUEST = auto()  # the provider rejected the request for another reason
    SERVER = auto()  # 5xx from the provider
    NOT_CONFIGURED = auto()  # no usable provider settings (or a missing optional package)
    REFUSED = auto()  # the model declined to write the reply (its refusal is kept as the draft's text)
    STOPPED = auto()  # the agent stopped the stream before the model finished
    UNKNOWN = auto()  # a draft saved with an error but no kind (and errors stored before kinds were)


#: What a reply cut at its length limit (the persona's max_tokens or the context window) is called where an
#: error kind would be: it is no error (finish reason ``length``), but neither is it a complete reply.
LENGTH_CUT = "length"


def incomplete_kind(error_kind: str | None, finish_reason: str | None) -> str | None:
    """Why a generation's text is not a complete reply, None when it is one: its error kind (a refusal, a
    stop, a failure), a content-filter cut, or :data:`LENGTH_CUT`. The one rule behind the send guard,
    "accepted unchanged" in the stats and the audit's verdict."""
    if error_kind is not None:
        return error_kind
    if finish_reason == "content_filter":
        return ErrorKind.CONTENT_FILTER.value
    if finish_reason == "length":
        return LENGTH_CUT
    return None
