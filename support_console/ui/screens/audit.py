"""The audit view: one conversation, read-only, with each AI-assisted reply's original draft against the
sent text as a word diff, and who approved it, when, with which persona, model, tokens and finish reason;
then every generation of the conversation in the order they started (stopped, failed, superseded ones too).

What it shows is built by ``Store.audit_conversation`` (``store/audit.py``), the same trail the exporter
writes, read in a thread worker so the screen never waits on the database. Customer and model text goes into
``rich.text.Text`` (never markup); the diff (``core/text_diff.py``) is styled by span.
"""

from __future__ import annotations

from contextlib import suppress
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from support_console.core.errors import SupportConsoleError
from support_console.core.safe_text import visible
from support_console.core.text_diff import diff_words
from support_console.core.vocabulary import ROLE_AGENT, ROLE_CUSTOMER
from support_console.ui.screens.reply_to import ReplyTo
from support_console.ui.widgets.footer import KeyFooter
from support_console.ui.widgets.text import literal, timestamp
from support_console.workflows.export import event_line, generation_line
from support_console.workflows.services import Services

if TYPE_CHECKING:
    from collections.abc import Sequence

    from support_console.store import AuditConversation, AuditMessage, EventRecord

#: Most messages rendered at once; the window is centred on the opened message. Export shows everything.
MAX_RENDERED = 400

DIFF_STYLES = {"delete": "strike red", "insert": "bold green", "equal": ""}

AUDIT_BINDINGS: list[Binding] = [
    Binding("escape", "back", "Back", id="audit_back"),
    Binding("d", "toggle_diff", "Diff / sent text", id="audit_diff"),
    Binding("r", "reply", "Reply in the console", id="audit_reply"),
    Binding("plus", "rate(1)", "Thumbs up", id="audit_thumbs_up"),
    Binding("minus", "rate(-1)", "Thumbs down", id="audit_thumbs_down"),
]
OUTPUT_SHOWN = 600  # characters of a generation's own text (a draft, a summary…) shown under its line
OUTPUT_LINES = 12  # ... and lines: a reply of many short lines must not push the next generation far down


def reply_header(m: AuditMessage) -> Text:
    """Who sent the reply and when; for AI replies persona, model, tokens, finish reason and edit size."""
    who = literal(m.approved_by or "unknown")
    when = timestamp(m.happened_at)
    head = Text.assemble(("Reply sent by ", "bold"), who, f" · {when}")
    if not m.ai_assisted:
        head.append(literal(f" · {m.verdict}"))
        return head
    head.append(f" · {m.verdict}")
    if m.edited:
        head.append(f" ({m.edit_distance or 0.0:.0%} changed)")
    tokens = f"{_num(m.prompt_tokens)} prompt / {_num(m.completion_tokens)} completion tokens"
    head.append("\n")
    details = f"persona {m.persona_id or '—'} · model {m.model or '—'} · {tokens} · "
    head.append(literal(details + f"finish reason {m.finish_reason or '—'}", style="dim"))
    if m.generation_id is not None:
        head.append(literal(f" · generation #{m.generation_id}", style="dim"))
    if m.error:
        head.append("\n")
        head.append(literal(m.error, style="yellow"))
    return head


def generations_text(trail: AuditConversation) -> Text:
    """Every generation of the conversation, oldest first, one line each."""
    text = Text.assemble((f"Generations ({len(trail.generations)}, oldest first)", "bold"))
    for g in trail.generations:
        style = "yellow" if g.error_kind is not None else ""
        text.append("\n")
        text.append(literal(generation_line(g), style=style))
        if g.output_text:
            text.append("\n")
            text.append(literal("    " + shown_output(g.output_text).replace("\n", "\n    "), style="dim"))
    return text


def shown_output(output: str) -> str:
    """A generation's text as the audit lists it: whole when short, else its beginning (at most
    ``OUTPUT_SHOWN`` characters and ``OUTPUT_LINES`` lines, cut at a space when one is near) and how much
    more there is; the export has all of it."""
    end = min(len(output), OUTPUT_SHOWN)
    newline = -1
    for _ in range(OUTPUT_LINES):
        newline = output.find("\n", newline + 1, end)
        if newline < 0:
            break
    else:
        end = newline
    if end == len(output):
        return output
    space = output.rfind(" ", max(0, end - 80), end)
    end = space if space > 0 else end
    return f"{output[:end].rstrip()} … ({len(output) - end:,} more characters: export the conversation)"


