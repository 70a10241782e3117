"""The persona suggestion banner, shown when the customer's message matches a persona's trigger phrases."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from support_console.core.safe_text import visible


class SuggestionBanner(Static):
    """Hidden unless there is a suggestion; the screen's accept key applies it."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(markup=False, id=id)
        self.persona_id: str | None = None

    def on_mount(self) -> None:
        self.display = False

    def suggest(self, persona_id: str, persona_name: str, accept_key: str) -> None:
        self.persona_id = persona_id
        text = Text("Suggested: ", style="bold")
        text.append(visible(persona_name))
        text.append(f" ({accept_key})", style="italic")
        self.update(text)
        self.display = True

    def dismiss(self) -> None:
        self.persona_id = None
        self.display = False
