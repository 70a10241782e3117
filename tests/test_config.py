"""Settings from real files in tmp_path: precedence, inference, validation, and keys kept secret."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import platformdirs
import pytest

from support_console.config.settings import (
    EXAMPLE_CONFIG,
    CliOverrides,
    ProviderSettings,
    Settings,
    config_help_text,
    default_config_path,
    load_settings,
)
from support_console.core.errors import ConfigError
from support_console.core.model_facts import ModelOverride

SECRET = "sk-TESTSECRET-9f8e7d6c5b4a"


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point platformdirs at tmp_path (Linux honours XDG) so nothing reads the real user's config."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))


def write_config(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(config: Path | None = None, env: dict[str, str] | None = None, **flags: object) -> Settings:
    return load_settings(CliOverrides(config=config, **flags), env=env or {})  # type: ignore[arg-type]


def test_defaults_without_config_or_env_leave_the_provider_unconfigured() -> None:
    settings = load_settings(env={"USER": "ana"})
    assert settings.provider == ProviderSettings(kind=None)
    assert not settings.provider.configured
    assert settings.provider.describe() == "No model provider configured"
    assert settings.config_path == default_config_path()
    data_dir = Path(platformdirs.user_data_dir("support-console"))
    assert settings.db_url == f"sqlite:///{data_dir.resolve() / 'support-console.db'}"
    assert settings.persona_dirs == (Path(platformdirs.user_config_dir("support-console")) / "personas",)
    assert settings.agent_name == "ana"
    assert dict(settings.keys) == {}
    assert dict(settings.model_overrides) == {}


@pytest.mark.skipif(sys.platform != "linux", reason="XDG directories are a Linux convention")
def test_default_paths_follow_the_platform_directories(tmp_path: Path) -> None:
    settings = load_settings(env={})
    assert settings.config_path == tmp_path / "xdg-config" / "support-console" / "config.toml"
    assert settings.db_url == f"sqlite:///{tmp_path / 'xdg-data' / 'support-console' / 'support-console.db'}"
    assert settings.agent_name == ""  # nobody yet: the console asks once (never an agent called "agent")
    assert settings.agent_source == "unset"


def test_default_config_file_is_read_when_present(tmp_path: Path) -> None:
    default_config_path().parent.mkdir(parents=True)
    default_config_path().write_text('[agent]\nname = "From Default File"\n', encoding="utf-8")
    assert load_settings(env={}).agent_name == "From Default File"


FIELD_SOURCES = [
    # (settings attribute, config key, env var, CLI flag)
    ("model", "model", "OPENAI_MODEL", "model"),
    ("base_url", "base_url", "OPENAI_BASE_URL", "base_url"),
    ("azure_endpoint", "azure_endpoint", "AZURE_OPENAI_ENDPOINT", "azure_endpoint"),
    ("azure_deployment", "deployment", "AZURE_OPENAI_DEPLOYMENT", "deployment"),
    ("api_version", "api_version", "OPENAI_API_VERSION", "api_version"),
]


@pytest.mark.parametrize(("attr", "key", "var", "flag"), FIELD_SOURCES)
def test_precedence_is_flag_then_env_then_file(
    tmp_path: Path, attr: str, key: str, var: str, flag: str
) -> None:
    def value(source: str) -> str:
        return f"https://{source}.example.com/v1" if "url" in key or "endpoint" in key else f"{source}-value"

    config = write_config(tmp_path, f'[provider]\nkind = "openai"\n{key} = "{value("file")}"\n')
    env = {var: value("env")}
    assert getattr(load(config, env, **{flag: value("cli")}).provider, attr) == value("cli")
    assert getattr(load(config, env).provider, attr) == value("env")
    assert getattr(load(config).provider, attr) == value("file")
    assert getattr(load(write_config(tmp_path, "")).provider, attr) is None


def test_database_precedence_and_forms(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[store]\nurl = "data/file.db"\n')
    env = {"SUPPORT_CONSOLE_DB": str(tmp_path / "env.db"), "DATABASE_URL": "sqlite:////srv/url.db"}
    assert load(config, env, db=str(tmp_path / "cli.db")).db_url == f"sqlite:///{tmp_path / 'cli.db'}"
    assert load(config, env, db="sqlite:////srv/cli-url.db").db_url == "sqlite:////srv/cli-url.db"
    assert load(config, env).db_url == f"sqlite:///{tmp_path / 'env.db'}"
    assert load(config, {"DATABASE_URL": "sqlite:////srv/url.db"}).db_url == "sqlite:////srv/url.db"
    # A relative path in the config file is relative to the file, not to the working directory.
    assert load(config).db_url == f"sqlite:///{tmp_path / 'data' / 'file.db'}"


def test_invalid_database_url_is_rejected_without_echoing_it() -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL is not a valid database URL") as info:
        load(env={"DATABASE_URL": "postgresql://user:hunter2@db:notaport/x"})
    assert "hunter2" not in str(info.value)


@pytest.mark.parametrize(
    ("env", "config", "flags", "kind"),
    [
        ({}, "", {}, None),
        ({"OPENAI_API_KEY": SECRET}, "", {}, "openai"),
        ({"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"}, "", {}, "compatible"),
        ({"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com"}, "", {}, "azure"),
        ({"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com", "OPENAI_API_KEY": SECRET}, "", {}, "azure"),
        ({"OPENAI_BASE_URL": "http://h:1/v1", "OPENAI_API_KEY": SECRET}, "", {}, "compatible"),
        # an explicit kind wins over every hint, whichever layer it comes from
        (
            {"AZURE_OPENAI_ENDPOINT": "https://r.openai.azure.com"},
            '[provider]\nkind = "openai"',
            {},
            "openai",
        ),
        ({"SUPPORT_CONSOLE_PROVIDER": "Compatible"}, '[provider]\nkind = "openai"', {}, "compatible"),
        ({"SUPPORT_CONSOLE_PROVIDER": "azure"}, "", {"provider": "openai"}, "openai"),
        # a hint from a higher layer beats one from a lower layer
        ({"OPENAI_API_KEY": SECRET}, "", {"base_url": "http://127.0.0.1:9/v1"}, "compatible"),
        (
            {"OPENAI_BASE_URL": "http://h:1/v1"},
            '[provider]\nazure_endpoint = "https://r.azure.com"',
            {},
            "compatible",
        ),
        ({}, f'[provider]\napi_key = "{SECRET}"', {}, "openai"),
    ],
)
def test_provider_kind_inference(
    tmp_path: Path, env: dict[str, str], config: str, flags: dict[str, str], kind: str | None
) -> None:
    assert load(write_config(tmp_path, config), env, **flags).provider.kind == kind


def test_compatible_server_needs_no_key(tmp_path: Path) -> None:
    provider = load(env={"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1", "OPENAI_MODEL": "llama3"}).provider
    assert provider.configured
    assert provider.api_key is None
    assert provider.describe() == "OpenAI-compatible server at http://127.0.0.1:8000/v1, model llama3"


def test_azure_key_comes_from_its_own_variable_and_entra_needs_none(tmp_path: Path) -> None:
    env = {"AZURE_OPENAI_ENDPOINT": "https://res.openai.azure.com", "OPENAI_API_KEY": "sk-not-for-azure"}
    provider = load(env=env, deployment="prod-chat").provider
    assert provider.api_key is None
    assert not provider.configured
    assert any("AZURE_OPENAI_API_KEY" in item for item in provider.missing())
    provider = load(env={**env, "AZURE_OPENAI_API_KEY": SECRET}, deployment="prod-chat").provider
    assert provider.api_key == SECRET
    assert provider.configured
    assert provider.model_name == "prod-chat"
    entra = load(write_config(tmp_path, '[provider]\nazure_auth = "entra"\n'), env).provider
    assert entra.configured
    assert entra.api_key is None
    assert "Entra ID" in entra.describe()


def test_openai_without_key_is_not_configured_and_says_what_to_set() -> None:
    provider = load(provider="openai").provider
    assert provider.kind == "openai"
    assert not provider.configured
    assert provider.missing() == ["set OPENAI_API_KEY (or api_key under [provider] in the config file)"]


def test_empty_environment_variables_count_as_unset(tmp_path: Path) -> None:
    config = write_config(tmp_path, '[provider]\nmodel = "file-model"\nkind = "openai"\n')
    assert load(config, {"OPENAI_MODEL": "", "SUPPORT_CONSOLE_PROVIDER": "  "}).provider.model == "file-model"


def test_full_config_file_sections(tmp_path: Path) -> None:
    (tmp_path / "team").mkdir()
    config = write_config(
        tmp_path,
        """
