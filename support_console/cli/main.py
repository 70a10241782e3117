"""The command line: ``support-console`` (and ``python -m support_console``).

With no subcommand it starts the console; the subcommands do the same work headless, for scripts and for
agents who live in a shell. Global flags sit on a parent parser shared by every subcommand, so they work
before or after the subcommand name, and every subcommand dispatches through ``args.func(args, settings) ->
int`` (the import / export / search commands of :mod:`support_console.cli.log_commands` plug in the same way).

Exit codes: 0 ok, 1 other failure, 2 usage, 3 configuration or provider (no provider, bad key, unknown model
or deployment, broken persona files), 4 model error (content filter, rate limit, dropped stream, …), 130
stopped with Ctrl+C. An error is one line on stderr that starts with ``error:`` and says what to do.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from support_console.cli import output as fmt
from support_console.config.settings import (
    PROVIDER_KINDS,
    CliOverrides,
    Settings,
    config_help_text,
    load_settings,
)
from support_console.core.errors import ConfigError, PersonaError, StoreError, SupportConsoleError
from support_console.core.trimming import ContextBudgetError
from support_console.llm import ErrorKind, LLMError

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[argparse.ArgumentParser]
    from support_console.store.server_models import ServerModelFacts
    from support_console.workflows.drafting import Drafter, PreparedDraft
    from support_console.workflows.services import Services

EXIT_OK, EXIT_OTHER, EXIT_USAGE, EXIT_CONFIG, EXIT_MODEL, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
EXIT_CODES_HELP = (
    "exit codes: 0 ok, 1 other failure, 2 usage, 3 configuration or provider (no provider, bad key, unknown "
    "model or deployment, broken persona files), 4 model error or refusal (content filter, the model "
    "refused, rate limit, dropped stream), 6 approve refused: the conversation changed after the draft, "
    "130 stopped with Ctrl+C; errors are one 'error:' line on stderr"
)
_CONFIG_KINDS = (ErrorKind.NOT_CONFIGURED, ErrorKind.AUTH, ErrorKind.NOT_FOUND)  # fixed by configuration

Handler = Callable[[argparse.Namespace, Settings], int]


# -------------------------------------------------------------------------------------------------- parser


_GLOBAL_FLAGS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("--provider", {"choices": PROVIDER_KINDS, "help": "openai, azure or compatible"}),
    ("--model", {"help": "model name (OpenAI / compatible servers)"}),
    ("--base-url", {"help": "URL of an OpenAI-compatible server, e.g. http://localhost:8000/v1"}),
    ("--azure-endpoint", {"help": "Azure OpenAI endpoint, e.g. https://NAME.openai.azure.com"}),
    ("--deployment", {"help": "Azure OpenAI deployment name"}),
    ("--api-version", {"help": "Azure OpenAI API version"}),
    ("--db", {"help": "SQLite file (or SQLAlchemy URL) to use"}),
    ("--personas", {"type": Path, "metavar": "DIR", "help": "an extra folder of persona files"}),
    ("--config", {"type": Path, "metavar": "FILE", "help": "config file to read"}),
)
"""The global flags; each one's dest is also its CliOverrides field."""


def common_parser() -> argparse.ArgumentParser:
    """The global flags. Defaults are SUPPRESS so a flag given before the subcommand is not reset after it."""
    common = argparse.ArgumentParser(add_help=False)
    flags = common.add_argument_group("global options")
    for flag, options in _GLOBAL_FLAGS:
        flags.add_argument(flag, default=argparse.SUPPRESS, **options)
    return common