def rated_generation(trail: AuditConversation, message_id: int | None) -> int | None:
    """What the audit's thumbs rate: the generation of the opened reply when it has one, else of the newest
    AI-assisted reply of the conversation."""
    replies = [m for m in trail.messages if m.ai_assisted and m.generation_id is not None]
    opened = [m for m in replies if m.message_id == message_id]
    chosen = opened or replies[-1:]
    return chosen[0].generation_id if chosen else None


def events_text(events: Sequence[EventRecord]) -> Text:
    """Who did what, oldest first: every note, status change, assignment, sent reply and reading of what
    was unread ("kim · seen") with its agent."""
    text = Text("Who did what\n", style="bold")
    for e in events:
        text.append_text(literal(event_line(e)))
        text.append("\n")
    text.rstrip()
    return text


def _num(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def diff_text(original: str, sent: str) -> Text:
    """The model's text against the sent text: deletions struck through in red, insertions in green."""
    text = Text()
    for op, chunk in diff_words(original, sent):
        text.append(visible(chunk), style=DIFF_STYLES[op])
    return text


def message_text(m: AuditMessage, *, show_diff: bool) -> Text:
    """One message of the trail as styled, literal text."""
    if m.role == ROLE_CUSTOMER:
        head = Text.assemble(("Customer", "bold"), f" · {timestamp(m.happened_at)}")
    elif m.role != ROLE_AGENT:
        head = Text.assemble(("Internal note", "bold italic"), f" · {timestamp(m.happened_at)}")
    else:
        head = reply_header(m)
    body = (
        diff_text(m.original_text, m.text)
        if show_diff and m.edited and m.original_text is not None
        else literal(m.text)
    )
    return Text.assemble(head, "\n", body)


class AuditScreen(Screen[None]):
    """A read-only transcript with the audit trail of every reply."""

    BINDINGS: ClassVar[list[BindingType]] = list(AUDIT_BINDINGS)
    DEFAULT_CSS = """
    AuditScreen #audit-head { height: auto; padding: 0 1; background: $boost; }
    AuditScreen #audit-body { height: 1fr; }
    AuditScreen .audit-msg { padding: 0 1; margin: 1 0 0 0; }
    AuditScreen .audit-msg.agent { border-left: thick $success; }
    AuditScreen .audit-msg.customer { border-left: thick $primary; }
    AuditScreen .audit-msg.note { border-left: thick $warning; }
    AuditScreen .audit-msg.hit { background: $accent 20%; }
    """

    def __init__(self, services: Services, conversation_id: int, *, message_id: int | None = None) -> None:
        super().__init__()
        self.services = services
        self.conversation_id = conversation_id
        self.message_id = message_id
        self.show_diff = True
        self.trail: AuditConversation | None = None
        self.shown: tuple[AuditMessage, ...] = ()

    def compose(self) -> ComposeResult:
        yield Static(id="audit-head")
        yield VerticalScroll(id="audit-body")
        yield KeyFooter(keys_in_first_frame=True)

    def on_mount(self) -> None:
        self.sub_title = f"Audit: conversation {self.conversation_id}"
        self.query_one("#audit-head", Static).update(Text(f"Conversation {self.conversation_id} · loading…"))
        self._read()

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _read(self) -> None:
        try:
            trail = self.services.store.audit_conversation(self.conversation_id)
        except SupportConsoleError as exc:
            with suppress(RuntimeError):
                self.app.call_from_thread(self._failed, exc)
            return
        with suppress(RuntimeError):  # the app closed meanwhile
            self.app.call_from_thread(self._loaded, trail)

    def _failed(self, exc: SupportConsoleError) -> None:
        self.notify(str(exc), severity="error", markup=False)
        if self.is_attached and self.app.screen is self:
            self.dismiss()

    def _loaded(self, trail: AuditConversation) -> None:
        if not self.is_attached:
            return  # the agent left already
        self.trail = trail
        self._render_trail()

    def _window(self, messages: tuple[AuditMessage, ...]) -> tuple[int, tuple[AuditMessage, ...]]:
        """(index of the first shown, shown messages): at most MAX_RENDERED, around the opened message."""
        if len(messages) <= MAX_RENDERED:
            return 0, messages
        ids = [m.message_id for m in messages]
        centre = ids.index(self.message_id) if self.message_id in ids else len(messages) - 1
        start = max(0, min(centre - MAX_RENDERED // 2, len(messages) - MAX_RENDERED))
        return start, messages[start : start + MAX_RENDERED]

    def _render_trail(self) -> None:
        trail = self.trail
        assert trail is not None
        head = Text.assemble(
            ("Conversation ", "bold"),
            (str(trail.conversation_id), "bold"),
            " · ",
            literal(f"{trail.customer_name} <{trail.customer_email}>"),
            f" · {trail.status} · persona {trail.persona_id or '—'}",
            f" · {len(trail.messages)} messages · read-only",
        )
        start, shown = self._window(trail.messages)
        if start or len(shown) < len(trail.messages):
            head.append(
                f"\nShowing messages {start + 1}–{start + len(shown)}; export the conversation for all."
            )
        self.query_one("#audit-head", Static).update(head)
        self.shown = shown
        widgets = []
        for m in shown:
            kind = "agent" if m.role == ROLE_AGENT else "customer" if m.role == ROLE_CUSTOMER else "note"
            classes = f"audit-msg {kind}" + (" hit" if m.message_id == self.message_id else "")
            widgets.append(
                Static(message_text(m, show_diff=self.show_diff), id=f"msg-{m.message_id}", classes=classes)
            )
        if trail.generations:
            widgets.append(Static(generations_text(trail), id="audit-generations", classes="audit-msg"))
        if trail.events:  # who did what (team mode)
            widgets.append(Static(events_text(trail.events), id="audit-events", classes="audit-msg"))
        self.query_one("#audit-body", VerticalScroll).mount_all(widgets)
        self.call_after_refresh(self._scroll_to_hit)

    def _scroll_to_hit(self) -> None:
        target = self.query(f"#msg-{self.message_id}") if self.message_id is not None else None
        if target:
            target.first().scroll_visible(animate=False, top=True)
        else:
            self.query_one("#audit-body", VerticalScroll).scroll_end(animate=False)

    def action_back(self) -> None:
        self.dismiss()

    def action_reply(self) -> None:
        """Open this conversation in the main screen, to reply to it."""
        self.post_message(ReplyTo(self.conversation_id))

    def action_rate(self, rating: int) -> None:
        """Thumbs up or down (with an optional reason) on the opened reply's generation, else the newest."""
        from support_console.ui.screens.rating import ask_rating

        generation = rated_generation(self.trail, self.message_id) if self.trail is not None else None
        if generation is None:
            self.notify("No AI-assisted reply here to rate.", markup=False)
            return
        ask_rating(self.app, rating, lambda reason: self._rate(generation, rating, reason))

    @work(thread=True, group="audit-rating", exit_on_error=False)
    def _rate(self, generation: int, rating: int, reason: str) -> None:
        agent = self.services.settings.agent_name or None
        try:
            self.services.store.rate_generation(generation, rating, reason=reason, agent=agent)
        except SupportConsoleError as exc:
            with suppress(RuntimeError):
                self.app.call_from_thread(self.notify, str(exc), severity="error", markup=False)
            return
        with suppress(RuntimeError):
            self.app.call_from_thread(self._rated, generation)

    def _rated(self, generation: int) -> None:
        self.notify(f"Rating saved on generation #{generation}.", markup=False)
        if self.is_attached:
            self.query_one("#audit-body", VerticalScroll).remove_children()
            self._read()

    def action_toggle_diff(self) -> None:
        """Switch AI replies between the diff against the model's draft and the sent text alone."""
        self.show_diff = not self.show_diff
        for m in self.shown:
            if m.edited:
                self.query_one(f"#msg-{m.message_id}", Static).update(
                    message_text(m, show_diff=self.show_diff)
                )
        self.notify(
            "Showing the diff against the model's draft." if self.show_diff else "Showing the sent text."
        )
