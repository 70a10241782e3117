"""The console's key bindings, one home for them: the main screen uses them, the app lists them in the help
screen and the command palette, and every one has an id so ``[keys]`` in the config file can rebind it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from textual.app import App
from textual.binding import Binding

MAIN_BINDINGS: list[Binding] = [
    Binding("ctrl+g", "generate", "Generate", id="generate"),
    Binding("escape", "stop", "Stop", id="stop"),
    Binding("ctrl+r", "regenerate", "Regenerate", id="regenerate", show=False),
    Binding("ctrl+s", "approve", "Approve & send", id="approve"),
    Binding("f9", "approve('pending')", "Send & set pending", id="send_pending", show=False),
    Binding("f10", "approve('resolved')", "Send & resolve", id="send_resolved", show=False),
    Binding("f8", "discard", "Discard", id="discard"),
    Binding("ctrl+n", "write", "Write by hand", id="write", show=False),
    Binding("ctrl+o", "persona", "Persona", id="persona"),
    # Shifted function keys (most terminals send shift+F1 as F13, shift+F2 as F14): every plain one is
    # taken, and ctrl+b, the one ctrl+letter left, is tmux's prefix. Canned replies: `/` + Tab too.
    Binding("f13,shift+f1", "macro", "Insert canned reply…", id="macro", show=False, key_display="shift+f1"),
    Binding(
        "f14,shift+f2",
        "rewrite",
        "Rewrite draft or selection…",
        id="rewrite",
        show=False,
        key_display="shift+f2",
    ),
    Binding("ctrl+t", "accept_suggestion", "Use suggested persona", id="accept_suggestion", show=False),
    Binding("f5", "add_message", "Add customer msg", id="add_message"),
    Binding("f4", "add_note", "Add note", id="add_note", show=False),
    # Function keys, not alt+letter (a text area types the letter) nor ctrl+letter (all taken by the text
    # areas or the console): they reach the console through tmux and every terminal we tried, and the text
    # areas leave F3, F6 and F7 to the screen (see SafeTextArea). Pending and resolved keep their pair: the
    # send-and-set key is three further on (F6/F9 pending, F7/F10 resolved).
    Binding("f3", "set_status('open')", "Mark open", id="status_open", show=False),
    Binding("f6", "set_status('pending')", "Mark pending", id="status_pending", show=False),
    Binding("f7", "set_status('resolved')", "Mark resolved", id="status_resolved", show=False),
    Binding("ctrl+f", "find_customer", "Find customer", id="find_customer", show=False),
    Binding("f2", "add_customer", "New customer", id="add_customer", show=False),
    Binding("ctrl+up", "load_earlier", "Load earlier messages", id="load_earlier", show=False),
    Binding("ctrl+down", "load_later", "Show newer messages again", id="load_later", show=False),
    # The work queue, on keys the text areas leave alone too (F9/F10 send, F3/F6/F7 mark).
    Binding("f12", "next_waiting", "Next waiting", id="next_waiting"),
    Binding("ctrl+pagedown", "queue_step(1)", "Next conversation in the queue", id="queue_next", show=False),
    Binding(
        "ctrl+pageup", "queue_step(-1)", "Previous conversation in the queue", id="queue_prev", show=False
    ),
    Binding("ctrl+home", "queue_view", "Next queue view", id="queue_view", show=False),
    Binding("f11", "customer_panel", "Customer details", id="customer_panel", show=False),
    # Agent-assist panels and thumbs, on ctrl+function keys (free in the text areas and through tmux; not
    # ctrl+F3, whose sequence ESC[1;5R reads as a cursor position report and never arrives as a key).
    Binding("ctrl+f1", "summary", "Summary (hand-over)", id="summary", show=False),
    Binding("ctrl+f2", "translation", "Translate the draft to read it", id="translation", show=False),
    Binding("ctrl+f5", "rate(1)", "Thumbs up for the draft", id="thumbs_up", show=False),
    Binding("ctrl+f6", "rate(-1)", "Thumbs down for the draft", id="thumbs_down", show=False),
    # Team mode, beside F12 (next waiting): shift+F keys reach the console through tmux and terminals alike.
    # Off the footer, which is full at 160 columns (help and the command palette list them).
    Binding("shift+f12", "take_next", "Take next", id="take_next", show=False),
    Binding("shift+f11", "reassign", "Reassign conversation", id="reassign", show=False),
    Binding("shift+f9", "release", "Release conversation", id="release", show=False),
]


BINDINGS_BY_ID = {binding.id: binding for binding in MAIN_BINDINGS if binding.id}


def key_name(app: App[Any], keys: Mapping[str, str], binding_id: str) -> str:
    """The key an action is on now (after ``[keys]`` rebinding), as the footer shows it, for hints."""
    binding = BINDINGS_BY_ID[binding_id]
    key = keys.get(binding_id, binding.key).split(",")[0].strip()
    return app.get_key_display(replace(binding, key=key, key_display=None))
