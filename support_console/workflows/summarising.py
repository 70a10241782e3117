"""Summarising a conversation for a hand-over: the request, its trimming, streaming it and keeping it.

Why the same trimming as drafts: a summary reads what a draft would read (customer messages and sent replies,
``history.reaches_model``), through :func:`core.trimming.build_messages`, so it fits the model's window to the
token and costs only what it keeps, however long the conversation (benchmarks/bench_summary_request.py).
The history goes as the usual user/assistant turns, then one more user message asks for the summary
(:data:`SUMMARY_REQUEST`); its cost is reserved as extra margin before trimming, so the request still fits.

Why stored as a generation: a summary is a request to the model like any other, with a model, tokens and a
finish reason for the audit trail; its text is the generation's ``output_text`` (it goes into no draft), and
the newest message it read is its ``covers_message_id``, so the store can say when it is stale
(``store/insight.py``). It is saved as it streams (every ``save_every`` seconds) so a crash keeps it.
Nothing here sends on its own: :meth:`Summariser.prepare` only builds the request.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Final

from support_console.core.errors import SupportConsoleError
from support_console.core.languages import language_name
from support_console.core.model_facts import ModelInfo, chat_format
from support_console.core.personas import Persona
from support_console.core.tokens import ChatMessage, count_text
from support_console.core.trimming import BudgetAware, HistoryItem, SizedHistory, TrimReport, build_messages
from support_console.core.vocabulary import GENERATION_SUMMARY, ROLE_NOTE
from support_console.llm import ChatRequest, StreamEvent, StreamResult, make_request
from support_console.workflows.drafting import Drafter
from support_console.workflows.outputs import OutputStream, Target

if TYPE_CHECKING:
    from support_console.workflows.services import Services

SUMMARY_MAX_TOKENS: Final = 500
"""Room for the summary: four short sections fit well within it, and it keeps the history's share large."""
MARGIN: Final = 64  # as for drafts (build_messages' default)

SUMMARY_SYSTEM: Final = (
    "You summarise a customer-support conversation for the support agent who takes it over. The messages "
    "that follow are the conversation: the user turns are the customer's messages, the assistant turns are "
    "the replies the support team sent. Do not reply to the customer and do not write a draft. Report only "
    "what the messages say; never invent order numbers, dates, prices, policies or promises."
)
SUMMARY_REQUEST: Final = (
    "Summarise the conversation above for a hand-over to another support agent, in {language}, under "
    "exactly these four headings, each followed by one to three short lines:\n"
    "Intent: what the customer wants.\n"
    "What happened: the main facts and steps so far.\n"
    "Promised: what the support team promised or committed to (or 'nothing').\n"
    "Open questions: what is still unanswered or must be done next (or 'none')."
)
NOTE_HEADING: Final = "Summary for hand-over"


class NothingToSummarise(SupportConsoleError):
    """The conversation has no message that a summary reads (internal notes are not read)."""


@dataclass(frozen=True)
class PreparedSummary:
    """A summary request ready to send, with the trim report and the newest message it reads."""

    conversation_id: int
    persona: Persona
    model: ModelInfo
    request: ChatRequest
    report: TrimReport
    covers_message_id: int | None  # the newest message that reaches the model, read now


class _Newest:
    """The store's history, newest first, remembering the first item's id: the newest message the summary
    covers, read in the same pass (and snapshot) as the trimming, at no extra query."""

    def __init__(self, history: SizedHistory) -> None:
        self._history = history
        self.newest_id: int | None = None

    def expect_tokens(self, tokens: int) -> None:
        if isinstance(self._history, BudgetAware):
            self._history.expect_tokens(tokens)

    def __iter__(self) -> Iterator[HistoryItem]:
        first = True
        for item in self._history:
            if first:
                self.newest_id, first = item.message_id, False
            yield item

    def __len__(self) -> int:
        return len(self._history)


