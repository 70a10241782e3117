"""Canned replies in a draft: the values their placeholders get, and the guidance for adapting one.

Why in workflows: the console and any later headless use fill a canned reply the same way, from what the
draft session holds (the customer, the open conversation, the agent), with no store call: inserting one is
instant and needs no thread.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from support_console.workflows.drafting import customer_values

if TYPE_CHECKING:
    from support_console.core.macros import Macro
    from support_console.workflows.draft_session import DraftSession

__all__ = ["guidance", "macro_values"]


def macro_values(session: DraftSession) -> dict[str, str]:
    """The customer's values (as personas get them), the agent's name and the conversation's id; a value
    not known yet is absent, so its placeholder stays visible."""
    values = customer_values(session.customer) if session.customer is not None else {}
    if session.agent_name:
        values["agent"] = session.agent_name
    if session.conversation_id is not None:
        values["conversation_id"] = str(session.conversation_id)
    return {name: value for name, value in values.items() if value}


def guidance(macro: Macro, session: DraftSession) -> str:
    """What the model is told when it adapts a canned reply to the conversation: the reply, filled in as
    far as the values go, as a model to follow rather than text to copy."""
    return (
        "Base your reply on the team's canned reply below: keep its facts, steps, links and promises, and "
        "adapt its wording to this customer's messages. Where it has a placeholder such as {{ order_id }} "
        "that the conversation does not answer, keep the placeholder as it is.\n\n"
        f"Canned reply ({macro.name}):\n{macro.render(macro_values(session))}"
    )
