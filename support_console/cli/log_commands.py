"""The ``search``, ``export``, ``import`` and ``stats`` subcommands, registered by ``cli/main.py``.

Each command opens only the store (no model client: none of them talks to a model) and dispatches through
``args.func(args, settings) -> int`` like the other subcommands. Exit codes follow cli.py: 0 ok, 1 when an
import had bad rows (the good ones are imported), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from support_console.cli.insight_commands import quality_dict, quality_table
from support_console.cli.output import UsageError
from support_console.core.clock import as_utc, utcnow
from support_console.core.errors import SupportConsoleError
from support_console.core.safe_text import escaped, json_escaped

if TYPE_CHECKING:
    from support_console.config.settings import Settings
    from support_console.store import SearchHit, StatsRow, Store

EXIT_OK, EXIT_BAD_ROWS, EXIT_USAGE = 0, 1, 2
_MAX_ROW_ERRORS_SHOWN = 50
_RELATIVE = re.compile(r"^(\d+)([dhw])$")


def parse_since(value: str) -> datetime:
    """``2026-10-01``, ``2026-10-01T08:00``, ISO 8601 with offset, or relative: ``7d``, ``12h``, ``2w``."""
    text = value.strip()
    relative = _RELATIVE.match(text)
    if relative:
        amount, unit = int(relative.group(1)), relative.group(2)
        delta = {"d": timedelta(days=amount), "h": timedelta(hours=amount), "w": timedelta(weeks=amount)}[
            unit
        ]
        return utcnow() - delta
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a date: use 2026-10-01, 2026-10-01T08:00, or 7d / 12h / 2w for 'ago'"
        ) from None
    return as_utc(parsed)


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], common: argparse.ArgumentParser
) -> None:
    """Add the logs subcommands to the main parser."""
    p = sub.add_parser(
        "search",
        parents=[common],
        help="full-text search of all conversations",
        description="Find messages containing all the words of QUERY (a trailing * searches a prefix). "
        "Newest first.",
    )
    p.add_argument("query", metavar="QUERY", help="words to find, e.g. 'charged twice' or 'refund*'")
    p.add_argument(
        "--customer", metavar="TEXT", help="only customers whose name, email or external id contains TEXT"
    )
    p.add_argument("--persona", metavar="ID", help="only this persona's conversations")
    p.add_argument(
        "--since", type=parse_since, metavar="WHEN", help="only messages since WHEN (2026-10-01, 7d)"
    )
    p.add_argument("--limit", type=int, default=50, metavar="N", help="at most N hits (default 50)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_search)

    e = sub.add_parser(
        "export",
        parents=[common],
        help="export conversations with their audit trail",
        description="Write conversations as Markdown (for people) or JSON / JSONL (for machines), with the "
        "model's original draft next to every sent AI-assisted reply. Never includes an API key.",
    )
    e.add_argument("--format", choices=("md", "json", "jsonl"), required=True, help="output format")
    e.add_argument(
        "--customer", metavar="TEXT", help="only customers whose name, email or external id contains TEXT"
    )
    e.add_argument("--since", type=parse_since, metavar="WHEN", help="only conversations active since WHEN")
    e.add_argument("-o", "--output", type=Path, metavar="FILE", help="write to FILE (default: stdout)")
    e.set_defaults(func=cmd_export)

    i = sub.add_parser(
        "import",
        parents=[common],
        help="import conversation logs from a JSONL or CSV file",
        description="Import messages (customer messages, sent replies, notes) from JSONL or CSV; see the "
        "README for the fields. Re-importing a file adds nothing twice. Bad rows are listed by line number "
        "and skipped.",
    )
    i.add_argument("file", type=Path, metavar="FILE", help="a .jsonl or .csv file")
    i.set_defaults(func=cmd_import)

    s = sub.add_parser("stats", parents=[common], help="agent-assist stats per persona and per agent")
    s.add_argument("--since", type=parse_since, metavar="WHEN", help="from WHEN (default: all time)")
    s.add_argument("--until", type=parse_since, metavar="WHEN", help="until WHEN (exclusive)")
    s.add_argument("--json", action="store_true", help="print one JSON object")
    s.set_defaults(func=cmd_stats)


def _open_store(settings: Settings, *, read_only: bool = True) -> Store:
    """The store; read-only (no migration, nothing written) unless the command writes (import)."""
    from support_console.store import Store

    return Store.open_for_reading(settings.db_url) if read_only else Store.open(settings.db_url)


# ------------------------------------------------------------------------------------------------- search


def hit_line(hit: SearchHit, mark: Callable[[str], str]) -> str:
    """One hit as text: when, where, who, and the snippet with matches passed through ``mark``."""
    pieces, last = [], 0
    for start, end in hit.highlights:  # escape each piece: the marks are the only terminal codes printed
        pieces.append(escaped(hit.snippet[last:start]))
        pieces.append(mark(escaped(hit.snippet[start:end])))
        last = end
    pieces.append(escaped(hit.snippet[last:]))
    snippet = " ".join("".join(pieces).split())  # one line: newlines and runs of spaces collapsed
    when = hit.happened_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
    who = escaped(f"{hit.customer_name} <{hit.customer_email}>")
    return f"{when}  conversation {hit.conversation_id}  {who}  {hit.role}: {snippet}"


def cmd_search(args: argparse.Namespace, settings: Settings) -> int:
    if args.limit < 1:
        raise UsageError("--limit must be at least 1: give the number of hits to show.")
    store = _open_store(settings)
    try:
        hits = store.search(
            args.query,
            customer=args.customer,
            persona=args.persona,
            since=args.since,
            limit=args.limit,
        )
    finally:
        store.close()
    if args.json:
        print(
            json_escaped(
                json.dumps({"query": args.query, "hits": [_hit_dict(h) for h in hits]}, ensure_ascii=False)
            )
        )
        return EXIT_OK
    tty = sys.stdout.isatty()
    mark: Callable[[str], str] = (lambda s: f"\x1b[1;4m{s}\x1b[0m") if tty else (lambda s: f"«{s}»")
    for hit in hits:
        print(hit_line(hit, mark))
    print(
        f"{len(hits)} hit{'s' if len(hits) != 1 else ''}"
        + (" (limit reached)" if len(hits) == args.limit else ""),
        file=sys.stderr,
    )
    return EXIT_OK


def _hit_dict(hit: SearchHit) -> dict[str, Any]:
    return {
        "message_id": hit.message_id,
        "conversation_id": hit.conversation_id,
        "customer": {"id": hit.customer_id, "name": hit.customer_name, "email": hit.customer_email},
        "role": hit.role,
        "state": hit.state,
        "persona": hit.persona_id,
        "time": hit.happened_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "snippet": hit.snippet,
        "highlights": [list(span) for span in hit.highlights],
    }


# ------------------------------------------------------------------------------------------------- export


def cmd_export(args: argparse.Namespace, settings: Settings) -> int:
    from support_console.workflows.export import export

    store = _open_store(settings)
    try:
        if args.output is None:
            try:
                count = export(store, sys.stdout, args.format, customer=args.customer, since=args.since)
                sys.stdout.flush()
            except BrokenPipeError:  # e.g. piped into `head`: the reader has all it wanted
                _silence_stdout()
                return EXIT_OK
        else:
            try:
                with args.output.open("w", encoding="utf-8") as out:
                    count = export(store, out, args.format, customer=args.customer, since=args.since)
            except OSError as exc:
                raise SupportConsoleError(
                    f"Cannot write {args.output}: {exc.strerror}. Choose another -o FILE."
                ) from exc
    finally:
        store.close()
    where = f" to {args.output}" if args.output else ""
    print(f"Exported {count} conversation{'s' if count != 1 else ''}{where}.", file=sys.stderr)
    return EXIT_OK


def _silence_stdout() -> None:
    """After a broken pipe, point stdout at devnull so the interpreter's final flush does not fail again."""
    import os

    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