def summary_request_text(agent_language: str) -> str:
    """The closing user message, asking for the summary in the agent's language."""
    return SUMMARY_REQUEST.format(language=language_name(agent_language))


def build_summary_messages(
    history: SizedHistory, model: ModelInfo, agent_language: str
) -> tuple[list[ChatMessage], TrimReport, int | None]:
    """The summary's messages (system, the trimmed history, the request), the trim report counting the
    request too, and the newest message id read. Pure: no store, no settings (the benchmark times it)."""
    ask = summary_request_text(agent_language)
    fmt = chat_format(model)
    ask_cost = fmt.tokens_per_message + count_text("user", model.encoding) + count_text(ask, model.encoding)
    newest = _Newest(history)
    messages, report = build_messages(
        SUMMARY_SYSTEM, newest, model, SUMMARY_MAX_TOKENS, margin=MARGIN + ask_cost
    )
    messages.append({"role": "user", "content": ask})
    report = replace(report, prompt_tokens=report.prompt_tokens + ask_cost, budget=report.budget + ask_cost)
    return messages, report, newest.newest_id


class Summariser:
    """Prepares and streams one conversation's summary; its saves run in order on ``saves`` (the draft
    session's queue in the console), else on a thread of its own (``workflows/outputs.py``). After
    :meth:`stream`, :attr:`text`, :attr:`result` and :attr:`generation_id` say what came and where it is
    stored."""

    def __init__(self, services: Services, *, saves: Executor | None = None) -> None:
        self._services = services
        self._output = OutputStream(services, saves=saves)

    @property
    def text(self) -> str:
        return self._output.text

    @property
    def result(self) -> StreamResult | None:
        return self._output.result

    @property
    def generation_id(self) -> int | None:
        return self._output.generation_id

    def prepare(self, conversation_id: int, persona_id: str) -> PreparedSummary:
        """Build the trimmed summary request (blocking: reads the history); sends nothing."""
        services = self._services
        persona = services.personas.get(persona_id)
        model = Drafter(services).resolve_model(persona)
        history = services.store.history_newest_first(conversation_id, model.encoding)
        messages, report, newest = build_summary_messages(history, model, services.settings.agent_language)
        if newest is None:
            raise NothingToSummarise(
                "There is nothing to summarise yet: the conversation has no customer message or sent reply."
            )
        params = replace(persona.params, max_tokens=SUMMARY_MAX_TOKENS, temperature=0.0)
        explicit = services.settings.provider.kind == "compatible"
        request = make_request(model, messages, params, explicit=explicit)
        return PreparedSummary(conversation_id, persona, model, request, report, newest)

    def stream(
        self, prepared: PreparedSummary, *, agent: str | None = None, save_every: float = 0.5
    ) -> AsyncGenerator[StreamEvent, None]:
        """Send the request and yield the deltas; stored as it grows, with the newest message it read."""
        target = Target(
            prepared.conversation_id, GENERATION_SUMMARY, prepared.persona.id, prepared.model.name,
            agent=agent, covers_message_id=prepared.covers_message_id,
        )  # fmt: skip
        return self._output.stream(prepared.request, target, save_every=save_every)


def summary_note(text: str) -> str:
    """The internal note a summary becomes for a hand-over (notes never reach the model or the customer)."""
    return f"{NOTE_HEADING}:\n{text.strip()}"


def add_summary_note(services: Services, conversation_id: int, text: str) -> int:
    """Add the summary as an internal note (blocking); returns the note's id."""
    message = services.store.add_message(conversation_id, ROLE_NOTE, summary_note(text))
    assert message.id is not None
    return message.id


__all__ = [
    "SUMMARY_MAX_TOKENS",
    "SUMMARY_REQUEST",
    "SUMMARY_SYSTEM",
    "NothingToSummarise",
    "PreparedSummary",
    "Summariser",
    "add_summary_note",
    "build_summary_messages",
    "summary_note",
    "summary_request_text",
]
