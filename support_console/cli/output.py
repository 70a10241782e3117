"""The command line's helpers: reading its input, and showing things (plain text for people, one JSON object
for scripts).

Kept apart from :mod:`~support_console.cli.main` so the parser and the commands stay short, and so every
JSON shape the CLI promises lives in one place. Nothing here goes through a markup renderer: customer and
model text is printed literally.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from support_console.core import data_files
from support_console.core.errors import SupportConsoleError
from support_console.core.safe_text import escaped, json_escaped
from support_console.core.urls import safe_db_url
from support_console.core.vocabulary import REFUSAL_NOTE

if TYPE_CHECKING:
    from support_console.config.settings import Settings
    from support_console.core.macros import Macro
    from support_console.core.model_facts import ModelInfo
    from support_console.core.personas import Persona
    from support_console.core.rewrite_tools import RewriteTool
    from support_console.core.trimming import TrimReport
    from support_console.llm import StreamEvent, StreamResult
    from support_console.store import CustomerRecord, CustomerSummary
    from support_console.store.server_models import ServerModelFacts
    from support_console.store.tables import Customer
    from support_console.workflows.drafting import Drafter, PreparedDraft


def one_line(text: str) -> str:
    """Collapse whitespace so an error is exactly one line on stderr (terminal-safe, see core/safe_text)."""
    return escaped(" ".join(text.split()))


def to_json(data: object) -> str:
    """The CLI's JSON: UTF-8 text as is (control and bidi characters as ``\\u`` escapes), datetimes as
    ISO 8601."""
    return json_escaped(json.dumps(data, ensure_ascii=False, indent=2, default=_json_default))


def _json_default(value: object) -> object:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


class UsageError(SupportConsoleError):
    """The command line itself is wrong (exit code 2)."""


def checked_text(value: str, what: str) -> str:
    """``value`` when it is text; a UsageError naming ``what`` when it is not UTF-8.

    Command-line arguments that are not UTF-8 reach Python as lone surrogates (surrogateescape), which no
    database, JSON document or terminal accepts: they are refused here, before anything is written.
    """
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise UsageError(
            f"{what} is not UTF-8 text ({_bad_bytes(value, exc.start)} at character {exc.start + 1}): "
            "give it as UTF-8 (e.g. convert it with `iconv -f latin1 -t utf-8`)."
        ) from None
    return value


def _bad_bytes(value: str, index: int) -> str:
    """The byte a surrogate escape stands for ("byte 0xe9"), or the code point of a lone surrogate."""
    try:
        return f"byte 0x{value[index].encode('utf-8', 'surrogateescape')[0]:02x}"
    except UnicodeEncodeError:
        return f"U+{ord(value[index]):04X}"


def read_message(message: str | None) -> str:
    """The customer's message from --message, or from stdin for ``-`` or no --message.

    Stdin is read as bytes and decoded strictly, whatever the locale says, so bytes that are not UTF-8 are an
    error naming their offset, never a traceback or a silently altered message.
    """
    if message is None or message == "-":
        if sys.stdin.isatty():
            print("Type or paste the customer's message, then press Ctrl+D.", file=sys.stderr)
        message = _read_stdin()
    if not message.strip():
        raise UsageError(
            "The customer's message is empty: pass --message TEXT, or pipe the message on stdin."
        )
    return message.strip()


def read_stdin() -> str:
    """All of stdin as UTF-8 text, exactly (a byte-order mark dropped); bytes that are not UTF-8 are a
    UsageError naming their offset."""
    return _read_stdin()


def _read_stdin() -> str:
    raw = getattr(sys.stdin, "buffer", None)
    if raw is None:  # a text stream without bytes underneath (tests, embedding)
        return checked_text(sys.stdin.read(), "The message on stdin")
    data: bytes = raw.read()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"The message on stdin is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}): "
            "convert it to UTF-8 (e.g. `iconv -f latin1 -t utf-8`) and pipe it again."
        ) from None


def parse_attributes(pairs: Sequence[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings to a mapping; a pair without ``=`` or with an empty key is a usage error."""
    attributes: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--attr {pair!r} is not KEY=VALUE: write it like --attr plan=pro.")
        attributes[key.strip()] = value
    return attributes