# ------------------------------------------------------------------------------------------------- import


class Progress:
    """Progress on stderr: a redrawn bar on a terminal, a plain line every 10% otherwise (logs, CI)."""

    def __init__(self, stream: TextIO, label: str) -> None:
        self.stream = stream
        self.label = label
        self.tty = stream.isatty()
        self.last_decile = -1

    def __call__(self, done: int, total: int) -> None:
        fraction = 1.0 if total <= 0 else min(1.0, done / total)
        if self.tty:
            filled = int(fraction * 30)
            self.stream.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {fraction:4.0%}")
            if fraction >= 1.0:
                self.stream.write("\n")
        else:
            decile = int(fraction * 10)
            if decile == self.last_decile:
                return
            self.last_decile = decile
            self.stream.write(f"{self.label}: {fraction:.0%} ({done:,} of {total:,} bytes)\n")
        self.stream.flush()


def cmd_import(args: argparse.Namespace, settings: Settings) -> int:
    from support_console.workflows.importer import import_file

    store = _open_store(settings, read_only=False)
    try:
        report = import_file(store, args.file, progress=Progress(sys.stderr, f"importing {args.file.name}"))
    finally:
        store.close()
    for error in report.errors[:_MAX_ROW_ERRORS_SHOWN]:
        print(f"{args.file}: {error}", file=sys.stderr)
    if len(report.errors) > _MAX_ROW_ERRORS_SHOWN:
        print(f"… and {len(report.errors) - _MAX_ROW_ERRORS_SHOWN} more bad rows.", file=sys.stderr)
    print(report.summary())
    return EXIT_OK if report.ok else EXIT_BAD_ROWS


