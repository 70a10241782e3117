"""Pick a rewrite tool for the draft (or its selection), and fill in what the tool asks for (refine's
instruction, translate's language).

Why a second step for inputs: most tools take none and run at once on Enter; refine needs the agent's own
words, and offers the instructions already given for this draft (newest first) so one can be given again.
Tool names and descriptions come from files on disk: shown literally.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from support_console.core.rewrite_tools import RewriteTool
from support_console.core.safe_text import visible


@dataclass(frozen=True)
class ToolChoice:
    """The tool the agent chose and the inputs they gave it."""

    tool: RewriteTool
    inputs: dict[str, str]


def render_tool(tool: RewriteTool) -> Text:
    text = Text(visible(tool.name), style="bold")
    text.append(f"  {visible(tool.id)}", style="dim")
    if tool.description:
        text.append(f"\n  {visible(tool.description)}", style="italic")
    return text


class ToolPicker(ModalScreen[ToolChoice | None]):
    """The tools, by name; Enter picks one (asking for its inputs if it has any), Esc cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="rewrite_picker_cancel")
    ]

    def __init__(self, tools: Sequence[RewriteTool], target: str, history: Sequence[str]) -> None:
        super().__init__()
        self._tools = list(tools)
        self._target = target
        self._history = list(history)

    def compose(self) -> ComposeResult:
        with Vertical(id="rewrite-picker", classes="dialog"):
            yield Static(f"Rewrite {self._target}", classes="dialog-title", markup=False)
            yield OptionList(
                *[Option(render_tool(t), id=t.id) for t in self._tools], id="rewrite-tool-options"
            )
            yield Static("enter choose · esc cancel", classes="dialog-hint", markup=False)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        tool = next(t for t in self._tools if t.id == event.option.id)
        if not tool.inputs:
            self.dismiss(ToolChoice(tool, {}))
            return

        def given(inputs: dict[str, str] | None) -> None:
            if inputs is not None:
                self.dismiss(ToolChoice(tool, inputs))

        self.app.push_screen(ToolInputs(tool, self._history), given)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ToolInputs(ModalScreen[dict[str, str] | None]):
    """One line per input of the tool; Enter in the last gives them. For ``instruction`` the earlier ones
    for this draft are listed: Enter on one gives it again."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="rewrite_inputs_cancel")
    ]

    def __init__(self, tool: RewriteTool, history: Sequence[str]) -> None:
        super().__init__()
        self._tool = tool
        self._history = list(history) if "instruction" in tool.inputs else []

    def compose(self) -> ComposeResult:
        with Vertical(id="rewrite-inputs", classes="dialog"):
            yield Static(visible(self._tool.name), classes="dialog-title", markup=False)
            for name in self._tool.inputs:
                yield Static(name.replace("_", " ").capitalize(), markup=False)
                yield Input(id=f"tool-input-{name}", placeholder=_EXAMPLES.get(name, ""))
            if self._history:
                yield Static("Given before for this draft (enter uses one again):", markup=False)
                yield OptionList(*[Option(Text(visible(h))) for h in self._history], id="rewrite-history")
            yield Static("enter rewrite · tab next · esc cancel", classes="dialog-hint", markup=False)

    def on_mount(self) -> None:
        self.query(Input).first().focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        values = {name: self.query_one(f"#tool-input-{name}", Input).value for name in self._tool.inputs}
        empty = [name for name, value in values.items() if not value.strip()]
        if empty:
            self.query_one(f"#tool-input-{empty[0]}", Input).focus()
            self.notify(f"Give the {empty[0].replace('_', ' ')} first.", severity="warning", markup=False)
            return
        self.dismiss(values)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        values = {name: self.query_one(f"#tool-input-{name}", Input).value for name in self._tool.inputs}
        values["instruction"] = self._history[event.option_index]
        if all(v.strip() for v in values.values()):
            self.dismiss(values)

    def action_cancel(self) -> None:
        self.dismiss(None)


_EXAMPLES = {"instruction": "e.g. mention the 30-day warranty", "language": "e.g. German"}
