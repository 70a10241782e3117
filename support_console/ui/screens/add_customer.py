"""Add a customer: name, email, optional external id. Errors show inside the dialog; nothing typed is lost."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from support_console.core.errors import SupportConsoleError
from support_console.ui.widgets.text_input import TextInput

# (name, email, external_id) -> new customer id (stored off the event loop); raises SupportConsoleError with a
# sentence for the agent.
AddCustomer = Callable[[str, str, str | None], Awaitable[int]]


class AddCustomerScreen(ModalScreen[int | None]):
    """Dismisses with the new customer's id, or None on escape."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="add_customer_cancel"),
        Binding("ctrl+s", "save", "Save", id="add_customer_save", priority=True),
    ]

    def __init__(self, add: AddCustomer) -> None:
        super().__init__()
        self._add = add

    def compose(self) -> ComposeResult:
        with Vertical(id="add-customer-dialog", classes="dialog"):
            yield Static("Add a customer", classes="dialog-title", markup=False)
            yield Label("Name")
            yield TextInput(id="name", placeholder="Jane Doe")
            yield Label("Email")
            yield TextInput(id="email", placeholder="jane@example.com")
            yield Label("External id (optional)")
            yield TextInput(id="external-id", placeholder="CRM or ticket id")
            yield Static("", id="add-customer-error", markup=False)
            yield Static("enter next/save · ctrl+s save · esc cancel", classes="dialog-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one("#name", Input).focus()

    def _value(self, widget_id: str) -> str:
        return self.query_one(f"#{widget_id}", Input).value.strip()

    def _error(self, message: str) -> None:
        self.query_one("#add-customer-error", Static).update(message)

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        event.stop()
        if event.input.id == "external-id":
            self.action_save()
        else:
            self.focus_next()

    def action_save(self) -> None:
        name, email, external_id = self._value("name"), self._value("email"), self._value("external-id")
        if not name:
            self._error("Type the customer's name.")
            self.query_one("#name", Input).focus()
            return
        if "@" not in email or email.startswith("@") or email.endswith("@"):
            self._error("Type a valid email address, such as jane@example.com.")
            self.query_one("#email", Input).focus()
            return
        self._save(name, email, external_id or None)

    @work(exclusive=True, group="add-customer", exit_on_error=False)
    async def _save(self, name: str, email: str, external_id: str | None) -> None:
        self._error("Saving…")
        try:
            customer_id = await self._add(name, email, external_id)
        except SupportConsoleError as error:
            self._error(str(error))
            return
        self.dismiss(customer_id)

    def action_cancel(self) -> None:
        self.dismiss(None)
