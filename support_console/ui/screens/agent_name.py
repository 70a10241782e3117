"""Who is working: asked once, on the first run with neither ``[agent] name`` nor ``$USER``, and saved in the
config file's ``[agent]`` table, because every sent reply records its approver (and the stats count by it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from support_console.core.errors import SupportConsoleError
from support_console.ui.widgets.text_input import TextInput

SaveName = Callable[[str], Awaitable[None]]
"""Saves the name (off the event loop); raises SupportConsoleError with a sentence for the agent."""


class AgentNameScreen(ModalScreen[str | None]):
    """Dismisses with the saved name, or None on escape (replies then wait until a name is given)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Later", id="agent_name_cancel"),
    ]

    def __init__(self, save: SaveName, suggested: str = "", config_path: str = "") -> None:
        super().__init__()
        self._save = save
        self._suggested = suggested
        self._config_path = config_path

    def compose(self) -> ComposeResult:
        with Vertical(id="agent-name-dialog", classes="dialog"):
            yield Static("Who is working?", classes="dialog-title", markup=False)
            yield Static(
                "Your name is recorded as the approver of every reply you send, and the stats count by it. "
                f"It is saved under [agent] name in {self._config_path or 'the config file'}.",
                markup=False,
            )
            yield TextInput(self._suggested, id="agent-name", placeholder="Your name")
            yield Static("", id="agent-name-error", markup=False)
            yield Static("enter saves · esc later (sending waits for a name)", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#agent-name", Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        name = event.value.strip()
        if not name:
            self.query_one("#agent-name-error", Static).update("Type your name (or press esc).")
            return
        self._store(name)

    @work(exclusive=True, group="agent-name", exit_on_error=False)
    async def _store(self, name: str) -> None:
        try:
            await self._save(name)
        except SupportConsoleError as error:
            self.query_one("#agent-name-error", Static).update(str(error))
            return
        self.dismiss(name)

    def action_cancel(self) -> None:
        self.dismiss(None)
