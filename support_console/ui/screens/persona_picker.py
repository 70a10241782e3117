"""Pick the persona for this conversation: one key opens it, arrows and Enter choose."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from support_console.core.safe_text import visible

if TYPE_CHECKING:
    from support_console.core.personas import Persona


def render_persona(persona: Persona, current: bool) -> Text:
    text = Text("● " if current else "  ", style="bold")
    text.append(visible(persona.name), style="bold")
    text.append(f"  {visible(persona.id)}", style="dim")
    if persona.description:
        text.append(f"\n    {visible(persona.description)}", style="italic")
    return text


class PersonaPicker(ModalScreen[str | None]):
    """Dismisses with the chosen persona id, or None on escape."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel", id="picker_cancel")]

    def __init__(self, personas: Sequence[Persona], current: str | None) -> None:
        super().__init__()
        self._personas = list(personas)
        self._current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="persona-dialog", classes="dialog"):
            yield Static("Persona for this conversation", classes="dialog-title", markup=False)
            yield OptionList(
                *[Option(render_persona(p, p.id == self._current), id=p.id) for p in self._personas],
                id="persona-options",
            )
            yield Static("enter choose · esc cancel", classes="dialog-hint", markup=False)

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        ids = [p.id for p in self._personas]
        if self._current in ids:
            options.highlighted = ids.index(self._current)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(None)
