"""Settings: where the model provider, the database, the personas and the key bindings come from.

Built once by :func:`load_settings` and passed in, so no module reads the environment on its own and tests can
build hermetic settings from a plain mapping. Precedence per value: CLI flag > environment > config file >
default. An API key may come from the environment or the config file; it is kept out of ``repr()``,
:meth:`ProviderSettings.describe`, every error message and :func:`config_help_text`.
"""

from __future__ import annotations

import json
import math
import os
import shlex
import shutil
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast, get_args

import platformdirs

from support_console.config.help import EXAMPLE_CONFIG as EXAMPLE_CONFIG
from support_console.config.help import config_help_text as config_help_text
from support_console.core.errors import ConfigError
from support_console.core.model_facts import ModelOverride
from support_console.core.urls import safe_db_url, safe_url, sqlite_url, url_problem

ProviderKind = Literal["openai", "azure", "compatible"]
AzureAuth = Literal["key", "entra"]
APP_NAME = "support-console"
PROVIDER_KINDS: tuple[str, ...] = get_args(ProviderKind)
_BY_PERSONA = "(chosen by the persona)"


@dataclass(frozen=True)
class ProviderSettings:
    """Everything the model client needs to reach one provider; ``kind=None`` means none is configured."""

    kind: ProviderKind | None
    model: str | None = None
    base_url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    azure_endpoint: str | None = None
    azure_deployment: str | None = None
    api_version: str | None = None
    azure_auth: AzureAuth = "key"
    # How long a reply may take (seconds; see llm/limits.py). Retries happen inside first_token_timeout.
    first_token_timeout: float = 30.0  # from sending until the first text, every attempt included
    stall_timeout: float = 20.0  # longest gap between two pieces of text once the reply has begun
    total_timeout: float = 180.0  # the whole reply, from sending to the last word
    max_retries: int = 2  # extra attempts after a quick failure (connection refused, 429, 5xx)

    @property
    def configured(self) -> bool:
        """True when the client can make a request (a persona may still supply the model or deployment)."""
        return self.kind is not None and not self.missing()

    @property
    def model_name(self) -> str | None:
        """What identifies the model in a request: the deployment for Azure, else the model name."""
        if self.kind == "azure":
            return self.azure_deployment or self.model
        return self.model

    def missing(self) -> list[str]:
        """What still has to be set before requests can work, as instructions; empty when ready."""
        if self.kind is None:
            return ["choose a provider: set OPENAI_API_KEY, AZURE_OPENAI_ENDPOINT or OPENAI_BASE_URL"]
        if self.kind == "openai" and not self.api_key:
            return ["set OPENAI_API_KEY (or api_key under [provider] in the config file)"]
        if self.kind == "compatible" and not self.base_url:
            return ["set OPENAI_BASE_URL or --base-url to the server's URL, e.g. http://localhost:8000/v1"]
        needs = []
        if self.kind == "azure" and not self.azure_endpoint:
            needs.append("set AZURE_OPENAI_ENDPOINT or --azure-endpoint, e.g. https://NAME.openai.azure.com")
        if self.kind == "azure" and self.azure_auth == "key" and not self.api_key:
            needs.append('set AZURE_OPENAI_API_KEY, or azure_auth = "entra" under [provider] for Entra ID')
        return needs

    def describe(self) -> str:
        """One line for people: which provider, model and address — never the key."""
        model = self.model_name or _BY_PERSONA
        if self.kind is None:
            return "No model provider configured"
        if self.kind == "openai":
            return f"OpenAI model {model}"
        if self.kind == "compatible":
            return f"OpenAI-compatible server at {safe_url(self.base_url)}, model {model}"
        extras = [f"api-version {self.api_version}"] if self.api_version else []
        if self.azure_auth == "entra":
            extras.append("Entra ID sign-in")
        tail = f" ({', '.join(extras)})" if extras else ""
        return f"Azure OpenAI deployment {model} at {safe_url(self.azure_endpoint)}{tail}"


DEFAULT_BUSY_TIMEOUT = 30.0
"""Seconds a write waits while another program (an import, a second console) holds the database's write lock.
Generous on purpose: a queued write is a short pause, a failed one is work the agent must redo."""


