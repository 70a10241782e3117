"""The headless ``summarise`` and ``language`` subcommands.

Kept apart from :mod:`support_console.cli.main` (which only registers them) so the shared entry point stays
short. ``summarise`` streams like ``draft`` and has its exit codes (:data:`SUMMARISE_HELP`); the summary is
stored as a generation of the conversation, as in the console, and ``--note`` also adds it as an internal
note for a hand-over. ``language`` shows or sets the customer's language (their ``language`` attribute,
which overrides what is detected from their messages: ``workflows/languages.py``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from typing import TYPE_CHECKING, Any

from support_console.cli import output as fmt
from support_console.cli.main import EXIT_INTERRUPTED, EXIT_MODEL, EXIT_OK, exit_code_for
from support_console.config.settings import Settings
from support_console.core.errors import ConfigError, PersonaError
from support_console.core.safe_text import escaped
from support_console.llm import LLMError, RefusalDelta

if TYPE_CHECKING:
    from support_console.store import Customer, QualityStats, Store
    from support_console.workflows.services import Services
    from support_console.workflows.summarising import PreparedSummary, Summariser

SUMMARISE_HELP = (
    "Summarises the customer's open conversation (intent, what happened, what was promised, open "
    "questions) in the agent's language ([agent] language) and streams it to stdout; the summary is stored "
    "with the conversation. Exit codes: 0 ok, 1 other failure, 2 usage (unknown customer, no open "
    "conversation, nothing to summarise), 3 configuration or provider, 4 model error or refusal, 130 "
    "stopped with Ctrl+C (what came is stored)."
)


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``summarise`` and ``language`` to the main parser."""
    s = sub.add_parser(
        "summarise",
        aliases=["summarize"],
        parents=[common],
        help="summarise a customer's open conversation for a hand-over",
        description="Summarise the customer's open conversation with the model and store the summary.",
        epilog=SUMMARISE_HELP,
    )
    s.add_argument("customer", metavar="CUSTOMER", help="the customer's email or external id")
    s.add_argument("--persona", metavar="ID", help="use this persona's model (default: the conversation's)")
    s.add_argument("--note", action="store_true", help="also add the summary as an internal note")
    s.add_argument("--dry-run", action="store_true", help="print the exact request and token report only")
    s.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    s.set_defaults(func=cmd_summarise)

    lang = sub.add_parser(
        "language",
        parents=[common],
        help="show or set a customer's language",
        description="Show the customer's language (set, or detected from their messages); with CODE set it "
        "(e.g. de, fr, pt-br), with 'auto' go back to detection.",
    )
    lang.add_argument("customer", metavar="CUSTOMER", help="the customer's email or external id")
    lang.add_argument("code", nargs="?", metavar="CODE", help="a language code, or 'auto'")
    lang.add_argument("--json", action="store_true", help="print one JSON object")
    lang.set_defaults(func=cmd_language)


def _customer(store: Store, key: str) -> Customer:
    customer = store.find_customer(key)
    if customer is None or customer.id is None:
        raise fmt.UsageError(
            f"No customer has the email or external id {key!r}: check it with `customers list`."
        )
    return customer


# ---------------------------------------------------------------------------------------------- summarise


def cmd_summarise(args: argparse.Namespace, settings: Settings) -> int:
    """Summarise the customer's open conversation to stdout and store it (see SUMMARISE_HELP)."""
    if not args.dry_run and not settings.provider.configured:
        from support_console.workflows.drafting import no_provider_message

        raise ConfigError(no_provider_message(settings.provider) + " Or use --dry-run to see the request.")
    from support_console.workflows.services import build_services

    services = build_services(settings)
    try:
        return _summarise(services, args)
    finally:
        services.close()


def _summarise(services: Services, args: argparse.Namespace) -> int:
    from support_console.workflows.drafting import choose_persona
    from support_console.workflows.summarising import NothingToSummarise, Summariser

    store = services.store
    customer = _customer(store, args.customer)
    assert customer.id is not None
    conversation = store.open_conversation(customer.id)
    if conversation is None or conversation.id is None:
        raise fmt.UsageError(f"{customer.email} has no open conversation to summarise.")
    try:
        persona = choose_persona(
            services.personas, "", requested=args.persona, conversation_persona=conversation.persona_id
        )
        summariser = Summariser(services)
        prepared = summariser.prepare(conversation.id, persona.id)
    except (PersonaError, NothingToSummarise) as exc:
        raise fmt.UsageError(str(exc)) from exc
    if args.dry_run:
        data = {"dry_run": True, **_facts(prepared), "request": prepared.request.to_dict()}
        print(fmt.to_json(data))
        return EXIT_OK
    return _stream(services, summariser, prepared, args)


