"""Pick a canned reply (macro): Enter inserts it into the draft, ctrl+g drafts a reply with the model using
it as guidance. Names, descriptions and bodies come from files on disk: shown literally."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from support_console.core.macros import Macro
from support_console.core.safe_text import visible

Use = Literal["insert", "adapt"]


def render_macro(macro: Macro) -> Text:
    text = Text(f"/{visible(macro.id)}", style="bold")
    text.append(f"  {visible(macro.name)}")
    if macro.status:
        text.append(f"  → marks {macro.status} on send", style="dim")
    if macro.description:
        text.append(f"\n  {visible(macro.description)}", style="italic")
    return text


class MacroPicker(ModalScreen[tuple[str, Use] | None]):
    """Dismisses with (macro id, "insert" or "adapt"), or None on escape."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="macro_picker_cancel"),
        Binding("ctrl+g", "adapt", "Adapt with the model", id="macro_adapt"),
    ]

    def __init__(self, macros: Sequence[Macro], typed: str = "") -> None:
        super().__init__()
        self._macros = list(macros)
        self._typed = typed

    def compose(self) -> ComposeResult:
        with Vertical(id="macro-picker", classes="dialog"):
            yield Static("Canned replies", classes="dialog-title", markup=False)
            if self._typed:
                yield Static(f"No canned reply is called /{visible(self._typed)}.", markup=False)
            yield OptionList(*[Option(render_macro(m), id=m.id) for m in self._macros], id="macro-options")
            yield Static(
                "enter insert · ctrl+g adapt with the model · esc cancel", classes="dialog-hint", markup=False
            )

    def on_mount(self) -> None:
        options = self.query_one(OptionList)
        close = [i for i, m in enumerate(self._macros) if self._typed and m.id.startswith(self._typed)]
        options.highlighted = close[0] if close else (0 if self._macros else None)
        options.focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id is not None:
            self.dismiss((event.option.id, "insert"))

    def action_adapt(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self.dismiss((self._macros[options.highlighted].id, "adapt"))

    def action_cancel(self) -> None:
        self.dismiss(None)
