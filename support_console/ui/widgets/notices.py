"""The main screen's notices: a bar above the footer instead of toasts.

A toast is drawn over the screen, bottom right: exactly where the end of the draft and its status line are,
so for five seconds the agent could not read how the draft ended. The bar takes its own rows in the layout
(the columns above give them up while it shows), so a notice never covers what the agent reads. It shows the
newest notices, each for the notification's timeout, the newest on top: the bar's height is capped, and what
it cuts must be the end of an older, long notice, never the one that just came.
"""

from __future__ import annotations

from rich.text import Text
from textual.notifications import Notification
from textual.widgets import Static

from support_console.core.safe_text import visible

SHOWN = 2
"""Notices shown at once (the newest first); more would take the draft's rows."""

SEVERITY_STYLE = {"information": "", "warning": "bold", "error": "bold"}


class NoticeBar(Static):
    """The newest unexpired notifications, one line each (wrapped if long), hidden when there are none."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self._notices: list[Notification] = []

    def on_mount(self) -> None:
        self.display = False

    @property
    def shown(self) -> list[Notification]:
        """The notifications on the bar now, oldest first."""
        return [n for n in self._notices if not n.has_expired][-SHOWN:]

    def add(self, notification: Notification) -> None:
        self._notices = [*self.shown, notification]
        self.set_timer(notification.timeout + 0.05, self._render_notices)
        self._render_notices()

    def _render_notices(self) -> None:
        shown = self.shown
        self._notices = shown
        self.display = bool(shown)
        self.set_class(any(n.severity == "error" for n in shown), "-error")
        self.set_class(any(n.severity == "warning" for n in shown), "-warning")
        text = Text()
        for index, notice in enumerate(reversed(shown)):
            if index:
                text.append("\n")
            mark = {"warning": "! ", "error": "✗ "}.get(notice.severity, "· ")
            text.append(mark, style=SEVERITY_STYLE.get(notice.severity, ""))
            if notice.title:
                text.append(f"{visible(notice.title)}: ", style="bold")
            text.append(visible(_plain(notice)))
        self.update(text)


def _plain(notice: Notification) -> str:
    """The message as words: ours never use markup; Textual's own (markup=True) lose their tags."""
    if not notice.markup:
        return notice.message
    try:
        return Text.from_markup(notice.message).plain
    except Exception:  # markup that does not parse is shown as written
        return notice.message
