"""The key footer, rebuilt once for a burst of binding changes instead of once per change.

Textual's ``Footer`` queues a full recompose (about twenty key widgets removed, built, styled and mounted
again: 25-50 ms) for every "bindings changed" signal of its screen, and a screen sends them in bursts: a
focus change sends two, a screen pushed or popped one, each ``refresh_bindings()`` of ours one. Every
queued rebuild ran: the console's start sent four before its first frame, and the rebuilds they queued were
still running while the agent's first conversation opened. A rebuild reads the bindings when it runs, so
one that starts after the last change shows the same keys as any later one would: those are skipped, and
so is a rebuild when nothing a key is shown from changed (a focus change within the same bindings, the
second signal of a focus change that came after the first one's rebuild had started). Only the keys it
shows count: moving the focus into a table adds a dozen bindings the footer hides.

Textual's Footer also composes no key at all until its screen first signals, and then rebuilds after the
next frame: a pushed screen was laid out and painted twice before it was complete. With
``keys_in_first_frame`` KeyFooter reads the keys as it is composed, so they are in the screen's first frame:
right for a screen pushed over another (the logs, the audit), which is shown complete or not at all; not for
the console's first screen, whose first frame (the queue) should not wait for its keys.

Each key of a rebuild was also restyled twice as it mounted: its ``compact`` starts True (the class
``-compact`` added, the key restyled), then the footer's value (False) is bound to it (the class removed,
restyled again). The keys are given the footer's value before they mount, which is what the binding then
sets: no restyle.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey  # Footer's own key widget (Textual exports no other name)


class KeyFooter(Footer):
    """Textual's Footer, whose queued rebuilds are skipped when a rebuild started after the last change."""

    def __init__(self, *, keys_in_first_frame: bool = False) -> None:
        super().__init__()
        self._at_once = keys_in_first_frame  # see the module docstring
        self._changes = 0  # binding changes of the screen, counted as they are sent
        self._shown = -1  # the count when the last rebuild started (what it reads is at least that new)
        self._keys: tuple[object, ...] | None = None  # what the keys shown were composed from

    def on_mount(self) -> None:
        # Beside Footer's own subscription, which queues the rebuild; this one counts at once.
        self.screen.bindings_updated_signal.subscribe(self, self._changed, immediate=True)

    def _changed(self, _screen: object) -> None:
        self._changes += 1

    def compose(self) -> ComposeResult:
        if self._at_once:  # the keys now, not after the first frame (see the module docstring)
            self.set_reactive(Footer._bindings_ready, True)
        keys = self._keys_now()  # what Footer.compose reads, read at the same moment
        composed = False
        for widget in super().compose():
            composed = True
            # What the data binding of a key sets when it mounts, set now (the palette's key has none).
            if isinstance(widget, FooterKey) and not widget.has_class("-command-palette"):
                widget.set_reactive(FooterKey.compact, self.compact)
                widget.set_class(self.compact, "-compact", update=False)
            yield widget
        self._keys = keys if composed else None  # nothing composed yet: the first rebuild must run

    async def recompose(self) -> None:
        if not self.is_attached:  # its screen was dismissed while the rebuild was queued
            return
        if self._shown == self._changes:  # a rebuild started after the last change: the same keys
            return
        self._shown = self._changes
        if self._keys is not None and self._keys_now() == self._keys:  # a change that changed no key
            return
        await super().recompose()

    def _keys_now(self) -> tuple[object, ...]:
        """Everything Footer.compose shows a key from: each active binding, whether it is enabled, its
        tooltip and its key as displayed; the palette key's switch; the compact style."""
        app = self.app
        bindings = tuple(
            (binding, enabled, tooltip, app.get_key_display(binding))
            for _, binding, enabled, tooltip in self.screen.active_bindings.values()
            if binding.show  # Footer shows no other (a focus change between hidden keys changes nothing)
        )
        return (bindings, self.show_command_palette, app.ENABLE_COMMAND_PALETTE, self.compact)