# -------------------------------------------------------------------------------------------------- stats


def cmd_stats(args: argparse.Namespace, settings: Settings) -> int:
    store = _open_store(settings)
    try:
        result = store.stats(since=args.since, until=args.until)
        quality = store.quality_stats(since=args.since, until=args.until)
    finally:
        store.close()
    if args.json:
        print(
            json_escaped(
                json.dumps(
                    {
                        "by_persona": [_stats_dict(r) for r in result.by_persona],
                        "by_agent": [_stats_dict(r) for r in result.by_agent],
                        "quality": quality_dict(quality),
                    },
                    ensure_ascii=False,
                )
            )
        )
        return EXIT_OK
    print(stats_table("persona", result.by_persona))
    print()
    print(stats_table("agent", result.by_agent))
    print()
    print(quality_table(quality))
    return EXIT_OK


def _stats_dict(row: StatsRow) -> dict[str, Any]:
    return {
        "key": row.key,
        "drafts": row.drafts,
        "generations": row.generations,
        "sent": row.sent,
        "unchanged": row.unchanged,
        "acceptance": row.acceptance,
        "edit_rate": row.edit_rate,
        "content_filtered": row.content_filtered,
        "errors": row.errors,
    }


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def stats_table(title: str, rows: list[StatsRow]) -> str:
    """Stats rows as an aligned text table."""
    header = (title, "drafts", "generations", "sent", "unchanged", "acceptance", "edit rate", "filtered",
              "errors")  # fmt: skip
    body = [
        (
            escaped(r.key),
            "—" if r.drafts is None else str(r.drafts),
            "—" if r.generations is None else str(r.generations),
            str(r.sent),
            str(r.unchanged),
            _pct(r.acceptance),
            _pct(r.edit_rate),
            str(r.content_filtered),
            str(r.errors),
        )
        for r in rows
    ]
    if not body:
        return f"No AI-assisted replies in this period ({title})."
    widths = [max(len(line[i]) for line in (header, *body)) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip() for line in (header, *body)
    )