[provider]
kind = "compatible"
base_url = "http://127.0.0.1:8000/v1"
model = "qwen"
timeout = 12.5
max_retries = 0

[models."qwen"]
family = "gpt-4o"
context_window = 32768
max_output_tokens = 4096

[models."legacy"]
encoding = "cl100k_base"

[keys]
generate = "ctrl+g"
approve = ["ctrl+enter", "f9"]

[agent]
name = "Ana Lima"

[personas]
dirs = ["team", "/abs/shared"]
""",
    )
    settings = load(config, {"USER": "ignored"})
    assert settings.provider.first_token_timeout == 12.5  # timeout: the older name
    assert settings.provider.max_retries == 0
    assert settings.model_overrides == {
        "qwen": ModelOverride(family="gpt-4o", context_window=32768, max_output_tokens=4096),
        "legacy": ModelOverride(encoding="cl100k_base"),
    }
    assert settings.keys == {"generate": "ctrl+g", "approve": "ctrl+enter,f9"}
    assert settings.agent_name == "Ana Lima"
    assert settings.persona_dirs[1:] == (tmp_path / "team", Path("/abs/shared"))


def test_reply_deadlines_have_defaults_an_agent_accepts_and_can_be_set(tmp_path: Path) -> None:
    defaults = load_settings(env={}).provider
    assert (defaults.first_token_timeout, defaults.stall_timeout, defaults.total_timeout) == (30, 20, 180)
    assert defaults.max_retries == 2
    config = write_config(
        tmp_path,
        "[provider]\nfirst_token_timeout = 5\nstall_timeout = 2.5\ntotal_timeout = 60\ntimeout = 9\n",
    )
    provider = load(config).provider
    assert (provider.first_token_timeout, provider.stall_timeout, provider.total_timeout) == (5, 2.5, 60)
    old_name = load(write_config(tmp_path, "[provider]\ntimeout = 12\n")).provider
    assert old_name.first_token_timeout == 12  # files written for the former single timeout keep working


def test_cli_personas_dir_comes_last_and_must_exist(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    assert load(personas=mine).persona_dirs[-1] == mine
    with pytest.raises(ConfigError, match=r"--personas .*nowhere is not a folder"):
        load(personas=tmp_path / "nowhere")


def test_settings_are_immutable(tmp_path: Path) -> None:
    settings = load(write_config(tmp_path, '[keys]\ngenerate = "g"\n'))
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.agent_name = "someone else"  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.keys["generate"] = "x"  # type: ignore[index]


def test_explicit_config_path_must_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match=r"nope\.toml \(from --config\) does not exist"):
        load(missing)
    with pytest.raises(ConfigError, match=r"nope\.toml \(from SUPPORT_CONSOLE_CONFIG\) does not exist"):
        load(env={"SUPPORT_CONSOLE_CONFIG": str(missing)})


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write_config(tmp_path, '[agent]\nname = "Env File"\n')
    settings = load(env={"SUPPORT_CONSOLE_CONFIG": str(path)})
    assert settings.config_path == path
    assert settings.agent_name == "Env File"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[provider]\nmodel = "gpt-4o"\nkind = \ntimeout = 5\n',
            "line 3",
        ),  # TOML syntax, with the line number
        ('[provider]\nmodle = "gpt-4o"\n', "[provider]: unknown key 'modle'"),
        ('[provder]\nmodel = "gpt-4o"\n', "provder: unknown section"),
        ('[provider]\ntimeout = "fast"\n', "[provider]: timeout: expected a number, got 'fast'"),
        ("[provider]\ntimeout = 0\n", "timeout: must be at least"),
        ("[provider]\ntimeout = inf\n", "timeout: expected a number, got inf"),
        ("[provider]\nmax_retries = 1.5\n", "max_retries: expected a whole number"),
        ('[provider]\nstall_timeout = "slow"\n', "stall_timeout: expected a number, got 'slow'"),
        ("[provider]\nfirst_token_timeout = -1\n", "first_token_timeout: must be at least"),
        ("[provider]\ntotal_timeout = nan\n", "total_timeout: expected a number, got nan"),
        (
            "[provider]\nfirst_token_timeout = 400\n",
            "first_token_timeout (400 s) is longer than total_timeout (180 s)",
        ),
        ("[provider]\ntimeout = 60\ntotal_timeout = 30\n", "timeout (60 s) is longer than total_timeout"),
        ("[provider]\nstall_timeout = 50\ntotal_timeout = 40\n", "stall_timeout (50 s) is longer than"),
        ('[provider]\nkind = "anthropic"\n', "kind: expected one of 'openai', 'azure', 'compatible'"),
        ('[provider]\nazure_auth = "password"\n', "azure_auth: expected one of 'key', 'entra'"),
        ('[provider]\nbase_url = "localhost:8000/v1"\n', "base_url: 'localhost:8000/v1' is not a URL"),
        ('[provider]\nmodel = ""\n', "model: is empty"),
        ('[models."x"]\ncontext_window = "big"\n', '[models."x"]: context_window: expected a whole number'),
        ('[models."x"]\nwindow = 5\n', "[models.\"x\"]: unknown key 'window'"),
        ("[keys]\ngenerate = 5\n", "[keys] generate: expected a string"),
        ("[agent]\nname = 5\n", "[agent]: name: expected a string"),
        ('[store]\nurl = "postgresql://u:p@h:x/db"\n', "[store]: url: not a valid database URL"),
        ('[personas]\ndirs = "one"\n', "[personas] dirs: expected a list of strings"),
        ('provider = "openai"\n', "[provider] must be a table"),
    ],
)
def test_malformed_config_names_file_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write_config(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(path)
    message = str(info.value)
    assert str(path) in message
    assert expected in message
    assert "Fix" in message  # says what to do


def test_invalid_kind_and_urls_from_environment_and_flags() -> None:
    with pytest.raises(ConfigError, match="SUPPORT_CONSOLE_PROVIDER='claude' is not a provider"):
        load(env={"SUPPORT_CONSOLE_PROVIDER": "claude"})
    with pytest.raises(ConfigError, match="must start with http:// or https://"):
        load(env={"OPENAI_BASE_URL": "127.0.0.1:8000"})
    with pytest.raises(ConfigError, match=r"endpoint \(AZURE_OPENAI_ENDPOINT / --azure-endpoint\) 'ftp://x'"):
        load(azure_endpoint="ftp://x")
    with pytest.raises(ConfigError, match="must start with http"):
        load(base_url="http://[::1")


def test_api_key_never_appears_in_repr_describe_help_or_errors(tmp_path: Path) -> None:
    for kind_line in ('kind = "openai"', 'kind = "azure"\nazure_endpoint = "https://r.openai.azure.com"'):
        config = write_config(tmp_path, f'[provider]\n{kind_line}\napi_key = "{SECRET}"\n')
        settings = load(config)
        assert settings.provider.api_key == SECRET
        for text in (repr(settings), str(settings), settings.provider.describe(), config_help_text(settings)):
            assert SECRET not in text
    settings = load(env={"OPENAI_API_KEY": SECRET})
    assert SECRET not in repr(settings) + config_help_text(settings)
    broken_files = [
        f'[provider]\napi_key = "{SECRET}"\ntimeout = "x"\n',  # an error elsewhere in a file holding the key
        f"[provider]\napi_key = {SECRET}\n",  # a TOML syntax error on the key's own line
        f'[provider]\napi_key = ["{SECRET}"]\n',  # a wrong type for the key
        f'[provider]\napi_key = "{SECRET}"\n[bogus]\n',
    ]
    for text in broken_files:
        with pytest.raises(ConfigError) as info:
            load(write_config(tmp_path, text))
        assert SECRET not in str(info.value)
        assert "api_key" in str(info.value) or "line" in str(info.value) or "bogus" in str(info.value)


def test_a_database_password_is_never_shown(tmp_path: Path) -> None:
    settings = load(env={"DATABASE_URL": f"postgresql://support:{SECRET}@db.internal/console"})
    assert settings.db_url == f"postgresql://support:{SECRET}@db.internal/console"  # used as given
    for text in (repr(settings), str(settings), config_help_text(settings)):
        assert SECRET not in text
    assert "postgresql://support:***@db.internal/console" in repr(settings)


def test_describe_hides_credentials_in_urls() -> None:
    provider = ProviderSettings(kind="azure", azure_endpoint="https://u:pw@r.openai.azure.com/?sig=abc",
                                azure_deployment="d", api_version="2024-10-21")  # fmt: skip
    text = provider.describe()
    assert text == "Azure OpenAI deployment d at https://r.openai.azure.com/ (api-version 2024-10-21)"


def test_help_text_names_the_real_config_path_and_its_example_is_valid(tmp_path: Path) -> None:
    settings = load_settings(env={})
    text = config_help_text(settings)
    assert f"Config file: {settings.config_path} (not created yet)" in text
    variables = (
        "OPENAI_API_KEY OPENAI_MODEL OPENAI_BASE_URL AZURE_OPENAI_ENDPOINT AZURE_OPENAI_API_KEY "
        "AZURE_OPENAI_DEPLOYMENT OPENAI_API_VERSION SUPPORT_CONSOLE_PROVIDER SUPPORT_CONSOLE_DB DATABASE_URL "
        "SUPPORT_CONSOLE_CONFIG"
    )
    for var in variables.split():
        assert var in text
    assert "To do: choose a provider" in text
    assert EXAMPLE_CONFIG in text
    example = load(write_config(tmp_path, EXAMPLE_CONFIG))
    assert example.provider.kind == "azure"
    assert example.provider.azure_deployment == "YOUR-DEPLOYMENT"
    assert example.model_overrides["YOUR-DEPLOYMENT"].context_window == 128000
    assert example.agent_name == "Your Name"
    assert example.keys == {"generate": "ctrl+g"}
    assert (example.provider.first_token_timeout, example.provider.stall_timeout) == (30, 20)
    assert example.provider.total_timeout == 180
