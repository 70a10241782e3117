"""Command palette provider: every console action and every persona, searchable by name.

Persona names and descriptions come from files on disk, so they are shown as plain content (the palette would
otherwise parse them as markup).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import TYPE_CHECKING

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.markup import escape

from support_console.core.safe_text import visible
from support_console.ui.widgets.reply_out import REPLY_COMMANDS

if TYPE_CHECKING:
    from support_console.ui.app import SupportConsoleApp

Command = tuple[str, str, Callable[[], object]]


class ConsoleCommands(Provider):
    """Actions (with their current keys) and "Persona: …" entries."""

    def _commands(self) -> Iterator[Command]:
        app: SupportConsoleApp = self.app  # type: ignore[assignment]
        main = app.main_screen
        if main is None:
            return
        for keys, description, binding_id in app.help_rows():
            action = app.action_for(binding_id)
            if action is None:
                continue
            yield description, f"key: {keys}", partial(app.run_action, action, main)
        yield (
            "Who is working (agent name)",
            f"now: {visible(main.session.agent_name) or 'not set'}; saved under [agent] name",
            main.ask_agent_name,
        )
        for name, action in REPLY_COMMANDS:
            yield name, "when the terminal's clipboard does not work", partial(app.run_action, action, main)
        for persona in main.services.personas.ordered():
            name = f"Persona: {visible(persona.name)}"
            yield name, visible(persona.description or persona.id), partial(main.use_persona, persona.id)

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(Content(name), callback, text=name, help=escape(help_text))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score, offsets = matcher.fuzzy_search.match(query, name)
            if score <= 0:
                continue
            display = Content(name)
            for offset in offsets:
                display = display.stylize(matcher.match_style, offset, offset + 1)
            yield Hit(score, display, callback, text=name, help=escape(help_text))
