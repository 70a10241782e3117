"""The rewrite-tool subcommands: ``tools list | show | check`` and the headless ``rewrite``.

Kept apart from :mod:`support_console.cli.main` (which only registers them) so the shared entry point stays
short. ``tools`` mirrors ``personas``; ``rewrite`` streams like ``draft`` and uses its exit codes, plus 5 for
a rewrite the preservation check flagged (see :data:`REWRITE_HELP`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from support_console.cli import output as fmt
from support_console.cli.main import (
    EXIT_CONFIG,
    EXIT_INTERRUPTED,
    EXIT_MODEL,
    EXIT_OK,
    exit_code_for,
)
from support_console.config.settings import Settings
from support_console.core.errors import ConfigError, PersonaError, ToolError
from support_console.core.safe_text import escaped
from support_console.llm import LLMError, RefusalDelta

if TYPE_CHECKING:
    from support_console.llm import ModelClient, StreamResult
    from support_console.workflows.rewriting import PreparedRewrite, RewriteOutcome

EXIT_FLAGGED = 5
REWRITE_HELP = (
    "Reads the text to rewrite on stdin and prints the rewrite on stdout as it streams; a leading or "
    "trailing block of quoted '>' lines and a signature after '--' are not sent to the model and are "
    "printed back unchanged. Nothing is stored. Exit codes: 0 ok, 1 other failure, 2 usage (unknown tool, "
    "missing --instruction, empty text), 3 configuration or provider, 4 model error, a refusal (nothing "
    "printed) or a rewrite cut off at the reply limit, 5 the rewrite was printed but the preservation check "
    "found a link, email, price, id, number or quoted line dropped, changed or added (listed on stderr as "
    "'warning:' lines, and under \"findings\" with --json), 130 stopped with Ctrl+C."
)


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``tools`` and ``rewrite`` to the main parser."""
    tools = sub.add_parser("tools", parents=[common], help="list, show or check rewrite tools")
    tsub = tools.add_subparsers(title="tools commands", metavar="ACTION", required=True)
    tsub.add_parser("list", parents=[common], help="list the rewrite tools").set_defaults(func=cmd_tools_list)
    show = tsub.add_parser("show", parents=[common], help="show one rewrite tool")
    show.add_argument("tool_id", metavar="ID")
    show.set_defaults(func=cmd_tools_show)
    check = tsub.add_parser(
        "check", parents=[common], help="validate rewrite-tool files (exit 3 when broken)"
    )
    check.add_argument("paths", nargs="*", type=Path, metavar="FILE", help="files/folders (default: in use)")
    check.set_defaults(func=cmd_tools_check)

    r = sub.add_parser(
        "rewrite",
        parents=[common],
        help="rewrite a draft from stdin with a rewrite tool (shorter, friendlier, …)",
        description="Rewrite the text on stdin with a rewrite tool and check that links, prices, ids and "
        "numbers survived.",
        epilog=REWRITE_HELP,
    )
    r.add_argument("--tool", required=True, metavar="ID", help="the rewrite tool (see `tools list`)")
    r.add_argument("--persona", metavar="ID", help="use this persona's model (default: the default persona)")
    r.add_argument("--instruction", metavar="TEXT", help="what to do, for tools that take it (refine)")
    r.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="another tool input, e.g. language=German",
    )
    r.add_argument("--dry-run", action="store_true", help="print the exact request only")
    r.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    r.set_defaults(func=cmd_rewrite)


# -------------------------------------------------------------------------------------------------- tools


def cmd_tools_list(args: argparse.Namespace, settings: Settings) -> int:
    from support_console.core.rewrite_tools import load_tools

    tools = load_tools(settings.tool_dirs)
    print(fmt.tools_table(tools.ordered()))
    if tools.problems:
        print(
            f"{len(tools.problems)} tool file problem(s): run `support-console tools check`.", file=sys.stderr
        )
    return EXIT_OK


def cmd_tools_show(args: argparse.Namespace, settings: Settings) -> int:
    from support_console.core.rewrite_tools import load_tools

    try:
        tool = load_tools(settings.tool_dirs).get(args.tool_id)
    except ToolError as exc:
        raise fmt.UsageError(str(exc)) from exc
    print(fmt.tool_text(tool))
    return EXIT_OK


def cmd_tools_check(args: argparse.Namespace, settings: Settings) -> int:
    from support_console.core.rewrite_tools import bundled_tools_dir, check_tool_files

    roots, files = fmt.data_file_paths(args.paths, [bundled_tools_dir(), *settings.tool_dirs], "tool")
    return EXIT_OK if fmt.report_checked(check_tool_files(roots), files, "tool") else EXIT_CONFIG


# ------------------------------------------------------------------------------------------------ rewrite


