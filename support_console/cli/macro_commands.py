"""The canned-reply subcommands: ``macros list | show | check``, mirroring ``personas`` and ``tools``.

Kept apart from :mod:`support_console.cli.main` (which only registers them) so the entry point stays short.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from support_console.cli import output as fmt
from support_console.cli.main import EXIT_CONFIG, EXIT_OK
from support_console.config.settings import Settings
from support_console.core.safe_text import escaped


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add ``macros`` to the main parser."""
    macros = sub.add_parser("macros", parents=[common], help="list, show or check canned replies (macros)")
    msub = macros.add_subparsers(title="macros commands", metavar="ACTION", required=True)
    msub.add_parser("list", parents=[common], help="list the canned replies").set_defaults(
        func=cmd_macros_list
    )
    show = msub.add_parser("show", parents=[common], help="show one canned reply")
    show.add_argument("macro_id", metavar="NAME")
    show.set_defaults(func=cmd_macros_show)
    check = msub.add_parser("check", parents=[common], help="validate macro files (exit 3 when broken)")
    check.add_argument("paths", nargs="*", type=Path, metavar="FILE", help="files/folders (default: in use)")
    check.set_defaults(func=cmd_macros_check)


def cmd_macros_list(args: argparse.Namespace, settings: Settings) -> int:
    from support_console.core.macros import load_macros

    macros = load_macros(settings.macro_dirs)
    print(fmt.macros_table(macros.ordered()))
    if macros.problems:
        print(
            f"{len(macros.problems)} macro file problem(s): run `support-console macros check`.",
            file=sys.stderr,
        )
    return EXIT_OK


def cmd_macros_show(args: argparse.Namespace, settings: Settings) -> int:
    from support_console.core.macros import MacroError, load_macros

    try:
        macro = load_macros(settings.macro_dirs).get(args.macro_id.lstrip("/"))
    except MacroError as exc:
        raise fmt.UsageError(str(exc)) from exc
    variables = ", ".join(f"{k}={v!r}" for k, v in macro.variables.items()) or "(none)"
    lines = [
        f"/{macro.id}: {macro.name}",
        f"  {macro.description}",
        f"  file:      {macro.source}",
        f"  on send:   {'mark ' + macro.status if macro.status else 'status unchanged'}",
        f"  variables: {variables}",
        "",
        *macro.body.splitlines(),
    ]
    print("\n".join(escaped(line) for line in lines))
    return EXIT_OK


def cmd_macros_check(args: argparse.Namespace, settings: Settings) -> int:
    from support_console.core.macros import bundled_macros_dir, check_macro_files

    roots, files = fmt.data_file_paths(args.paths, [bundled_macros_dir(), *settings.macro_dirs], "macro")
    return EXIT_OK if fmt.report_checked(check_macro_files(roots), files, "macro") else EXIT_CONFIG