def _stream(services: Services, summariser: Summariser, prepared: PreparedSummary, args: Any) -> int:
    from support_console.workflows.summarising import add_summary_note

    printed = False

    async def run() -> None:
        nonlocal printed
        try:
            events = summariser.stream(prepared, agent=services.settings.agent_name or None)
            async with contextlib.aclosing(events) as stream:
                async for event in stream:
                    if not args.json and not isinstance(event, RefusalDelta) and event.text:
                        sys.stdout.write(escaped(event.text))
                        sys.stdout.flush()
                        printed = True
        finally:
            if services.client is not None:
                await services.client.aclose()

    error: dict[str, str] | None = None
    code = EXIT_OK
    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        error = {"kind": "stopped", "message": "stopped with Ctrl+C: the summary is incomplete"}
        code = EXIT_INTERRUPTED
    except LLMError as exc:
        error, code = {"kind": str(exc.kind), "message": str(exc)}, exit_code_for(exc)
    result = summariser.result
    if error is None and result is not None and result.refused:
        error, code = {"kind": "refused", "message": f"The model refused: {result.refusal}"}, EXIT_MODEL
    note_id = None
    if error is None and args.note and summariser.text.strip():
        note_id = add_summary_note(services, prepared.conversation_id, summariser.text)
    if args.json:
        data: dict[str, Any] = {
            **_facts(prepared), "generation_id": summariser.generation_id, "text": summariser.text,
            "finish_reason": result.finish_reason if result else None, "usage": fmt.usage_dict(result),
            "note_id": note_id,
        }  # fmt: skip
        if error is not None:
            data["error"] = error
        print(fmt.to_json(data))
        return code
    if printed:
        print()
    if error is not None:
        print(f"error: {fmt.one_line(error['message'])}", file=sys.stderr)
    elif note_id is not None:
        print(f"Added as internal note #{note_id}.", file=sys.stderr)
    return code


def _facts(prepared: PreparedSummary) -> dict[str, Any]:
    report = prepared.report
    return {
        "conversation_id": prepared.conversation_id, "persona": prepared.persona.id,
        "model": prepared.model.name, "prompt_tokens": report.prompt_tokens, "kept": report.kept,
        "dropped": report.dropped, "truncated": report.truncated,
        "covers_message_id": prepared.covers_message_id,
    }  # fmt: skip


# ----------------------------------------------------------------------------------------------- language


def cmd_language(args: argparse.Namespace, settings: Settings) -> int:
    """Show or set the customer's language."""
    from support_console.core.languages import language_name
    from support_console.workflows.languages import customer_language, set_language
    from support_console.workflows.services import build_services

    services = build_services(settings)
    try:
        customer = _customer(services.store, args.customer)
        assert customer.id is not None
        if args.code is not None:
            try:
                customer = set_language(services.store, customer.id, args.code)
            except ValueError as exc:
                raise fmt.UsageError(str(exc)) from exc
        known = customer_language(services.store, customer)
        data = {
            "customer": customer.email, "language": known.code,
            "name": language_name(known.code) if known.code else None,
            "source": known.source, "agent_language": settings.agent_language,
            "differs": known.differs_from(settings.agent_language),
        }  # fmt: skip
        if args.json:
            print(fmt.to_json(data))
        else:
            shown = f"{language_name(known.code)} ({known.code})" if known.code else "unknown"
            line = f"{customer.email}: {shown}, {known.source}; the agent reads {settings.agent_language}."
            print(escaped(line))
        return EXIT_OK
    finally:
        services.close()


# ------------------------------------------------------------------------------------------ quality stats


def quality_dict(quality: QualityStats) -> dict[str, list[dict[str, Any]]]:
    """The draft-quality stats as JSON (``stats --json`` under "quality"; store/quality.py defines them)."""
    from dataclasses import asdict

    groups = {"by_persona": quality.by_persona, "by_tool": quality.by_tool, "by_model": quality.by_model,
              "by_agent": quality.by_agent}  # fmt: skip
    return {name: [asdict(row) for row in rows] for name, rows in groups.items()}


def quality_table(quality: QualityStats) -> str:
    """The draft-quality stats as a text table, one row per persona, tool, model and agent."""
    head = (
        "group",
        "drafts",
        "as-is",
        "light",
        "rewritten",
        "discarded",
        "med.edit",
        "med.send",
        "up",
        "down",
    )
    rows = [head]
    for group, items in (("persona", quality.by_persona), ("tool", quality.by_tool),
                         ("model", quality.by_model), ("agent", quality.by_agent)):  # fmt: skip
        for r in items:
            edit = "-" if r.median_edit_distance is None else f"{r.median_edit_distance:.0%}"
            send = "-" if r.median_seconds_to_send is None else f"{r.median_seconds_to_send:.0f}s"
            rows.append((fmt.one_line(f"{group}: {r.key}"), str(r.drafts), str(r.sent_as_is),
                         str(r.lightly_edited), str(r.rewritten), str(r.discarded), edit, send,
                         str(r.thumbs_up), str(r.thumbs_down)))  # fmt: skip
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    return "Draft quality\n" + escaped("\n".join(lines))
