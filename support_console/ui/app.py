"""The Textual app: ``create_app(settings, services)`` is the one factory the CLI and the tests use.

The app never opens databases or creates model clients itself: it takes :class:`Services` (or builds them once
with ``build_services``), so tests run it against a temporary SQLite file and the loopback model server.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import threading
from collections.abc import Iterable, Sequence
from contextlib import suppress
from dataclasses import replace
from typing import ClassVar, Final

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.notifications import Notify
from textual.screen import ModalScreen, Screen
from textual.widgets import Static
from textual.worker import WorkerFailed

from support_console.config.settings import Settings, config_help_text
from support_console.core.errors import SupportConsoleError
from support_console.core.personas import PersonaProblem, fingerprint
from support_console.core.safe_text import visible
from support_console.ui.screens.bindings import MAIN_BINDINGS
from support_console.ui.screens.help import HelpRow, HelpScreen
from support_console.ui.screens.main import MainScreen
from support_console.ui.screens.palette import ConsoleCommands
from support_console.ui.screens.reply_to import ReplyTo
from support_console.workflows.services import Services, ServicesClosed, StoreUnavailable, build_services

PERSONA_POLL_SECONDS = 2.0
#: Signals that end the console with nobody left to answer a question: its terminal closed (SIGHUP), or a
#: ``kill`` (SIGTERM). Everything is saved first, as on quit, and the console's presence goes at once.
HANG_UP_SIGNALS: Final = (signal.SIGHUP, signal.SIGTERM)

STORE_AFTER_LIST = 0.4
"""Seconds after the first list is on screen before the store opens in a thread, so the agent's first keys
(open the customer they came for) run without the imports competing for the interpreter."""
STORE_AFTER_FRAME = 1.5
"""...and at the latest this long after the first frame (a list that never loads)."""

APP_BINDINGS: list[Binding] = [
    Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
    Binding("f1,question_mark", "help", "Help", id="help"),
    Binding("ctrl+l", "logs", "Logs", id="logs", show=False),
]


class SupportConsoleApp(App[None]):
    """The agent console."""

    CSS_PATH = "app.tcss"
    TITLE = "support-console"
    BINDINGS: ClassVar[list[BindingType]] = list(APP_BINDINGS)
    COMMANDS = App.COMMANDS | {ConsoleCommands}

    def __init__(self, services: Services, *, owns_services: bool = False) -> None:
        super().__init__()
        self.services = services
        self._owns_services = owns_services
        self._persona_fingerprint = fingerprint(services.settings.persona_dirs)
        self.main_screen: MainScreen | None = None
        self._hang_up_signals: list[int] = []  # those this app handles (see _listen_for_hang_up)

    @property
    def settings(self) -> Settings:
        return self.services.settings

    def on_mount(self) -> None:
        self.set_keymap(dict(self.settings.keys))
        self.main_screen = MainScreen(self.services)
        self.push_screen(self.main_screen)
        self._store_started = False
        self.call_after_refresh(self.set_timer, STORE_AFTER_FRAME, self._start_store)  # see Services
        self._report_persona_problems()
        self.set_interval(PERSONA_POLL_SECONDS, self.check_personas)
        if not self.settings.provider.configured:
            from support_console.ui.screens.no_provider import NoProviderScreen

            self.push_screen(NoProviderScreen(config_help_text(self.settings)))
        if self.settings.agent_source == "unset":
            self.main_screen.ask_agent_name()
        self._listen_for_hang_up()

    def on_queue_list_loaded(self) -> None:
        """The first list is on screen: the store opens a moment later (see ``STORE_AFTER_LIST``)."""
        if not self._store_started:
            self.set_timer(STORE_AFTER_LIST, self._start_store)

    def _start_store(self) -> None:
        if not self._store_started:
            self._store_started = True
            self._open_store()

    @work(thread=True, exclusive=True, group="store", exit_on_error=False)
    def _open_store(self) -> None:
        """Open the store in a thread (the first frame did not need it), then load the model SDK so the first
        draft leaves at once; a store that fails ends the console. (The token tables load on first need, in
        the thread that prepares a draft: see ``Services.warm_up``.)"""
        try:
            self.services.open_store()
        except SupportConsoleError as error:
            self.call_from_thread(self._store_failed, error)
            return
        except ServicesClosed:  # the console is quitting
            return
        if self.main_screen is not None:
            self.call_from_thread(self._store_ready, self.main_screen)
        self.services.warm_up()
        freeze_startup_objects()

    def on_notify(self, event: Notify) -> None:
        """Notices on the main screen go to its bar (never over the draft); other screens keep toasts.

        A notice raised while the main screen is the one shown is the bar's alone: Textual would also keep
        it as a toast and draw it on the next screen pushed (a confirm dialog), over the draft's status line.
        """
        main = self.main_screen
        if main is not None and main.is_mounted:
            main.notices.add(event.notification)
            if self.screen is main:
                event.prevent_default()  # not App._on_notify: no toast for it on any screen

    def _store_ready(self, main: MainScreen) -> None:
        if self.services.first_page_missed:  # the first frame's list was empty: the file could not answer
            main.customers.refresh_list()
        main.store_opened()

    def _store_failed(self, error: SupportConsoleError) -> None:
        self.exit(return_code=1, message=Text(f"error: {error}"))  # literal, never markup

    def _handle_exception(self, error: Exception) -> None:
        """A store that cannot be opened ends the console with its one ``error:`` line wherever it surfaces
        (a screen that needed the store while it was opening): never Textual's traceback, whose locals
        would show the database URL, password included."""
        failure = error.error if isinstance(error, WorkerFailed) else error
        if isinstance(failure, StoreUnavailable):
            self._store_failed(failure)
            return
        super()._handle_exception(error)

    async def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for number in self._hang_up_signals:
            loop.remove_signal_handler(number)
        if self.main_screen is not None:
            await self.main_screen.session.aclose()  # its queued saves run first
        if self._owns_services:
            await self.services.aclose()
        elif self.services.client is not None:  # its HTTP pool belongs to this app's event loop
            await self.services.client.aclose()

    # -- keys and help ---------------------------------------------------------------------------------

    def _all_bindings(self) -> list[Binding]:
        return [*MAIN_BINDINGS, *APP_BINDINGS]

    def keys_for(self, binding: Binding) -> str:
        """The key(s) of a binding after the [keys] rebinding, as shown to the agent."""
        assert binding.id is not None
        keys = self.settings.keys.get(binding.id, binding.key)
        shown = [
            self.get_key_display(replace(binding, key=k.strip(), key_display=None)) for k in keys.split(",")
        ]
        return " / ".join(shown)

    def help_rows(self) -> list[HelpRow]:
        return [(self.keys_for(b), b.description, b.id or "") for b in self._all_bindings()]

    def action_for(self, binding_id: str) -> str | None:
        for binding in self._all_bindings():
            if binding.id == binding_id:
                return binding.action
        return None

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_rows()))

    def on_reply_to(self, message: ReplyTo) -> None:
        """From the logs or the audit view: back to the main screen, with that conversation open."""
        main = self.main_screen
        if main is None:
            return
        while self.screen is not main and len(self.screen_stack) > 1:
            self.pop_screen()
        main.open_conversation(message.conversation_id)

    def action_logs(self) -> None:
        try:
            from support_console.ui.screens.logs import LogsScreen
        except ImportError:
            self.notify("The logs screen is not available in this build.", severity="warning", markup=False)
            return
        self.push_screen(LogsScreen(self.services))

    # -- quitting without losing work ------------------------------------------------------------------

    async def action_quit(self) -> None:
        """Quit, asking first while a draft streams or an unsent draft is open (it is saved either way, and
        comes back when the agent reopens the customer)."""
        from support_console.ui.screens.confirm import ConfirmScreen

        main = self.main_screen
        question = self._quit_question(main) if main is not None else None
        if question is None:
            self._quit_after_saving()
            return

        def answered(yes: bool | None) -> None:
            if yes and main is not None:
                main.action_stop()
                self._quit_after_saving()

        self.push_screen(ConfirmScreen(question, yes="Quit", no="Stay"), answered)

    @staticmethod
    def _quit_question(main: MainScreen) -> str | None:
        drafting = main.drafting
        if drafting.generating:
            return "A draft is still streaming. Stop it and quit? What came so far is saved."
        if drafting.sending or not drafting.pane.text.strip():
            return None
        customer = main.customer.name if main.customer is not None else "this customer"
        how = "edited" if drafting.pane.edited else "not edited"
        return (
            f"The draft for {visible(customer)} is not sent yet ({how}). Quit anyway? It is saved, not "
            "sent: it comes back when you open this customer again."
        )

    def _listen_for_hang_up(self) -> None:
        """Quit as :meth:`action_quit` does on :data:`HANG_UP_SIGNALS`, without asking: a closed terminal
        used to end the process at once, losing the edit typed in the last second and leaving the agent's
        presence in the others' headers until it expired."""
        loop = asyncio.get_running_loop()
        for number in HANG_UP_SIGNALS:
            with suppress(NotImplementedError, RuntimeError, ValueError):  # not the main thread; Windows
                loop.add_signal_handler(number, self._hung_up)
                self._hang_up_signals.append(number)

    def _hung_up(self) -> None:
        main = self.main_screen
        if main is not None and main.drafting.generating:
            main.action_stop()  # what came so far is saved
        self._quit_after_saving(unattended=True)

    @work(exclusive=True, group="quit", exit_on_error=False)
    async def _quit_after_saving(self, *, unattended: bool = False) -> None:
        """Quit once every edit and draft is saved; if the database refuses, ask before losing anything
        (``unattended``: nobody is there to answer, so quit)."""
        from support_console.ui.screens.confirm import ConfirmScreen

        main = self.main_screen
        error = await main.save_before_quit() if main is not None else None
        if error is None or unattended:
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(
            ConfirmScreen(f"The draft could not be saved ({error}). Quit anyway and lose it?", yes="Quit"),
            answered,
        )

    # -- personas changed on disk ----------------------------------------------------------------------

    def check_personas(self) -> bool:
        """Reload persona files if any changed on disk; returns True when a reload happened."""
        current = fingerprint(self.settings.persona_dirs)
        if current == self._persona_fingerprint:
            return False
        self._persona_fingerprint = current
        self.services.reload_personas()
        self._report_persona_problems()
        if self.main_screen is not None:
            self.main_screen.personas_reloaded()
        count = len(self.services.personas.personas)
        self.notify(
            f"Persona files changed: {count} persona{'s' if count != 1 else ''} loaded.", markup=False
        )
        return True

    def _report_persona_problems(self) -> None:
        """One toast for all the persona problems, however many; the list is one command away."""
        problems = self.services.personas.problems
        if not problems:
            return
        if len(problems) == 1:
            message, title = visible(str(problems[0])), "Persona file problem"
        else:
            message = f"{len(problems)} persona file problems, the first: {visible(str(problems[0]))}"
            title = "Persona file problems"
        message += f"\nSee them all: command palette (ctrl+p) → {PERSONA_PROBLEMS_COMMAND!r}."
        self.notify(message, title=title, severity="error", timeout=12, markup=False)

    def get_system_commands(self, screen: Screen[object]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        problems = self.services.personas.problems
        if problems:
            help_text = f"List the {len(problems)} problem(s) in the persona files"
            yield SystemCommand(PERSONA_PROBLEMS_COMMAND, help_text, self.action_persona_problems)

    def action_persona_problems(self) -> None:
        self.push_screen(PersonaProblemsScreen(self.services.personas.problems))


PERSONA_PROBLEMS_COMMAND = "Persona file problems"


class PersonaProblemsScreen(ModalScreen[None]):
    """Every persona problem, file and field, in one scrollable list (the toast only summarises them)."""

    DEFAULT_CSS = "#persona-problems-body { height: auto; max-height: 50vh; }"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,enter", "close", "Close", id="persona_problems_close")
    ]

    def __init__(self, problems: Sequence[PersonaProblem]) -> None:
        super().__init__()
        self._problems = tuple(problems)

    def compose(self) -> ComposeResult:
        with Vertical(id="persona-problems-dialog", classes="dialog"):
            yield Static(
                f"Persona file problems ({len(self._problems)})", classes="dialog-title", markup=False
            )
            with VerticalScroll(id="persona-problems-body"):
                text = "\n\n".join(visible(str(p)) for p in self._problems) or "None: every file loaded."
                yield Static(text, id="persona-problems-text", markup=False)
            yield Static(
                "Fix and save the files: the console reloads them. Escape closes this.",
                classes="dialog-hint",
                markup=False,
            )

    def action_close(self) -> None:
        self.dismiss(None)


