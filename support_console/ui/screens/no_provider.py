"""Shown at start when no model provider is configured: how to configure one; everything else still works."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class NoProviderScreen(ModalScreen[None]):
    """A dismissable explanation; the text comes from config (one home for the env vars and paths)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "close", "Continue without a model", id="no_provider_close")
    ]

    def __init__(self, help_text: str) -> None:
        super().__init__()
        self._help_text = help_text

    def compose(self) -> ComposeResult:
        with Vertical(id="no-provider-dialog", classes="dialog"):
            yield Static("No model provider is configured", classes="dialog-title", markup=False)
            with VerticalScroll(id="no-provider-body"):
                yield Static(self._help_text, id="no-provider-text", markup=False)
            yield Static(
                "You can still pick customers, add messages and write replies by hand; generation is off "
                "until a provider is configured and the console restarted.",
                classes="dialog-hint",
                markup=False,
            )
            yield Button("Continue without a model (enter)", id="continue", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#continue", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)
