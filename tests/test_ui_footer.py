"""The key footer (ui/widgets/footer.py): a burst of binding changes rebuilds it once, with the keys of the
last change; a change after a rebuild started gets a rebuild of its own; a pushed screen's keys are there
as soon as it has mounted.

The footers are counted by a subclass here that counts Textual's ``Footer.compose`` (one call per rebuild);
the same count on Textual's own Footer shows what the burst cost before.
"""

from __future__ import annotations

from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static

from support_console.ui.widgets.footer import KeyFooter


class CountedKeyFooter(KeyFooter):
    composed = 0

    def compose(self) -> ComposeResult:
        type(self).composed += 1
        yield from super().compose()


class CountedFooter(Footer):
    composed = 0

    def compose(self) -> ComposeResult:
        type(self).composed += 1
        yield from super().compose()


class Keys(App[None]):
    """A "send" key shown only while ``ready``; ``flip`` flips it five times in one handler."""

    ENABLE_COMMAND_PALETTE = False
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "send", "Send", id="send"),
        Binding("t", "flip", "Flip", id="flip"),
    ]

    def __init__(self, footer: Footer) -> None:
        super().__init__()
        self.footer = footer
        self.ready = True

    def compose(self) -> ComposeResult:
        yield Static("body")
        yield self.footer

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.ready if action == "send" else True

    def action_flip(self) -> None:
        for _ in range(5):  # five changes in a row, as focus moves and panes update do
            self.ready = not self.ready
            self.refresh_bindings()

    def action_send(self) -> None:
        pass


def shown(app: Keys) -> list[str]:
    keys: list[Any] = list(app.screen.query("FooterKey"))
    return sorted(key.description for key in keys)


async def burst(counted: type[CountedKeyFooter | CountedFooter]) -> tuple[int, list[str], int, list[str]]:
    """Rebuilds caused by one burst (and the keys then), and by a single change after it (and the keys)."""
    app = Keys(counted())
    async with app.run_test() as pilot:
        await pilot.pause()
        assert shown(app) == ["Flip", "Send"]
        before = counted.composed
        await pilot.press("t")
        await pilot.pause()
        after_burst = counted.composed
        keys_after_burst = shown(app)
        app.ready = True
        app.refresh_bindings()
        await pilot.pause()
        return after_burst - before, keys_after_burst, counted.composed - after_burst, shown(app)


async def test_a_burst_of_binding_changes_rebuilds_the_footer_once_with_the_last_keys() -> None:
    rebuilds, keys, again, keys_again = await burst(CountedKeyFooter)
    assert (rebuilds, keys) == (1, ["Flip"])  # five changes, one rebuild, "Send" hidden as the last said
    assert (again, keys_again) == (1, ["Flip", "Send"])  # a later change is shown too


async def test_textual_footer_rebuilds_once_per_change() -> None:
    """What KeyFooter saves: the plain Footer rebuilds for each of the five changes (same keys at the end)."""
    rebuilds, keys, _, _ = await burst(CountedFooter)
    assert keys == ["Flip"]
    assert rebuilds >= 5


class WithPalette(Keys):
    ENABLE_COMMAND_PALETTE = True  # its key is the one Footer binds no ``compact`` to


async def test_the_keys_look_as_in_textuals_footer() -> None:
    """KeyFooter gives each key the footer's ``compact`` before it mounts (no restyle on the way): the
    keys end with the same classes and text as Textual's Footer gives them."""

    async def keys(footer: Footer) -> list[tuple[str, list[str], str]]:
        app = WithPalette(footer)
        async with app.run_test() as pilot:
            await pilot.pause()
            found: list[Any] = list(app.screen.query("FooterKey"))
            return [(key.description, sorted(key.classes), str(key.render())) for key in found]

    shown = await keys(Footer())
    assert sorted(description for description, _, _ in shown) == ["Flip", "Send", "palette"]
    assert await keys(KeyFooter()) == shown


async def test_a_change_that_changes_no_key_rebuilds_nothing() -> None:
    """Bindings "changed" (a focus move within the same keys, a refresh_bindings() of ours) but every key
    is as shown: no rebuild; Textual's Footer rebuilds for each."""

    async def rebuilds(counted: type[CountedKeyFooter | CountedFooter]) -> int:
        app = Keys(counted())
        async with app.run_test() as pilot:
            await pilot.pause()
            before = counted.composed
            for _ in range(3):
                app.refresh_bindings()
                await pilot.pause()
            assert shown(app) == ["Flip", "Send"]
            return counted.composed - before

    assert await rebuilds(CountedKeyFooter) == 0
    assert await rebuilds(CountedFooter) == 3


class Pushed(Screen[None]):
    """A screen with a key of its own and a table to focus (whose many keys the footer does not show)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("b", "back", "Back", id="back")]
    AUTO_FOCUS = ""  # nothing focused until the test focuses the table

    def __init__(self, footer: Footer) -> None:
        super().__init__()
        self.footer = footer

    def compose(self) -> ComposeResult:
        yield Static("body")
        yield DataTable[str]()
        yield self.footer


async def pushed_footer(counted: type[CountedKeyFooter | CountedFooter]) -> tuple[list[str], int, int]:
    """The keys shown as soon as a pushed screen has mounted, the footer's builds until it is idle, and its
    builds when the focus then moves into the table."""
    app = Keys(Footer())
    async with app.run_test() as pilot:
        await pilot.pause()
        before = counted.composed
        footer = counted(keys_in_first_frame=True) if counted is CountedKeyFooter else counted()
        await app.push_screen(Pushed(footer))
        at_mount = shown(app)
        await pilot.pause()
        builds = counted.composed - before
        app.screen.query_one(DataTable).focus()
        await pilot.pause()
        return at_mount, builds, counted.composed - before - builds


async def test_a_pushed_screen_shows_its_keys_once_mounted_and_builds_them_once() -> None:
    """KeyFooter(keys_in_first_frame=True) reads the keys as it is composed: they are in the screen's first
    frame, with no rebuild after it (Textual's Footer composes none, then rebuilds after the first frame),
    and a focus move that changes no shown key rebuilds nothing."""
    assert await pushed_footer(CountedKeyFooter) == (["Back", "Flip", "Send"], 1, 0)
    at_mount, builds, on_focus = await pushed_footer(CountedFooter)
    assert at_mount == []
    assert builds >= 2
    assert on_focus >= 1