_frozen = threading.Event()
_imports_frozen = threading.Event()


def freeze_imported_objects() -> None:
    """Keep the modules imported to start the console out of the garbage collector's passes, once per
    process, before the app is built (``freeze_startup_objects`` freezes what the store and the SDK add).

    They live as long as the process, and building the first screen allocates enough to set off a full
    pass over all of them (about 30 ms in a fresh process, between the start and the first frame).
    """
    _freeze_once(_imports_frozen)


def freeze_startup_objects() -> None:
    """Keep what the console loaded at start out of the garbage collector's full passes, once per process.

    Everything loaded by then (Textual, SQLAlchemy, the SDK) lives as long as the console,
    and a full pass scans it all again and again: a pause of about 0.3 s every few pages of a long
    transcript, 0.1 s once it is frozen. Once per process, so a process running many apps (the tests) does
    not keep what its earlier apps left behind.
    """
    _freeze_once(_frozen)


def _freeze_once(done: threading.Event) -> None:
    if not done.is_set():
        done.set()
        gc.freeze()


def create_app(settings: Settings, services: Services | None = None) -> SupportConsoleApp:
    """The one app factory: with ``services`` None they are built here and closed when the app exits."""
    freeze_imported_objects()  # everything imported by now stays: no full collection pass over it
    if services is None:
        return SupportConsoleApp(build_services(settings, open_store=False), owns_services=True)
    return SupportConsoleApp(services)