AgentSource = Literal["config", "environment", "unset"]

COPY_COMMANDS: tuple[tuple[str, ...], ...] = (
    ("wl-copy",),
    ("xclip", "-selection", "clipboard"),
    ("pbcopy",),
)
"""Copy commands tried in this order when ``[clipboard] command`` is not set: the first found on PATH."""


@dataclass(frozen=True)
class ClipboardSettings:
    """How an approved reply reaches the agent's clipboard, besides the terminal's OSC 52 (which tmux and
    many terminals drop without a word)."""

    command: tuple[str, ...] | None = None  # argv; the reply goes to its stdin
    command_source: str = ""  # "[clipboard] command" or "found on PATH", for the agent's messages
    file: Path | None = None  # where "write the last reply to a file" writes; None: the data dir's
    editor: tuple[str, ...] | None = None  # $VISUAL or $EDITOR, split as a shell would

    @property
    def command_name(self) -> str:
        return Path(self.command[0]).name if self.command else ""


@dataclass(frozen=True)
class Settings:
    """The resolved configuration; immutable so the CLI, the services and the UI can share it."""

    provider: ProviderSettings
    db_url: str  # may hold a database password: shown only through urls.safe_db_url (see __repr__)
    config_path: Path
    persona_dirs: tuple[Path, ...]
    model_overrides: Mapping[str, ModelOverride]
    keys: Mapping[str, str]
    agent_name: str  # "" when unset: the console asks once and saves it under [agent]
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT  # seconds a write waits for another program's lock ([store])
    agent_source: AgentSource = "config"
    clipboard: ClipboardSettings = field(default_factory=ClipboardSettings)
    tool_dirs: tuple[Path, ...] = ()  # user rewrite-tool dirs, later ones override; bundled dir is implicit
    agent_language: str = "en"  # the language the agent reads ([agent] language): drafts for customers who
    # write another are written in theirs, with a translation into this one to read (core/languages.py)
    macro_dirs: tuple[Path, ...] = ()  # user canned-reply (macro) dirs, the same way

    def __repr__(self) -> str:
        """The dataclass repr, with the database URL's password masked (repr reaches logs and tracebacks)."""
        shown = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "db_url"}
        parts = [f"{name}={value!r}" for name, value in shown.items()]
        return f"Settings(db_url={safe_db_url(self.db_url)!r}, {', '.join(parts)})"


@dataclass(frozen=True)
class CliOverrides:
    """Command-line flags; None means "not given", so lower layers decide."""

    provider: ProviderKind | None = None
    model: str | None = None
    base_url: str | None = None
    azure_endpoint: str | None = None
    deployment: str | None = None
    api_version: str | None = None
    db: str | None = None
    personas: Path | None = None
    config: Path | None = None


def default_config_path() -> Path:
    """The platform's per-user config file (e.g. ~/.config/support-console/config.toml on Linux)."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml"


def default_persona_dir() -> Path:
    """Where a user's own persona files live; the config file and --personas can add more."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / "personas"


def default_tools_dir() -> Path:
    """Where a user's own rewrite-tool files live: beside their personas folder."""
    return default_persona_dir().parent / "tools"


def default_macros_dir() -> Path:
    """Where a user's own canned replies (macros) live: beside their personas folder."""
    return default_persona_dir().parent / "macros"


def default_db_url() -> str:
    """A SQLite file in the platform's per-user data directory."""
    return sqlite_url(Path(platformdirs.user_data_dir(APP_NAME)) / "support-console.db")


