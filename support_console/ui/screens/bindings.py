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
    Binding("f8", "discard", "Discard", id="discard"),
    Binding("ctrl+n", "write", "Write by hand", id="write", show=False),
    Binding("ctrl+o", "persona", "Persona", id="persona"),
    Binding("ctrl+t", "accept_suggestion", "Use suggested persona", id="accept_suggestion", show=False),
    Binding("f5", "add_message", "Add customer msg", id="add_message"),
    Binding("f4", "add_note", "Add note", id="add_note", show=False),
    Binding("alt+o", "set_status('open')", "Mark open", id="status_open", show=False),
    Binding("alt+p", "set_status('pending')", "Mark pending", id="status_pending", show=False),
    Binding("alt+r", "set_status('resolved')", "Mark resolved", id="status_resolved", show=False),
    Binding("ctrl+f", "find_customer", "Find customer", id="find_customer", show=False),
    Binding("f2", "add_customer", "New customer", id="add_customer", show=False),
    Binding("ctrl+up", "load_earlier", "Load earlier messages", id="load_earlier", show=False),
    Binding("ctrl+down", "load_later", "Show newer messages again", id="load_later", show=False),
    # The work queue (keys text areas do not take: f6/f7 and alt+letter are theirs).
    Binding("f9", "next_waiting", "Next waiting", id="next_waiting"),
    Binding("ctrl+pagedown", "queue_step(1)", "Next conversation in the queue", id="queue_next", show=False),
    Binding(
        "ctrl+pageup", "queue_step(-1)", "Previous conversation in the queue", id="queue_prev", show=False
    ),
    Binding("f3", "queue_view", "Next queue view", id="queue_view", show=False),
    Binding("f10", "customer_panel", "Customer details", id="customer_panel", show=False),
]


BINDINGS_BY_ID = {binding.id: binding for binding in MAIN_BINDINGS if binding.id}


def key_name(app: App[Any], keys: Mapping[str, str], binding_id: str) -> str:
    """The key an action is on now (after ``[keys]`` rebinding), as the footer shows it, for hints."""
    binding = BINDINGS_BY_ID[binding_id]
    key = keys.get(binding_id, binding.key).split(",")[0].strip()
    return app.get_key_display(replace(binding, key=key, key_display=None))