def data_file_paths(paths: Sequence[Path], defaults: Sequence[Path], kind: str) -> tuple[list[Path], int]:
    """What ``personas check`` and ``tools check`` check: the given files and folders (else the default
    folders that exist), and how many ``kind`` entries they hold (a folder's *.toml entries, whatever they
    are)."""
    missing = [p for p in paths if not os.path.lexists(p)]
    if missing:
        raise UsageError(f"{missing[0]} does not exist: give {kind} .toml files or folders that hold them.")
    roots = list(paths) or [d for d in defaults if d.is_dir()]
    return roots, sum(len(data_files.entries(root)) if root.is_dir() else 1 for root in roots)


def report_checked(found: Sequence[object], files: int, kind: str) -> bool:
    """Print what ``personas|tools|macros check`` found in ``files`` ``kind`` files (a problem with a true
    ``warning`` attribute is only a warning); True when nothing but warnings was found."""
    problems = [p for p in found if not getattr(p, "warning", False)]
    for problem in found:
        print(escaped(f"warning: {problem}" if problem not in problems else str(problem)))
    warned = len(found) - len(problems)
    warnings = f", {warned} warning(s)" if warned else ""
    if problems:
        print(f"{len(problems)} problem(s){warnings} in {files} {kind} file(s).", file=sys.stderr)
        return False
    print(f"{files} {kind} file(s) OK{warnings}.")
    return True


# --------------------------------------------------------------------------------------------- settings


def _clipboard_line(settings: Settings) -> str:
    clipboard = settings.clipboard
    if clipboard.command:
        return f"{' '.join(clipboard.command)} ({clipboard.command_source})"
    return "no copy command: OSC 52 to the terminal only (set [clipboard] command)"


def settings_text(settings: Settings) -> str:
    """The resolved settings for ``support-console config``; the API key is only said to be set or not."""
    provider = settings.provider
    lines = [
        f"Provider:      {provider.describe()}",
        f"API key:       {'set' if provider.api_key else 'not set'}",
        f"Ready:         {'yes' if provider.configured else 'no — ' + '; '.join(provider.missing())}",
        f"Config file:   {settings.config_path}{'' if settings.config_path.is_file() else ' (not present)'}",
        f"Database:      {safe_db_url(settings.db_url)}",
        f"Persona dirs:  {', '.join(str(d) for d in settings.persona_dirs) or '(none)'} (+ bundled)",
        f"Agent:         {settings.agent_name or '(not set: the console asks on its first run)'}",
        f"Clipboard:     {_clipboard_line(settings)}",
    ]
    for name, override in settings.model_overrides.items():
        facts = ", ".join(f"{k}={v}" for k, v in asdict(override).items() if v is not None)
        lines.append(f"Model {name!r}: {facts}")
    return "\n".join(lines)


def learned_text(learned: Sequence[ServerModelFacts], overrides: Mapping[str, object]) -> str:
    """What OpenAI-compatible servers said about their models (stored per server and model)."""
    if not learned:
        return (
            "Learned from servers: nothing yet (asked at the first draft with an OpenAI-compatible server)."
        )
    lines = ['Learned from servers (a context_window under [models."NAME"] overrides these):']
    for facts in learned:
        window = f"{facts.context_window:,}-token window" if facts.context_window else "window not reported"
        source = f" ({facts.source})" if facts.source else ""
        overridden = " [overridden in the config file]" if facts.model in overrides else ""
        lines.append(f"  {escaped(facts.base_url)} · {escaped(facts.model)}: {window}{source}{overridden}")
        if facts.offered:
            lines.append(f"    offers: {escaped(', '.join(facts.offered))}")
    return "\n".join(lines)


# -------------------------------------------------------------------------------------------- customers


def customer_dict(customer: Customer | CustomerRecord) -> dict[str, Any]:
    return {
        "id": customer.id,
        "name": customer.name,
        "email": customer.email,
        "external_id": customer.external_id,
        "attributes": dict(customer.attributes or {}),
        "created_at": customer.created_at,
    }


