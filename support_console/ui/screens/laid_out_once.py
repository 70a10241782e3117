"""A screen with breakpoints that is styled and laid out once when it opens, not twice.

Textual sets a screen's breakpoint class (``-narrow``, ``-wide``) when the screen's first Resize comes,
which is after its first frame: then every widget's styles are updated, their render caches dropped, and
the whole screen laid out and drawn again (a table of conversations: ~50 ms of cells drawn a second time).
:class:`LaidOutOnce` sets the class while the screen is composed, from the terminal's size, and lets a
Resize to the size the screen is already laid out at change nothing. A real resize (another size) goes to
Textual's handler as always.
"""

from __future__ import annotations

from typing import TypeVar

from textual import events
from textual.geometry import Size
from textual.screen import Screen

ResultType = TypeVar("ResultType")


class LaidOutOnce(Screen[ResultType]):
    """Call :meth:`set_breakpoint_class` first thing in ``compose``."""

    _laid_out: Size | None = None  # the terminal size the screen was last laid out for

    def set_breakpoint_class(self, *, update: bool = False) -> None:
        """The ``HORIZONTAL_BREAKPOINTS`` class for the terminal's width on, the others off: in ``compose``,
        the class Textual's first Resize would set, set before any widget is styled (``update`` False)."""
        width = self.app.size.width
        edges = sorted(self.HORIZONTAL_BREAKPOINTS or [], reverse=True)
        chosen = next((name for edge, name in edges if width >= edge), None)
        self.update_classes({name: name == chosen for _, name in edges}, update=update, animate=False)

    def on_screen_resume(self) -> None:
        # Back on top after another screen: the terminal may have been resized meanwhile, and the Resize
        # for it is then let pass as "no change" below, so the class follows the width here (a no-op when
        # it is the same).
        self.set_breakpoint_class(update=True)
        self._laid_out = self.app.size  # what Screen's own handler lays the screen out at, after this one

    def on_resize(self, event: events.Resize) -> None:
        """A "resize" to the size the screen is laid out at changes nothing, so Textual's handler (a layout
        and a repaint of the whole screen) does not run for it. Two come when a screen opens: the one its
        first layout sends the screen itself, and, at the app's start, the terminal's first size."""
        if event.size == self._laid_out:
            event.stop()
            event.prevent_default()  # not Screen._on_resize
        self._laid_out = event.size
