"""How to configure a provider: the text of the no-provider screen and of ``support-console config``.

Plain text, no markup. It describes a :class:`~support_console.config.settings.Settings` without ever showing
a key.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from support_console.core.urls import safe_db_url

if TYPE_CHECKING:
    from support_console.config.settings import Settings


def config_help_text(settings: Settings) -> str:
    """How to configure a provider, for the no-provider screen and ``support-console config``.

    Plain text (no markup). The example file is kept valid by a test that loads it with load_settings.
    """
    status = settings.provider.describe()
    todo = settings.provider.missing()
    status_lines = [f"Current provider: {status}."] + [f"  - To do: {item}." for item in todo]
    return "\n".join(
        [
            *status_lines,
            "",
            "support-console talks to OpenAI, Azure OpenAI or any OpenAI-compatible server (vLLM,",
            "llama.cpp, Ollama, LM Studio). Configure one with environment variables or the config file;",
            "command-line flags (--provider, --model, --base-url, --azure-endpoint, --deployment,",
            "--api-version) win over both.",
            "",
            "OpenAI:",
            "  export OPENAI_API_KEY=...            (your key from platform.openai.com)",
            "  export OPENAI_MODEL=gpt-4o-mini      (or set model in a persona file)",
            "",
            "Azure OpenAI:",
            "  export AZURE_OPENAI_ENDPOINT=https://YOUR-RESOURCE.openai.azure.com",
            '  export AZURE_OPENAI_API_KEY=...      (or azure_auth = "entra" to sign in with Entra ID;',
            "                                        needs: pip install 'support-console[entra]')",
            "  export AZURE_OPENAI_DEPLOYMENT=YOUR-DEPLOYMENT",
            "  export OPENAI_API_VERSION=2024-10-21 (optional: unset, or v1, uses the /openai/v1 API)",
            "",
            "OpenAI-compatible server (a key is optional):",
            "  export OPENAI_BASE_URL=http://localhost:8000/v1",
            "  export OPENAI_MODEL=YOUR-MODEL",
            "",
            "Also: SUPPORT_CONSOLE_PROVIDER (openai, azure or compatible) picks one when several are set;",
            "SUPPORT_CONSOLE_DB (a file path) or DATABASE_URL sets the database (now: "
            f"{safe_db_url(settings.db_url)});",
            "SUPPORT_CONSOLE_CONFIG points at another config file.",
            "",
            f"Config file: {settings.config_path}"
            + ("" if settings.config_path.is_file() else " (not created yet)"),
            "Example (every section is optional):",
            "",
            EXAMPLE_CONFIG,
        ]
    )


EXAMPLE_CONFIG = """\
[provider]
kind = "azure"                 # "openai", "azure" or "compatible"
azure_endpoint = "https://YOUR-RESOURCE.openai.azure.com"
deployment = "YOUR-DEPLOYMENT"
api_version = "2024-10-21"
azure_auth = "key"             # "key" (AZURE_OPENAI_API_KEY) or "entra"
# model = "gpt-4o-mini"        # for openai / compatible
# base_url = "http://localhost:8000/v1"   # for compatible
# api_key = "..."              # better in the environment; never shown or stored
first_token_timeout = 30       # seconds until the reply's first words, every attempt included
stall_timeout = 20             # seconds without new text (keep-alives do not count) before giving up
total_timeout = 180            # seconds for a whole reply
max_retries = 2                # retries of a quick failure (refused connection, 429, 5xx)

[models."YOUR-DEPLOYMENT"]     # model facts for a name the console does not know
family = "gpt-4o"
context_window = 128000
max_output_tokens = 16384

[agent]
name = "Your Name"             # recorded as the approver of sent replies (else $USER; else asked once)
language = "en"                # the language you read: drafts for customers writing another are written
                               # in theirs, and ctrl+F2 translates a draft into yours to read it

[clipboard]                    # how an approved reply reaches your clipboard (else OSC 52 via the terminal)
# command = "xclip -selection clipboard"   # gets the reply on stdin; else wl-copy, xclip or pbcopy on PATH
# file = "~/last-reply.txt"    # where "Write the last reply to a file" writes (default: the data directory)

[keys]                         # rebind actions: binding id = key(s)
generate = "ctrl+g"

[store]
url = "~/support-console.db"   # a file path or a database URL

[personas]
dirs = ["~/team-personas"]     # extra persona folders; later ones override earlier ones
"""