def summary_dict(summary: CustomerSummary) -> dict[str, Any]:
    return {
        **customer_dict(summary.customer),
        "open_conversations": summary.open_conversations,
        "unread": summary.unread,
        "last_activity": summary.last_activity,
    }


def customers_output(rows: Sequence[CustomerSummary], *, as_json: bool) -> str:
    """``customers list``: a table, or one JSON object ``{"customers": [...]}``."""
    return to_json({"customers": [summary_dict(r) for r in rows]}) if as_json else customers_table(rows)


def added_customer_output(customer: Customer, *, as_json: bool) -> str:
    if as_json:
        return to_json(customer_dict(customer))
    return f"Added customer #{customer.id}: {customer.name} <{customer.email}>"


def customers_table(rows: Sequence[CustomerSummary]) -> str:
    """A fixed-width table, open conversations first (the store's order)."""
    if not rows:
        return "No customers yet: add one with `support-console customers add EMAIL --name NAME`."
    header = ("ID", "NAME", "EMAIL", "EXTERNAL ID", "OPEN", "UNREAD", "LAST ACTIVITY")
    body = [
        (
            str(r.customer.id),
            r.customer.name,
            r.customer.email,
            r.customer.external_id or "",
            str(r.open_conversations),
            str(r.unread),
            r.last_activity.strftime("%Y-%m-%d %H:%M") if r.last_activity else "",
        )
        for r in rows
    ]
    return _table(header, body)


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    all_rows = [list(header), *([escaped(c) for c in r] for r in rows)]
    widths = [max(len(row[i]) for row in all_rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in all_rows
    )


# --------------------------------------------------------------------------------------------- personas


def personas_table(personas: Sequence[Persona]) -> str:
    if not personas:
        return "No personas found: add *.toml files to a persona folder (see `support-console config`)."
    rows = [(p.id, p.name, p.deployment or p.model or "(provider's)", p.description) for p in personas]
    return _table(("ID", "NAME", "MODEL", "DESCRIPTION"), rows)


def persona_text(persona: Persona) -> str:
    params = ", ".join(f"{k}={v}" for k, v in asdict(persona.params).items())
    lines = [
        f"{persona.id}: {persona.name}",
        f"  {persona.description}",
        f"  file:       {persona.source}",
        f"  model:      {persona.model or '(provider default)'}",
        f"  deployment: {persona.deployment or '(provider default)'}",
        f"  parameters: {params}",
        f"  triggers:   {', '.join(persona.triggers) or '(none)'}",
    ]
    lines += [f"  variable {k} (default {v!r})" for k, v in persona.variables.items()]
    lines += ["", "System message:", persona.system]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------ rewrite tools


def tools_table(tools: Sequence[RewriteTool]) -> str:
    if not tools:
        return "No rewrite tools found: add *.toml files to a tools folder (see the README)."
    rows = [(t.id, t.name, ", ".join(t.inputs), t.description) for t in tools]
    return _table(("ID", "NAME", "INPUTS", "DESCRIPTION"), rows)


def macros_table(macros: Sequence[Macro]) -> str:
    if not macros:
        return "No canned replies found: add *.toml files to a macros folder (see the README)."
    rows = [(f"/{m.id}", m.name, m.status or "", m.description) for m in macros]
    return _table(("TYPE", "NAME", "ON SEND", "DESCRIPTION"), rows)


def tool_text(tool: RewriteTool) -> str:
    params = ", ".join(f"{k}={v}" for k, v in asdict(tool.params).items())
    lines = [
        f"{tool.id}: {tool.name}",
        f"  {tool.description}",
        f"  file:       {tool.source}",
        f"  inputs:     {', '.join(tool.inputs) or '(none)'}",
        f"  language:   {'changes it' if tool.changes_language else 'kept'}",
        f"  parameters: {params}",
        "",
        "Instruction (the preservation rules are added after it):",
        tool.instruction,
    ]
    return "\n".join(escaped(line) for line in lines)


# ---------------------------------------------------------------------------------------------- drafting


def report_dict(report: TrimReport) -> dict[str, Any]:
    return asdict(report)


def trim_warnings(prepared: PreparedDraft) -> list[str]:
    """What the agent must know before the request goes out: a message that was cut to fit the window.

    The trim report says that a message was cut; the request shows which: the instructions (the first
    message) carry the truncation marker only when the persona's system message was cut.
    """
    report = prepared.report
    if not report.truncated:
        return []
    from support_console.core.trimming import TRUNCATION_MARKER

    persona, model = prepared.persona, prepared.model
    sent = str(prepared.request.messages[0].get("content", "")) if prepared.request.messages else ""
    window = f"{model.name}'s {model.context_window:,}-token context window"
    if TRUNCATION_MARKER in sent and TRUNCATION_MARKER not in persona.system:
        share = max(1, round(100 * len(sent) / max(len(persona.system), 1)))
        return [
            f"persona '{persona.id}' has a system message of {len(persona.system):,} characters that does "
            f"not fit {window}: only about {share} % of it is sent (its start and end). Shorten "
            f"{persona.source.name}, or see `support-console personas check`."
        ]
    return [
        f"the customer's message does not fit {window} beside the persona's instructions: it is cut, "
        "keeping its start and end."
    ]


def report_text(report: TrimReport) -> str:
    """The token report in one or two lines: what fits, what was left out."""
    text = (
        f"Tokens: prompt {report.prompt_tokens} of a {report.budget}-token budget "
        f"(context window {report.context_window}, up to {report.reply_tokens} for the reply); "
        f"{report.kept} message(s) kept, {report.dropped} older left out"
    )
    if report.truncated:
        text += "; one message was truncated to fit"
    return text + "."


def dry_run_dict(prepared: PreparedDraft) -> dict[str, Any]:
    return {
        "dry_run": True,
        "persona": prepared.persona.id,
        "model": asdict(prepared.model),
        "request": prepared.request.to_dict(),
        "report": report_dict(prepared.report),
        "warnings": [*trim_warnings(prepared), *prepared.notices],
        "language": prepared.language,
        "counts_exact": prepared.counts_exact,
    }


def dry_run_text(prepared: PreparedDraft) -> str:
    """The exact request body (as JSON, since that is what would be sent) and the token report."""
    model = prepared.model
    return "\n".join(
        [
            "Dry run: no reply was asked of the model and nothing was stored (a compatible server may have "
            "been asked its window and its token counts).",
            f"Persona: {prepared.persona.id} ({prepared.persona.name})",
            f"Model: {model.name} (family {model.family}, {model.encoding}, "
            f"context window {model.context_window}{_window_origin(model)})",
            report_text(prepared.report)
            + (
                ""
                if prepared.counts_exact
                else " (Estimated with tiktoken: the server's tokenizer may differ.)"
            ),
            *(f"Warning: {warning}" for warning in [*trim_warnings(prepared), *prepared.notices]),
            "Request:",
            to_json(prepared.request.to_dict()),
        ]
    )


def _window_origin(model: ModelInfo) -> str:
    """Where the window figure comes from, when it is not the published one."""
    words = {
        "assumed": ", UNKNOWN: assumed",
        "config": ", from the config file",
        "server": ", as the server reports it",
        "overflow": ", as the server's overflow error named it",
    }
    return words.get(model.window_source, "")


def usage_dict(result: StreamResult | None) -> dict[str, int] | None:
    if result is None or result.usage is None:
        return None
    return asdict(result.usage)


def draft_dict(
    prepared: PreparedDraft,
    *,
    draft_id: int | None,
    customer: Customer,
    text: str,
    result: StreamResult | None,
    error: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The one JSON object of ``draft --json``: the draft, how it was made, and an error when it failed."""
    data: dict[str, Any] = {
        "draft_id": draft_id,
        "conversation_id": prepared.conversation_id,
        "customer": customer.email,
        "persona": prepared.persona.id,
        "model": (result.served_model if result else None) or prepared.model.name,
        "text": text,
        "refusal": bool(result and result.refusal and not result.text.strip()),
        "finish_reason": result.finish_reason if result else None,
        "usage": usage_dict(result),
        "report": report_dict(prepared.report),
        "warnings": trim_warnings(prepared),
        "state": "draft",
    }
    if error is not None:
        data["error"] = dict(error)
    return data


class DraftOutput:
    """Where a streaming draft goes: its text to stdout as it arrives, or one JSON object at the end (--json);
    what happened to it (saved, failed, stopped) as one line on stderr."""

    def __init__(self, prepared: PreparedDraft, customer: Customer, *, as_json: bool) -> None:
        self.prepared, self.customer, self.as_json = prepared, customer, as_json
        self.received: list[str] = []
        self.refusal: list[str] = []

    def write(self, event: StreamEvent) -> None:
        """Show a piece of the reply as it arrives; a refusal is kept apart (it is not a reply)."""
        from support_console.llm.types import RefusalDelta

        if isinstance(event, RefusalDelta):
            self.refusal.append(event.text)
            return
        self.received.append(event.text)
        if not self.as_json:
            sys.stdout.write(escaped(event.text))
            sys.stdout.flush()

    def refused(self, drafter: Drafter) -> None:
        """The model refused: the refusal is stored as the draft (marked) and told on stderr, not stdout."""
        refusal = "".join(self.refusal)
        self._close(drafter, {"kind": "refused", "message": REFUSAL_NOTE}, text=refusal)
        print(
            f"error: the model refused to write this reply ({one_line(refusal)!r}). "
            f"Draft #{drafter.draft_id} keeps the refusal unsent, marked as one: write the reply in the "
            "console or draft again with another persona.",
            file=sys.stderr,
        )

    def done(self, drafter: Drafter) -> None:
        self._close(drafter, None)
        print(draft_notice(drafter, self.prepared, self.customer), file=sys.stderr)

    def failed(self, drafter: Drafter, kind: str, message: str) -> None:
        self._close(drafter, {"kind": kind, "message": message})
        kept = f" The partial draft #{drafter.draft_id} is kept unsent." if self._text().strip() else ""
        print(f"error: {one_line(message)}{kept}", file=sys.stderr)

    def stopped(self, drafter: Drafter) -> None:
        self._close(drafter, {"kind": "stopped", "message": "stopped with Ctrl+C"})
        if drafter.draft_id is None:
            print("stopped before the model wrote anything: no draft was saved.", file=sys.stderr)
        else:
            print(f"stopped: the partial draft #{drafter.draft_id} is kept unsent.", file=sys.stderr)

    def _text(self) -> str:
        return "".join(self.received)

    def _close(self, drafter: Drafter, error: Mapping[str, Any] | None, text: str | None = None) -> None:
        if self.as_json:
            data = draft_dict(
                self.prepared, draft_id=drafter.draft_id, customer=self.customer,
                text=self._text() if text is None else text, result=drafter.result, error=error,
            )  # fmt: skip
            print(to_json(data))
        elif self.received:
            print()


def draft_notice(drafter: Drafter, prepared: PreparedDraft, customer: Customer) -> str:
    """The stderr line after a draft: where it is, that it is unsent, and anything odd about how it ended."""
    result = drafter.result
    model = (result.served_model if result else None) or prepared.model.name
    lines = [
        f"Draft #{drafter.draft_id} for {customer.email} (persona {prepared.persona.id}, model {model}) is "
        "saved unsent and awaits approval: open the console (run `support-console`) and select the customer "
        "to review it."
    ]
    if result is not None and result.refusal and not result.text.strip():
        lines.append("The model refused to write this reply: edit the draft by hand or try another persona.")
    elif result is not None and result.finish_reason == "length":
        from support_console.workflows.drafting import MAX_TOKENS_CUT_ADVICE, WINDOW_CUT_ADVICE

        lines.append(WINDOW_CUT_ADVICE if drafter.cut_by_window else MAX_TOKENS_CUT_ADVICE)
    lines.extend(f"Warning: {warning}" for warning in drafter.warnings)
    return "\n".join(lines)
