"""Domain errors.

Every error the user can see derives from :class:`SupportConsoleError`, and ``str(error)`` is a complete
sentence that says what went wrong and what to do about it, so the CLI and the UI can show it as it is.
No error text ever contains an API key.
"""

from __future__ import annotations

from pathlib import Path


class SupportConsoleError(Exception):
    """Base class of every error meant for the user."""


class ConfigError(SupportConsoleError):
    """The configuration file, environment or flags are unusable."""


class PersonaError(SupportConsoleError):
    """A persona file is broken, or a persona id is unknown."""

    def __init__(self, message: str, *, path: Path | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.field = field


class ToolError(SupportConsoleError):
    """A rewrite tool id is unknown, or an input the tool needs (refine's instruction) was not given."""


class StoreError(SupportConsoleError):
    """The database refused an operation."""


class NotFoundError(StoreError):
    """A customer, conversation or message does not exist."""


class DiskFullError(StoreError):
    """The disk holding the database is full: the write that failed was rolled back, nothing half-saved."""


class ConversationChanged(StoreError):
    """A draft was refused at approval because its conversation changed after the draft was written (a new
    customer message, another agent's reply): the send-time guard. ``changes`` says what, one line each;
    ``through`` is the newest change's event id: approving again with ``reviewed_through=through`` says the
    agent has read them."""

    def __init__(self, message: str, *, changes: tuple[str, ...], through: int) -> None:
        super().__init__(message)
        self.changes = changes
        self.through = through