def build_parser() -> argparse.ArgumentParser:
    """The whole command line; ``cli_logs`` adds its subcommands when it is installed."""
    common = common_parser()
    parser = argparse.ArgumentParser(
        prog="support-console",
        parents=[common],
        description="Draft customer-support replies with an LLM; nothing is sent until you approve it. "
        "With no command, start the console.",
        epilog=EXIT_CODES_HELP,
    )
    sub = parser.add_subparsers(title="commands", metavar="COMMAND")

    def add(
        where: Subparsers, name: str, func: Handler | None, text: str, **kw: Any
    ) -> argparse.ArgumentParser:
        """A subcommand with the global flags, dispatching to ``func`` (None: it has its own actions)."""
        p = where.add_parser(name, parents=[common], help=text, **kw)
        if func is not None:
            p.set_defaults(func=func)
        return p

    d = add(sub, "draft", cmd_draft, "record a customer's message and draft a reply (stored unsent)",
            description="Record the customer's message in their open conversation and stream a draft reply. "
            "The draft is stored unsent: approve it in the console.", epilog=EXIT_CODES_HELP)  # fmt: skip
    d.add_argument("customer", metavar="CUSTOMER", help="the customer's email (new: created) or external id")
    d.add_argument("--message", "-m", metavar="TEXT", help="the customer's message ('-' or absent: stdin)")
    d.add_argument("--persona", metavar="ID", help="persona to use (default: suggested from the message)")
    d.add_argument("--dry-run", action="store_true", help="print the exact request and token report only")
    d.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    d.add_argument("--name", metavar="NAME", help="the customer's name, when the email is new")

    customers = add(sub, "customers", None, "list or add customers")
    csub = customers.add_subparsers(title="customers commands", metavar="ACTION", required=True)
    ls = add(csub, "list", cmd_customers_list, "list customers, open conversations first")
    ls.add_argument("--filter", default="", metavar="TEXT", help="only names/emails/ids containing TEXT")
    ls.add_argument("--json", action="store_true", help="print one JSON object")
    new = add(csub, "add", cmd_customers_add, "add a customer")
    new.add_argument("email", metavar="EMAIL")
    new.add_argument("--name", required=True, metavar="NAME")
    new.add_argument("--external-id", metavar="ID", help="the customer's id in another system")
    new.add_argument("--attr", action="append", default=[], metavar="KEY=VALUE", help="an attribute (repeat)")
    new.add_argument("--json", action="store_true", help="print one JSON object")

    personas = add(sub, "personas", None, "list, show or check personas")
    psub = personas.add_subparsers(title="personas commands", metavar="ACTION", required=True)
    add(psub, "list", cmd_personas_list, "list the personas")
    add(psub, "show", cmd_personas_show, "show one persona").add_argument("persona_id", metavar="ID")
    check = add(psub, "check", cmd_personas_check, "validate persona files (exit 3 when broken)")
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files/folders (default: in use)")

    add(sub, "config", cmd_config, "show the resolved settings and how to configure")
    try:
        cli_logs = importlib.import_module("support_console.cli.log_commands")
    except ModuleNotFoundError as exc:
        if exc.name != "support_console.cli.log_commands":
            raise
    else:
        cli_logs.register(sub, common)
    importlib.import_module("support_console.cli.tool_commands").register(sub, common)  # tools, rewrite
    importlib.import_module("support_console.cli.insight_commands").register(sub, common)  # summarise…
    importlib.import_module("support_console.cli.macro_commands").register(sub, common)  # macros
    importlib.import_module("support_console.cli.team_commands").register(sub, common)  # take-next, approve…
    return parser


# ------------------------------------------------------------------------------------------------ commands


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    """Print the resolved settings (never the key), where the config file is, and how to configure."""
    print(fmt.settings_text(settings))
    learned = _learned_facts(settings)
    if learned is not None:
        print(fmt.learned_text(learned, settings.model_overrides))
    print()
    print(config_help_text(settings))
    return EXIT_OK


def _learned_facts(settings: Settings) -> list[ServerModelFacts] | None:
    """What servers said about their models, from an existing database (None: no database to read yet;
    `config` never creates one)."""
    from support_console.core.urls import sqlite_file

    path = sqlite_file(settings.db_url)
    if path is not None and not path.is_file():
        return None
    from support_console.store import Store

    try:
        store = Store.open_for_reading(settings.db_url)
    except SupportConsoleError:
        return None  # the settings are still worth printing; commands that need the store say why
    try:
        return store.server_models()
    finally:
        store.close()


def cmd_customers_list(args: argparse.Namespace, settings: Settings) -> int:
    from support_console.store import Store

    store = Store.open_for_reading(settings.db_url)
    try:
        print(fmt.customers_output(store.list_customers(args.filter), as_json=args.json))
    finally:
        store.close()
    return EXIT_OK