def cmd_rewrite(args: argparse.Namespace, settings: Settings) -> int:
    """Rewrite stdin with a tool, streaming to stdout; see REWRITE_HELP for what is printed and the codes."""
    from support_console.core.rewrite_tools import load_tools
    from support_console.workflows.drafting import choose_persona, no_provider_message
    from support_console.workflows.rewriting import NothingToRewrite, prepare_rewrite, rewrite_model
    from support_console.workflows.services import build_services

    inputs = _inputs(args.input, args.instruction)
    text = fmt.read_stdin()
    services = build_services(settings, open_store=False)  # nothing is stored: the store is never opened
    try:
        try:
            tool = load_tools(settings.tool_dirs).get(args.tool)
            persona = choose_persona(services.personas, "", requested=args.persona)
            prepared = prepare_rewrite(tool, text, rewrite_model(settings, persona), inputs)
        except (ToolError, PersonaError, NothingToRewrite) as exc:
            raise fmt.UsageError(str(exc)) from exc
        if args.dry_run:
            request = prepared.request.to_dict()
            print(fmt.to_json({"dry_run": True, "tool": tool.id, "persona": persona.id, "request": request}))
            return EXIT_OK
        if services.client is None:
            raise ConfigError(
                no_provider_message(settings.provider) + " Or use --dry-run to see the request."
            )
        return _stream(services.client, prepared, _Output(prepared, persona.id, as_json=args.json))
    finally:
        services.close()


def _inputs(pairs: Sequence[str], instruction: str | None) -> dict[str, str]:
    values: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise fmt.UsageError(
                f"--input {pair!r} is not NAME=VALUE: write it like --input language=German."
            )
        values[name.strip()] = value
    if instruction is not None:
        values["instruction"] = instruction
    return values


def _stream(client: ModelClient, prepared: PreparedRewrite, out: _Output) -> int:
    from support_console.workflows.rewriting import finish_rewrite

    async def run() -> StreamResult:
        try:
            async with contextlib.aclosing(client.stream(prepared.request)) as events:
                async for event in events:
                    if not isinstance(event, RefusalDelta):
                        out.write(event.text)
            return client.last_result
        finally:
            await client.aclose()

    try:
        result = asyncio.run(run())
    except KeyboardInterrupt:
        out.failed("stopped", "stopped with Ctrl+C: the rewrite is incomplete")
        return EXIT_INTERRUPTED
    except LLMError as exc:
        out.failed(str(exc.kind), str(exc))
        return exit_code_for(exc)
    return out.done(finish_rewrite(prepared, result))


class _Output:
    """Where a streaming rewrite goes: stdout as it arrives (the quoted head first, the tail and signature
    after the model's text; its leading and trailing blank space trimmed as :meth:`assemble` does), or one
    JSON object at the end (--json); what happened as lines on stderr."""

    def __init__(self, prepared: PreparedRewrite, persona_id: str, *, as_json: bool) -> None:
        self.prepared, self.persona_id, self.as_json = prepared, persona_id, as_json
        self.received: list[str] = []
        self._started = False
        self._held = ""  # trailing blank space not printed yet: it may end the text

    def write(self, text: str) -> None:
        self.received.append(text)
        if self.as_json:
            return
        if not self._started:
            text = text.lstrip()
            if not text:
                return
            self._started = True
            self._print(self.prepared.parts.head)
        text = self._held + text
        body = text.rstrip()
        self._held = text[len(body) :]
        self._print(body)

    def done(self, outcome: RewriteOutcome) -> int:
        result = outcome.result
        code = EXIT_OK
        if outcome.refused:
            code = self._close(
                outcome, {"kind": "refused", "message": f"The model refused: {result.refusal}"}
            )
        elif outcome.cut_off:
            message = "The rewrite was cut off at the reply limit: it is incomplete; select less text."
            code = self._close(outcome, {"kind": "cut_off", "message": message})
        else:
            if not self.as_json:
                self._print(self.prepared.parts.tail + "\n")
            self._close(outcome, None)
            if outcome.findings:
                code = EXIT_FLAGGED
        if not self.as_json:
            for finding in outcome.findings if code in (EXIT_OK, EXIT_FLAGGED) else ():
                print(f"warning: {fmt.one_line(str(finding))}", file=sys.stderr)
            if code == EXIT_FLAGGED:
                print(
                    f"The preservation check flagged {len(outcome.findings)} change(s): read them before you "
                    "use this rewrite.",
                    file=sys.stderr,
                )
        return code

    def failed(self, kind: str, message: str) -> None:
        if self.as_json:
            print(fmt.to_json(self._dict("".join(self.received), None, {"kind": kind, "message": message})))
            return
        if self._started:
            print()
        print(f"error: {fmt.one_line(message)}", file=sys.stderr)

    def _close(self, outcome: RewriteOutcome, error: dict[str, str] | None) -> int:
        if self.as_json:
            print(
                fmt.to_json(
                    self._dict(outcome.text if error is None else outcome.result.text, outcome, error)
                )
            )
        elif error is not None:
            if self._started:
                print()
            print(f"error: {fmt.one_line(error['message'])}", file=sys.stderr)
        return EXIT_OK if error is None else EXIT_MODEL

    def _dict(
        self, text: str, outcome: RewriteOutcome | None, error: dict[str, str] | None
    ) -> dict[str, Any]:
        result = outcome.result if outcome else None
        data: dict[str, Any] = {
            "tool": self.prepared.tool.id,
            "persona": self.persona_id,
            "model": (result.served_model if result else None) or self.prepared.model.name,
            "text": text,
            "findings": [f.to_dict() | {"message": str(f)} for f in outcome.findings]
            if outcome and error is None
            else [],
            "refusal": bool(outcome and outcome.refused),
            "finish_reason": result.finish_reason if result else None,
            "usage": fmt.usage_dict(result),
            "prompt_tokens": self.prepared.prompt_tokens,
        }
        if error is not None:
            data["error"] = error
        return data

    @staticmethod
    def _print(text: str) -> None:
        if text:
            sys.stdout.write(escaped(text))
            sys.stdout.flush()