def load_settings(overrides: CliOverrides | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Resolve settings from flags, environment, config file and defaults; a ConfigError says what to fix.

    ``env`` defaults to ``os.environ``; pass a mapping for hermetic tests. Empty variables count as unset.
    """
    cli = overrides or CliOverrides()
    environ = {k: v for k, v in (os.environ if env is None else env).items() if v.strip()}
    path, source = _config_location(cli, environ)
    if source and not path.is_file():
        raise ConfigError(
            f"The config file {path} (from {source}) does not exist: create it, or fix the path."
        )
    file = _read_config_file(path) if path.is_file() else _FileConfig()
    agent_name, agent_source = _agent(environ, file)
    return Settings(
        provider=_provider(cli, environ, file),
        db_url=_db_url(cli, environ, file),
        config_path=path,
        persona_dirs=_persona_dirs(cli, file),
        model_overrides=MappingProxyType(file.models),
        keys=MappingProxyType(file.keys),
        agent_name=agent_name,
        agent_source=agent_source,
        busy_timeout=DEFAULT_BUSY_TIMEOUT if file.busy_timeout is None else file.busy_timeout,
        clipboard=_clipboard(environ, file),
        tool_dirs=(default_tools_dir(),),
        agent_language=file.agent_language or "en",
        macro_dirs=(default_macros_dir(),),
    )


def _agent(environ: Mapping[str, str], file: _FileConfig) -> tuple[str, AgentSource]:
    """Who approves replies: ``[agent] name``, else the login name, else nobody yet (the console asks)."""
    if file.agent_name:
        return file.agent_name.strip(), "config"
    login = (environ.get("USER") or environ.get("USERNAME") or "").strip()
    return (login, "environment") if login else ("", "unset")


def _clipboard(environ: Mapping[str, str], file: _FileConfig) -> ClipboardSettings:
    """The copy command (the config's, else the first known one on PATH), the reply file, the editor."""
    editor_text = environ.get("VISUAL") or environ.get("EDITOR")
    editor = tuple(shlex.split(editor_text)) if editor_text else None
    command: tuple[str, ...] | None = file.clipboard_command
    source = "[clipboard] command" if command else ""
    if command is None:
        path = environ.get("PATH", "")
        for candidate in COPY_COMMANDS:
            found = shutil.which(candidate[0], path=path)
            if found:
                command, source = (found, *candidate[1:]), "found on PATH"
                break
    return ClipboardSettings(command, source, file.clipboard_file, editor or None)


def save_agent_name(path: Path, name: str) -> None:
    """Write ``[agent] name`` into the config file (created if missing), keeping everything else as it is.

    Asked once on the first run, so the console knows who approves replies from then on."""
    name = name.strip()
    if not name:
        raise ConfigError("The name is empty: type the name recorded as the approver of your replies.")
    line = f"name = {json.dumps(name, ensure_ascii=False)}\n"
    try:
        text = path.read_text(encoding="utf-8") if path.is_file() else ""
        lines = text.splitlines(keepends=True)
        header = next((i for i, x in enumerate(lines) if x.strip() == "[agent]"), None)
        if header is None:
            gap = "" if not text else ("\n" if text.endswith("\n") else "\n\n")
            text = f"{text}{gap}[agent]\n{line}"
        else:
            end = next((i for i in range(header + 1, len(lines)) if lines[i].lstrip().startswith("[")), None)
            section = range(header + 1, len(lines) if end is None else end)
            named = next((i for i in section if lines[i].split("=")[0].strip() == "name"), None)
            if named is None:
                lines.insert(header + 1, line)
            else:
                lines[named] = line  # a new name replaces the old one (asked again from the palette)
            text = "".join(lines)
        tomllib.loads(text)  # never leave a file the next start cannot read
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(
            f"{path}: could not save [agent] name ({exc.__class__.__name__}): add it there by hand."
        ) from exc


def _config_location(cli: CliOverrides, environ: Mapping[str, str]) -> tuple[Path, str | None]:
    if cli.config is not None:
        return cli.config.expanduser().resolve(), "--config"
    if "SUPPORT_CONSOLE_CONFIG" in environ:
        return Path(environ["SUPPORT_CONSOLE_CONFIG"]).expanduser().resolve(), "SUPPORT_CONSOLE_CONFIG"
    return default_config_path(), None


def _provider(cli: CliOverrides, environ: Mapping[str, str], file: _FileConfig) -> ProviderSettings:
    p = file.provider

    def pick(flag: str | None, var: str, key: str) -> str | None:
        if flag:
            return flag
        return environ.get(var) or cast("str | None", p.get(key))

    kind = _kind(cli, environ, p)
    api_key = environ.get("AZURE_OPENAI_API_KEY" if kind == "azure" else "OPENAI_API_KEY")
    return ProviderSettings(
        kind=kind,
        model=pick(cli.model, "OPENAI_MODEL", "model"),
        base_url=_env_url(
            pick(cli.base_url, "OPENAI_BASE_URL", "base_url"), "base URL (OPENAI_BASE_URL / --base-url)"
        ),
        api_key=api_key or cast("str | None", p.get("api_key")),
        azure_endpoint=_env_url(
            pick(cli.azure_endpoint, "AZURE_OPENAI_ENDPOINT", "azure_endpoint"),
            "endpoint (AZURE_OPENAI_ENDPOINT / --azure-endpoint)",
        ),
        azure_deployment=pick(cli.deployment, "AZURE_OPENAI_DEPLOYMENT", "deployment"),
        api_version=pick(cli.api_version, "OPENAI_API_VERSION", "api_version"),
        azure_auth=cast(AzureAuth, p.get("azure_auth", "key")),
        max_retries=cast(int, p.get("max_retries", ProviderSettings.max_retries)),
        **_deadlines(p),
    )


def _deadlines(p: Mapping[str, object]) -> dict[str, float]:
    """The three reply deadlines from [provider]; ``timeout`` is the older name of first_token_timeout."""
    names = ("first_token_timeout", "stall_timeout", "total_timeout")
    values = {name: float(cast(float, p.get(name, getattr(ProviderSettings, name)))) for name in names}
    if "first_token_timeout" not in p and "timeout" in p:
        values["first_token_timeout"] = float(cast(float, p["timeout"]))
    return values


def _kind(cli: CliOverrides, environ: Mapping[str, str], p: Mapping[str, object]) -> ProviderKind | None:
    """An explicit kind wins (flag > env > file); else infer from the highest layer that hints at one."""
    if cli.provider is not None:
        return _valid_kind(cli.provider, "--provider")
    if "SUPPORT_CONSOLE_PROVIDER" in environ:
        return _valid_kind(environ["SUPPORT_CONSOLE_PROVIDER"], "SUPPORT_CONSOLE_PROVIDER")
    if "kind" in p:
        return cast(ProviderKind, p["kind"])
    layers = [
        (cli.azure_endpoint, cli.base_url, None),
        (environ.get("AZURE_OPENAI_ENDPOINT"), environ.get("OPENAI_BASE_URL"), environ.get("OPENAI_API_KEY")),
        (p.get("azure_endpoint"), p.get("base_url"), p.get("api_key")),
    ]
    for azure, base_url, key in layers:
        if azure:
            return "azure"
        if base_url:
            return "compatible"
        if key:
            return "openai"
    return None


def _valid_kind(value: str, source: str) -> ProviderKind:
    kind = value.strip().lower()
    if kind not in PROVIDER_KINDS:
        raise ConfigError(f"{source}={value!r} is not a provider: use one of {', '.join(PROVIDER_KINDS)}.")
    return cast(ProviderKind, kind)


def _env_url(value: str | None, what: str) -> str | None:
    """Flags and variables are checked here; config-file URLs were checked (naming the key) when read."""
    problem = url_problem(value) if value else None
    if problem:
        raise ConfigError(f"The {what} {safe_url(value)!r} {problem}.")
    return value


def _db_url(cli: CliOverrides, environ: Mapping[str, str], file: _FileConfig) -> str:
    if cli.db:
        return _as_db_url(cli.db, "--db")
    if "SUPPORT_CONSOLE_DB" in environ:
        return sqlite_url(Path(environ["SUPPORT_CONSOLE_DB"]))
    if "DATABASE_URL" in environ:
        return _as_db_url(environ["DATABASE_URL"], "DATABASE_URL")
    return file.store_url or default_db_url()


def _as_db_url(value: str, source: str) -> str:
    """A value with a scheme is an SQLAlchemy URL (never echoed: it may hold a password); else a file path."""
    if "://" not in value:
        return sqlite_url(Path(value))
    from sqlalchemy.engine import make_url  # a parser only: no engine is created

    try:
        make_url(value)
    except Exception as exc:  # SQLAlchemy raises ArgumentError or ValueError depending on the defect
        raise ConfigError(
            f"{source} is not a valid database URL: use a file path or e.g. sqlite:////abs/path/support-console.db"
        ) from exc
    return value


def _persona_dirs(cli: CliOverrides, file: _FileConfig) -> tuple[Path, ...]:
    """Default user dir, then the config file's dirs, then --personas: later ones override earlier ones."""
    dirs = [default_persona_dir(), *file.persona_dirs]
    if cli.personas is not None:
        chosen = cli.personas.expanduser()
        if not chosen.is_dir():
            raise ConfigError(
                f"--personas {chosen} is not a folder: point it at a folder of persona .toml files."
            )
        dirs.append(chosen)
    return tuple(dict.fromkeys(dirs))


# --- the config file ---------------------------------------------------------------------------------------


@dataclass
class _FileConfig:
    """The config file's content, validated; absent values are left out so lower layers can decide."""

    provider: dict[str, object] = field(default_factory=dict)
    models: dict[str, ModelOverride] = field(default_factory=dict)
    keys: dict[str, str] = field(default_factory=dict)
    agent_name: str | None = None
    agent_language: str | None = None
    clipboard_command: tuple[str, ...] | None = None
    clipboard_file: Path | None = None
    store_url: str | None = None
    busy_timeout: float | None = None
    persona_dirs: list[Path] = field(default_factory=list)


class _Bad(Exception):
    """A value in the config file is unusable; the message says what is expected."""


Check = Callable[[object], object]


def _language(value: object) -> str:
    """A language code such as "en" or "pt-br" (core/languages.normalise_code says what is accepted)."""
    from support_console.core.languages import normalise_code

    code = normalise_code(_text(value))
    if code is None:
        raise _Bad(f'expected a language code such as "en" or "de", got {value!r}')
    return code


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise _Bad(f"expected a string in quotes, got {type(value).__name__}")
    if not value.strip():
        raise _Bad("is empty: give a value or remove the line")
    return value


def _secret(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _Bad("expected the key as a non-empty string in quotes (its value is not shown here)")
    return value


def _url(value: object) -> str:
    text = _text(value)
    problem = url_problem(text)
    if problem:
        raise _Bad(f"{safe_url(text)!r} {problem}")
    return text


def _choice(*options: str) -> Check:
    def check(value: object) -> str:
        if value not in options:
            raise _Bad(f"expected one of {', '.join(repr(o) for o in options)}, got {value!r}")
        return str(value)

    return check


def _number(minimum: float, integer: bool = False) -> Check:
    def check(value: object) -> object:
        ok_type = int if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, ok_type) or not math.isfinite(value):
            raise _Bad(f"expected {'a whole number' if integer else 'a number'}, got {value!r}")
        if value < minimum:
            raise _Bad(f"must be at least {minimum:g}, got {value!r}")
        return value

    return check


def _key_list(value: object) -> str:
    """Binding keys: "ctrl+g", or a list meaning any of them (comma-joined, as Textual expects)."""
    if isinstance(value, list) and value:
        return ",".join(_text(item) for item in value)
    return _text(value)


_PROVIDER_KEYS: dict[str, Check] = {
    "kind": _choice(*PROVIDER_KINDS),
    "model": _text,
    "base_url": _url,
    "api_key": _secret,
    "azure_endpoint": _url,
    "deployment": _text,
    "api_version": _text,
    "azure_auth": _choice("key", "entra"),
    "first_token_timeout": _number(0.001),
    "stall_timeout": _number(0.001),
    "total_timeout": _number(0.001),
    "timeout": _number(0.001),  # the older name of first_token_timeout
    "max_retries": _number(0, integer=True),
}
_MODEL_KEYS: dict[str, Check] = {
    "family": _text,
    "encoding": _text,
    "context_window": _number(1, integer=True),
    "max_output_tokens": _number(1, integer=True),
}
_SECTIONS = ("provider", "models", "keys", "agent", "clipboard", "store", "personas")


def _command(value: object) -> tuple[str, ...]:
    """A command: "xclip -selection clipboard" (split as a shell would) or a list of its words."""
    words = [_text(item) for item in value] if isinstance(value, list) else shlex.split(_text(value))
    if not words:
        raise _Bad("is empty: give a command or remove the line")
    return tuple(words)


def _read_config_file(path: Path) -> _FileConfig:
    """Parse and validate the whole file so one error names the file, the key and the fix."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}. Fix the syntax there and try again.") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the file ({exc.__class__.__name__}): check it.") from exc
    where = "top level"
    try:
        for name in data:
            if name not in _SECTIONS:
                where = name
                raise _Bad(f"unknown section: the sections are {', '.join(f'[{s}]' for s in _SECTIONS)}")
        result = _FileConfig()
        where = "[provider]"
        result.provider = _table(data.get("provider", {}), _PROVIDER_KEYS, "[provider]")
        _check_deadlines(result.provider)
        for name, table in _section(data, "models").items():
            where = f'[models."{name}"]'
            result.models[name] = ModelOverride(**cast(dict[str, Any], _table(table, _MODEL_KEYS, where)))
        for binding, keys in _section(data, "keys").items():
            where = f"[keys] {binding}"
            result.keys[binding] = _key_list(keys)
        where = "[agent]"
        agent = _table(data.get("agent", {}), {"name": _text, "language": _language}, where)
        result.agent_name = cast("str | None", agent.get("name"))
        result.agent_language = cast("str | None", agent.get("language"))
        where = "[clipboard]"
        clipboard = _table(data.get("clipboard", {}), {"command": _command, "file": _text}, where)
        result.clipboard_command = cast("tuple[str, ...] | None", clipboard.get("command"))
        if "file" in clipboard:
            result.clipboard_file = _relative_to(path, cast(str, clipboard["file"]))
        where = "[store]"
        store = _table(data.get("store", {}), {"url": _text, "busy_timeout": _number(0.0)}, where)
        if "url" in store:
            result.store_url = _store_url(cast(str, store["url"]), path)
        if "busy_timeout" in store:
            result.busy_timeout = float(cast(float, store["busy_timeout"]))
        where = "[personas] dirs"
        dirs = _section(data, "personas").get("dirs", [])
        result.persona_dirs = [_relative_to(path, _text(d)) for d in _list(dirs)]
    except _Bad as exc:
        raise ConfigError(f"{path}: {where}: {exc}. Fix it there and try again.") from None
    return result


def _check_deadlines(provider: Mapping[str, object]) -> None:
    """The overall deadline must leave room for the others, or they could never fire."""
    deadlines = _deadlines(provider)
    total = deadlines["total_timeout"]
    for name in ("first_token_timeout", "stall_timeout"):
        if deadlines[name] > total:
            shown = "timeout" if name not in provider and "timeout" in provider else name
            raise _Bad(
                f"{shown} ({deadlines[name]:g} s) is longer than total_timeout ({total:g} s), the limit "
                "for a whole reply: lower it or raise total_timeout"
            )


def _section(data: Mapping[str, object], name: str) -> dict[str, object]:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise _Bad(f"[{name}] must be a table (a [{name}] header), not a plain value")
    return value


def _list(value: object) -> list[object]:
    if not isinstance(value, list):
        raise _Bad(f'expected a list of strings, e.g. ["~/personas"], got {type(value).__name__}')
    return value


def _table(value: object, checks: Mapping[str, Check], where: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise _Bad(f"{where} must be a table")
    out: dict[str, object] = {}
    for key, item in value.items():
        if key not in checks:
            raise _Bad(f"unknown key {key!r}: the known keys are {', '.join(checks)}")
        try:
            out[key] = checks[key](item)
        except _Bad as exc:
            raise _Bad(f"{key}: {exc}") from None
    return out


def _relative_to(config_path: Path, value: str) -> Path:
    """Relative paths in the config file are relative to the file, not to wherever the console starts."""
    path = Path(value).expanduser()
    return path if path.is_absolute() else (config_path.parent / path).resolve()


def _store_url(value: str, config_path: Path) -> str:
    if "://" in value:
        try:
            return _as_db_url(value, "url")
        except ConfigError:
            raise _Bad("url: not a valid database URL: use a file path or sqlite:////abs/path/x.db") from None
    return sqlite_url(_relative_to(config_path, value))