def cmd_customers_add(args: argparse.Namespace, settings: Settings) -> int:
    attributes = fmt.parse_attributes(args.attr)
    from support_console.store import Store

    store = Store.open(settings.db_url)
    try:
        customer = store.add_customer(args.name, args.email, args.external_id, attributes)
        print(fmt.added_customer_output(customer, as_json=args.json))
    finally:
        store.close()
    return EXIT_OK


def cmd_personas_list(args: argparse.Namespace, settings: Settings) -> int:
    from support_console.core.personas import load_personas

    personas = load_personas(settings.persona_dirs)
    print(fmt.personas_table(personas.ordered()))
    if personas.problems:
        print(f"{len(personas.problems)} persona file problem(s): run `support-console personas check`.",
              file=sys.stderr)  # fmt: skip
    return EXIT_OK


def cmd_personas_show(args: argparse.Namespace, settings: Settings) -> int:
    from support_console.core.personas import load_personas

    try:
        persona = load_personas(settings.persona_dirs).get(args.persona_id)
    except PersonaError as exc:
        raise fmt.UsageError(str(exc)) from exc
    print(fmt.persona_text(persona))
    return EXIT_OK


def cmd_personas_check(args: argparse.Namespace, settings: Settings) -> int:
    from support_console.core.personas import bundled_personas_dir, check_files

    roots, files = fmt.data_file_paths(
        args.paths, [bundled_personas_dir(), *settings.persona_dirs], "persona"
    )
    return EXIT_OK if fmt.report_checked(check_files(roots), files, "persona") else EXIT_CONFIG


def cmd_draft(args: argparse.Namespace, settings: Settings) -> int:
    """Record the customer's message, stream a draft to stdout and store it unsent (--dry-run: show it)."""
    text = fmt.read_message(args.message)
    if not args.dry_run and not settings.provider.configured:
        from support_console.workflows.drafting import no_provider_message

        raise ConfigError(no_provider_message(settings.provider) + " Or use --dry-run to see the request.")
    from support_console.workflows.services import build_services

    services = build_services(settings)
    try:
        return _draft(services, args, text)
    finally:
        services.close()


def _draft(services: Services, args: argparse.Namespace, text: str) -> int:
    from support_console.store.first_page import name_from_email
    from support_console.workflows.drafting import (
        Drafter,
        choose_persona,
        customer_values,
        new_customer_values,
        record_customer_message,
    )

    store = services.store
    customer = store.find_customer(args.customer)
    if customer is None and "@" not in args.customer:
        raise fmt.UsageError(
            f"No customer has the email or external id {args.customer!r}: pass their email, or add them "
            "first with `support-console customers add EMAIL --name NAME --external-id ID`."
        )
    conversation = store.open_conversation(customer.id) if customer and customer.id else None
    try:
        persona = choose_persona(
            services.personas,
            text,
            requested=args.persona,
            conversation_persona=conversation.persona_id if conversation else None,
        )
    except PersonaError as exc:
        raise fmt.UsageError(str(exc)) from exc
    drafter = Drafter(services)
    values = customer_values(customer) if customer else new_customer_values(args.customer, args.name)
    if args.dry_run:
        prepared = drafter.preview(values, persona.id, text, conversation.id if conversation else None)
        print(fmt.to_json(fmt.dry_run_dict(prepared)) if args.json else fmt.dry_run_text(prepared))
        return EXIT_OK
    # Everything that can fail without the model (no model set, a reply limit the window cannot hold) fails
    # here, before anything is written: a failed draft leaves no new customer or conversation behind.
    drafter.preview(values, persona.id, text)
    if customer is None:
        customer = store.add_customer(args.name or name_from_email(args.customer), args.customer)
    assert customer.id is not None
    conversation_id = record_customer_message(store, customer.id, text, persona.id)
    prepared = drafter.prepare(conversation_id, persona.id)
    for warning in fmt.trim_warnings(prepared):  # before anything is sent
        print(f"warning: {fmt.one_line(warning)}", file=sys.stderr)
    return _stream_draft(services, drafter, prepared, fmt.DraftOutput(prepared, customer, as_json=args.json))


