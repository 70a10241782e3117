"""The rule for text entering an editor: escape sequences and terminal controls dropped whole and counted."""

from __future__ import annotations

from support_console.core.safe_text import UNSAFE, pictured, split_unfinished, without_controls
from support_console.core.text_diff import edit_distance


def test_sequences_go_whole_and_are_counted() -> None:
    text = "a\x1b[1;31mb\x1b[0m c\x07 \x1b]0;title\x07d \x1bPq#0\x1b\\e \x9b2Jf \x1bcg\x00\x7f\x85"
    assert without_controls(text) == ("ab c d e f g", 10)


def test_line_endings_direction_marks_and_bidi_controls_stay() -> None:
    text = "one\r\ntwo \u200fمرحبا\u200e \u061c \u2067x\u2069\t"
    assert without_controls(text) == ("one\ntwo \u200fمرحبا\u200e \u061c \u2067x\u2069\t", 0)
    assert without_controls("a\rb") == ("ab", 1)  # a lone carriage return overwrites a line: a control


def test_a_sequence_split_between_pieces_is_held_until_it_ends() -> None:
    ready, carry = split_unfinished("Hello \x1b[3")
    assert (ready, carry) == ("Hello ", "\x1b[3")
    assert without_controls(carry + "1mred") == ("red", 1)
    assert split_unfinished("line\r") == ("line", "\r")
    assert split_unfinished("plain text") == ("plain text", "")
    long_osc = "\x1b]" + "x" * 5000
    assert split_unfinished(long_osc) == (long_osc, "")  # no terminal waits that long: let go


def test_pictured_keeps_every_index() -> None:
    text = "a\u202eb\u2066c\x1bd"
    shown = pictured(text)
    assert len(shown) == len(text)
    assert UNSAFE.search(shown) is None
    assert shown[0::2] == "abcd"


def test_edit_distance_ignores_what_the_console_dropped_but_not_the_agents_edits() -> None:
    raw = "Hello \x1b[31mred\x1b[0m friend"
    assert edit_distance(raw, "Hello red friend") == 0.0
    assert edit_distance(raw, "Hello blue friend") > 0.0
