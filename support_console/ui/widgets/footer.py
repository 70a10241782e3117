"""The key footer, rebuilt once for a burst of binding changes instead of once per change.

Textual's ``Footer`` queues a full recompose (about twenty key widgets removed, built, styled and mounted
again: 25-50 ms) for every "bindings changed" signal of its screen, and a screen sends them in bursts: a
focus change sends two, a screen pushed or popped one, each ``refresh_bindings()`` of ours one. Every
queued rebuild ran: the console's start sent four before its first frame, and the rebuilds they queued were
still running while the agent's first conversation opened. A rebuild reads the bindings when it runs, so
one that starts after the last change shows the same keys as any later one would: those are skipped.
"""

from __future__ import annotations

from textual.widgets import Footer


class KeyFooter(Footer):
    """Textual's Footer, whose queued rebuilds are skipped when a rebuild started after the last change."""

    def __init__(self) -> None:
        super().__init__()
        self._changes = 0  # binding changes of the screen, counted as they are sent
        self._shown = -1  # the count when the last rebuild started (what it reads is at least that new)

    def on_mount(self) -> None:
        # Beside Footer's own subscription, which queues the rebuild; this one counts at once.
        self.screen.bindings_updated_signal.subscribe(self, self._changed, immediate=True)

    def _changed(self, _screen: object) -> None:
        self._changes += 1

    async def recompose(self) -> None:
        if self._shown == self._changes:  # a rebuild started after the last change: the same keys
            return
        self._shown = self._changes
        await super().recompose()