def _stream_draft(services: Services, drafter: Drafter, prepared: PreparedDraft, out: fmt.DraftOutput) -> int:
    """Stream the draft into ``out``; on an error or Ctrl+C the partial draft is already stored."""

    async def run() -> None:
        try:
            async with contextlib.aclosing(drafter.stream(prepared)) as events:
                async for event in events:
                    out.write(event)
        finally:
            if services.client is not None:
                await services.client.aclose()

    try:
        asyncio.run(run())
    except KeyboardInterrupt:
        out.stopped(drafter)
        return EXIT_INTERRUPTED
    except LLMError as exc:
        out.failed(drafter, str(exc.kind), str(exc))
        return exit_code_for(exc)
    except StoreError as exc:  # a save failed mid-stream (a full disk, a lock held too long)
        kept = (
            f"the partial draft #{drafter.draft_id} is kept unsent, as last saved"
            if drafter.draft_id is not None
            else "no draft was saved"
        )
        raise type(exc)(f"{exc} While drafting, {kept}.") from exc
    if drafter.outcome is ErrorKind.REFUSED:  # not a reply: never on stdout as if it were one
        out.refused(drafter)
        return EXIT_MODEL
    out.done(drafter)
    return EXIT_OK


def run_console(settings: Settings, parser: argparse.ArgumentParser) -> int:
    """Start the Textual console; Textual is imported only here, so the CLI and ``--help`` stay fast."""
    try:
        from support_console.ui.app import create_app
    except ModuleNotFoundError as exc:
        if exc.name != "support_console.ui.app":
            raise
        parser.print_help()
        return EXIT_OK
    from support_console.workflows.services import build_services

    services = build_services(settings, open_store=False)  # opened after the first frame

    async def run() -> int:
        try:
            app = create_app(settings, services)
            await app.run_async()
            return int(app.return_code or 0)
        finally:
            await services.aclose()  # in the app's loop, which owns the client's connection pool

    return asyncio.run(run())


# ---------------------------------------------------------------------------------------------------- main


def overrides_from(args: argparse.Namespace) -> CliOverrides:
    """The global flags that were given (absent ones are None, so lower layers decide)."""
    dests = (flag[2:].replace("-", "_") for flag, _ in _GLOBAL_FLAGS)
    return CliOverrides(**{dest: getattr(args, dest, None) for dest in dests})


def check_arguments(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    """Refuse text arguments that are not UTF-8 (argv brings such bytes as lone surrogates), naming the
    argument, before any command writes anything. Paths are left alone: a file name may be any bytes."""
    command = _command_parser(parser, getattr(args, "func", None)) or parser
    labels = {
        a.dest: "/".join(a.option_strings) or str(a.metavar or a.dest.upper()) for a in command._actions
    }
    for dest, value in vars(args).items():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str):
                fmt.checked_text(item, f"The argument {labels.get(dest, dest)}")


def _command_parser(parser: argparse.ArgumentParser, func: object) -> argparse.ArgumentParser | None:
    """The (sub)parser of the command that dispatches to ``func``: its arguments are the ones given."""
    if func is not None and parser.get_default("func") is func:
        return parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                found = _command_parser(sub, func)
                if found is not None:
                    return found
    return None


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code for an error (see the module docstring)."""
    if isinstance(exc, fmt.UsageError):
        return EXIT_USAGE
    if isinstance(exc, LLMError):
        return EXIT_CONFIG if exc.kind in _CONFIG_KINDS else EXIT_MODEL
    if isinstance(exc, ConfigError | PersonaError | ContextBudgetError):
        return EXIT_CONFIG
    return EXIT_OTHER


def report_error(exc: BaseException) -> int:
    """Print the error as one ``error:`` line on stderr and return its exit code."""
    print(f"error: {fmt.one_line(str(exc))}", file=sys.stderr)
    return exit_code_for(exc)


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, load the settings once, and run the command; returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error argparse has already explained
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    try:
        check_arguments(args, parser)
        settings = load_settings(overrides_from(args))
        func: Handler | None = getattr(args, "func", None)
        if func is None:
            return run_console(settings, parser)
        return func(args, settings)
    except KeyboardInterrupt:
        print("stopped.", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `support-console … | head -1`: the reader left; the draft is saved
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OTHER
    except SupportConsoleError as exc:
        return report_error(exc)
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stdout.flush()
