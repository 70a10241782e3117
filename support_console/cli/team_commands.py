"""Team-mode subcommands: ``take-next`` (claim the longest-waiting unassigned conversation and print it),
``assign`` / ``release``, and ``approve`` (send a stored draft, with the send-time guard).

Why in the CLI too: scripts and chat-ops bots work the same queue as the consoles, so they must claim
atomically and be refused a stale send exactly as an agent is. A refusal exits with
:data:`EXIT_CHANGED` and says what changed; ``--reviewed-through`` (the number it prints) sends anyway.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Final

from support_console.cli.output import to_json
from support_console.config.settings import Settings
from support_console.core.errors import ConfigError, ConversationChanged
from support_console.core.matching import spelled_among
from support_console.core.safe_text import escaped

#: ``approve`` refused because the conversation changed after the draft was written.
EXIT_CHANGED: Final = 6
#: Messages ``take-next`` prints with the conversation.
_SHOWN: Final = 20


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``take-next``, ``assign``, ``release`` and ``approve`` to the main parser; each says who does it
    with ``--agent`` (default: the settings' agent, ``[agent] name`` or ``$USER``)."""
    team = argparse.ArgumentParser(add_help=False, parents=[common])
    team.add_argument("--agent", metavar="NAME", help="who does it (default: [agent] name, else $USER)")
    take = sub.add_parser(
        "take-next", parents=[team], help="claim the longest-waiting unassigned conversation"
    )
    take.add_argument("--json", action="store_true", help="print one JSON object (null: nothing waits)")
    take.set_defaults(func=cmd_take_next)
    assign = sub.add_parser("assign", parents=[team], help="give a conversation to an agent")
    assign.add_argument("conversation_id", type=int, metavar="CONVERSATION")
    assign.add_argument("assignee", metavar="AGENT")
    assign.set_defaults(func=cmd_assign)
    release = sub.add_parser("release", parents=[team], help="hand a conversation back to the queue")
    release.add_argument("conversation_id", type=int, metavar="CONVERSATION")
    release.set_defaults(func=cmd_assign, assignee=None)
    approve = sub.add_parser(
        "approve",
        parents=[team],
        help="send a stored draft (refused, exit 6, if the conversation changed after it was written)",
    )
    approve.add_argument("draft_id", type=int, metavar="DRAFT")
    approve.add_argument("--text", metavar="TEXT", help="the text to send (default: the draft as stored)")
    approve.add_argument(
        "--reviewed-through", type=int, metavar="N", help="send anyway: the changes up to N were reviewed"
    )
    approve.set_defaults(func=cmd_approve)


def _agent(settings: Settings, given: str | None = None) -> str:
    name = (given or settings.agent_name).strip()
    if not name:
        raise ConfigError(
            "Who is working? Pass --agent NAME, or set [agent] name in the config file (else $USER is used)."
        )
    return name


def cmd_take_next(args: argparse.Namespace, settings: Settings) -> int:
    from support_console.store import Store

    store = Store.open(settings.db_url, busy_timeout=settings.busy_timeout)
    try:
        row = store.take_next(_agent(settings, args.agent))
        if row is None:
            print("null" if args.json else "Nothing unassigned is waiting for a reply.")
            return 0
        messages = store.page_messages(row.conversation_id, None, _SHOWN)
    finally:
        store.close()
    shown = [m for m in messages if m.state not in ("draft", "discarded")]
    if args.json:
        data: dict[str, Any] = {
            "conversation_id": row.conversation_id,
            "customer_id": row.customer_id,
            "customer_name": row.customer_name,
            "customer_email": row.customer_email,
            "status": row.status,
            "assignee": row.assignee,
            "waiting_since": row.waiting_since,
            "messages": [{"id": m.id, "role": m.role, "text": m.text, "at": m.created_at} for m in shown],
        }
        print(to_json(data))
        return 0
    who = f"{row.customer_name} <{row.customer_email}>"
    print(escaped(f"Conversation {row.conversation_id} · {who} · taken by {row.assignee}"))
    for m in shown:
        print(escaped(f"[{m.role}] {m.text}"))
    return 0


def cmd_assign(args: argparse.Namespace, settings: Settings) -> int:
    from support_console.store import Store

    by = _agent(settings, args.agent)
    store = Store.open(settings.db_url, busy_timeout=settings.busy_timeout)
    try:
        if args.assignee is None:
            store.release(args.conversation_id, by=by)
            print(f"Conversation {args.conversation_id} released to the unassigned queue.")
        else:
            known = (*store.agent_names(), by)  # before: once assigned, the name is known
            name = store.assign(args.conversation_id, args.assignee, by=by)
            print(escaped(f"Conversation {args.conversation_id} assigned to {name}."))
            if spelled_among(name, known) is None:
                warning = f"note: nobody called {name!r} has worked on this database lately: check the name."
                print(escaped(warning), file=sys.stderr)
    finally:
        store.close()
    return 0


def cmd_approve(args: argparse.Namespace, settings: Settings) -> int:
    from support_console.store import Store

    approver = _agent(settings, args.agent)
    store = Store.open(settings.db_url, busy_timeout=settings.busy_timeout)
    try:
        text = args.text if args.text is not None else store.get_message(args.draft_id).text
        try:
            sent = store.approve_draft(args.draft_id, text, approver, reviewed_through=args.reviewed_through)
        except ConversationChanged as changed:
            print(f"error: {escaped(' '.join(str(changed).split()))}", file=sys.stderr)
            print(
                f"To send it anyway after reading them: --reviewed-through {changed.through}", file=sys.stderr
            )
            return EXIT_CHANGED
    finally:
        store.close()
    moved = f" (now message {sent.id}, after those written meanwhile)" if sent.id != args.draft_id else ""
    print(f"Draft {args.draft_id} sent in conversation {sent.conversation_id}{moved}.")
    return 0
