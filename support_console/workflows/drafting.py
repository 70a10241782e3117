"""The drafting workflow shared by the CLI and the UI: record, prepare, stream and save as it grows.

Why one module: what reaches the model (which persona, which model, which part of the history) and how a draft
is kept safe while it streams must be the same whether the agent works in the console or in a script. Nothing
here sends anything to the model on its own: :meth:`Drafter.prepare` only builds the request, and only
:meth:`Drafter.stream`, called by the agent's action, sends it. The streamed text is saved as an unsent
``draft`` every ``save_every`` seconds, so a crash or a dropped connection loses at most that much, and
nothing counts as sent until the agent approves it in the console. Saves run off the event loop and the
stream never waits for them (another program holding the database's write lock delays a save, not the text).
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import aclosing, suppress
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from support_console.config.settings import ProviderSettings
from support_console.core.errors import ConfigError, SupportConsoleError
from support_console.core.model_facts import (
    UNKNOWN_FAMILY,
    ModelInfo,
    reply_cut_by_window,
    resolve_model,
    window_advice,
)
from support_console.core.personas import Persona, PersonaSet
from support_console.core.tokens import ChatMessage, count_text
from support_console.core.trimming import BudgetAware, HistoryItem, SizedHistory, TrimReport, build_messages
from support_console.core.vocabulary import REFUSAL_NOTE, ROLE_CUSTOMER, STATE_DRAFT, STOPPED_NOTE
from support_console.llm import (
    ChatRequest,
    ErrorKind,
    LLMError,
    RefusalDelta,
    RequestFit,
    StreamEvent,
    StreamResult,
    make_request,
)
from support_console.store.first_page import name_from_email
from support_console.workflows.languages import (
    DETECTION_MESSAGES,
    draft_language,
    language_instruction,
    language_notice,
)
from support_console.workflows.server_facts import (
    name_warning,
    persona_dropped_warning,
    persona_lost_warning,
    window_caveat,
)

if TYPE_CHECKING:
    from support_console.store import Customer, CustomerRecord, Store
    from support_console.workflows.services import Services

DEFAULT_PERSONA_ID = "tech-support"
"""The persona used when neither trigger phrases nor the conversation choose one (else the first persona)."""

NO_CONVERSATION = 0
"""``PreparedDraft.conversation_id`` of a preview for a customer without a conversation (ids start at 1)."""

_RETRY_WINDOW = 20  # recent messages scanned for the same customer message (failed drafts sit on top of it)

SAVED_CHARS_PER_SECOND = 2_000_000
"""How fast the growing draft's saves may rewrite text: a save rewrites the whole text and its search index
(about 50-80 ms per MB on a shared 2-core machine), so the interval grows with the text (0.5 s up to 1 MB,
2.5 s at 5 MB) and the saving thread stays mostly idle however long the reply; a crash loses at most one
interval. Ordinary replies (the client caps them near their max_tokens) never reach it."""


@dataclass(frozen=True)
class PreparedDraft:
    """A request ready to send, with what the agent needs to judge it (persona, model, trim report)."""

    conversation_id: int
    persona: Persona
    model: ModelInfo
    request: ChatRequest
    report: TrimReport
    notices: tuple[str, ...] = ()  # what the agent should know before sending (an unknown window, a bad name)
    counts_exact: bool = True  # False: tiktoken's estimate of another tokenizer (an unknown or local model)
    language: str | None = None  # the customer's language when the draft is asked in it (not the agent's)
    macro_id: str | None = None  # the canned reply the model was given as guidance (its generation names it)
    basis_event_id: int | None = None  # the newest event before the history was read (the send-time guard)


def customer_values(customer: Customer | CustomerRecord) -> dict[str, str]:
    """The values a persona's system message (or a canned reply) may use: the built-ins plus the customer's
    own attributes.

    Attributes come first so a stray attribute called ``name`` cannot hide the customer's real name.
    """
    values = {str(k): str(v) for k, v in (customer.attributes or {}).items()}
    values.update(name=customer.name, email=customer.email, external_id=customer.external_id or "")
    return values


def new_customer_values(email: str, name: str | None = None) -> dict[str, str]:
    """The persona values for a customer not stored yet (a dry run for a new email)."""
    return {"name": name or name_from_email(email), "email": email, "external_id": ""}


def record_customer_message(store: Store, customer_id: int, text: str, persona_id: str) -> int:
    """Add the customer's message to their current conversation (opening one if needed) and remember the
    persona chosen for it; returns the conversation id.

    Drafting again after a failure (bad key, dropped stream) must not record the same message twice, so when
    the newest message that is not a draft is this very customer message, it is not added again.
    """
    conversation = store.current_conversation(customer_id, persona_id)
    assert conversation.id is not None  # stored rows always have an id
    if conversation.persona_id != persona_id:
        store.set_persona(conversation.id, persona_id)
    recent = store.page_messages(conversation.id, limit=_RETRY_WINDOW)
    last = next((m for m in reversed(recent) if m.state != STATE_DRAFT), None)
    if last is None or last.role != ROLE_CUSTOMER or last.text != text:
        store.add_message(conversation.id, ROLE_CUSTOMER, text)
    return conversation.id


def no_provider_message(provider: ProviderSettings) -> str:
    """Why nothing can be drafted yet, and what to set."""
    return (
        f"No model provider is ready: {'; '.join(provider.missing())}. Run `support-console config` for how "
        "to configure one."
    )


def choose_persona(
    personas: PersonaSet, text: str, *, requested: str | None = None, conversation_persona: str | None = None
) -> Persona:
    """Pick the persona for a draft: the one asked for, else by trigger phrases in the customer's message,
    else the conversation's, else the default one, else the first.

    Raises ``PersonaError`` for an unknown ``requested`` id (naming the known ids), and ``ConfigError`` when
    there are no personas at all.
    """
    if requested:
        return personas.get(requested)
    suggested = personas.suggest(text)
    if suggested is not None:
        return suggested
    for persona_id in (conversation_persona, DEFAULT_PERSONA_ID):
        if persona_id and persona_id in personas.personas:
            return personas.personas[persona_id]
    ordered = personas.ordered()
    if not ordered:
        raise ConfigError(
            "No personas are available. Add a persona file (*.toml) to a persona directory "
            "(--personas DIR) or run `support-console personas check` to see why they failed to load."
        )
    return ordered[0]


def model_name_for(persona: Persona, provider: ProviderSettings) -> str:
    """The model (or Azure deployment) a persona drafts with: the persona's override, else the provider's.

    Azure addresses deployments, OpenAI and compatible servers address models, so each looks at its own field;
    with no provider configured (a dry run) whichever the persona or the provider names is used.
    """
    candidates: tuple[str | None, ...]
    if provider.kind == "azure":
        candidates = (persona.deployment, provider.azure_deployment, provider.model)
    elif provider.kind is None:
        candidates = (persona.model, persona.deployment, provider.model_name, provider.model)
    else:
        candidates = (persona.model, provider.model)
    for name in candidates:
        if name:
            return name
    raise ConfigError(
        f"No model is set for persona '{persona.id}'. Pass --model (or --deployment for Azure), set "
        "`model` under [provider] in the config file, or give the persona a model."
    )


class Drafter:
    """Prepares and streams drafts for conversations in the store; one instance per draft in flight.

    After :meth:`stream` ends (and :meth:`settled`), :attr:`draft_id` is the stored draft and :attr:`result`
    what the model returned (``None`` when the stream failed or was stopped). Saves run on ``saves`` (an
    executor that runs one task at a time, in order: a caller with other store work for the same draft passes
    its own, so that work queues behind the saves), else on a thread of the Drafter's own.
    """

    def __init__(
        self, services: Services, *, saves: Executor | None = None, author: str | None = None
    ) -> None:
        self._services = services
        self._author = author  # the agent whose draft it is (team mode: their own pending draft)
        self._saves = saves  # None: the Drafter runs its saves on a thread of its own, per stream
        self._own_saves: ThreadPoolExecutor | None = None
        self._final: Future[None] | None = None
        self.draft_id: int | None = None
        self.saved_text = ""  # what the store holds for draft_id (after the last save that succeeded)
        self.result: StreamResult | None = None
        self.unsaved: Callable[[], None] | None = None
        self.generation_id: int | None = None  # the last stream's record (store.start_generation)
        #: The last stream produced no text and wrote no draft: a regeneration left the draft it was to
        #: replace exactly as it was, a new draft stopped before any text was not created.
        self.wrote_nothing = False
        self.outcome: ErrorKind | None = None  # how the last stream ended: None for a complete reply
        self.cut_by_window = False  # the reply stopped at the context window, not at the persona's max_tokens
        self.warnings: list[str] = []  # after a reply: what looked wrong (the persona not reaching the model)
        self._offered: tuple[str, ...] = ()
        self._window_detail = ""  # which endpoint said the window (server_facts.Learned.detail)

    # -- preparing -------------------------------------------------------------------------------------------

    def resolve_model(self, persona: Persona) -> ModelInfo:
        """The model facts for the model this persona drafts with, honouring ``[models]`` overrides and what
        the service said it served for that name before (an Azure deployment's real model)."""
        settings = self._services.settings
        name = model_name_for(persona, settings.provider)
        store = self._services.store
        served = store.served_model_for(name)
        learned = self._services.server_knowledge.learned(store, name)  # may ask the server, once
        self._offered, self._window_detail = learned.offered, learned.detail
        return resolve_model(
            name,
            settings.model_overrides,
            served_model=served,
            learned_window=learned.context_window,
            learned_source=learned.source or "server",
        )

    def prepare(
        self, conversation_id: int, persona_id: str, guidance: tuple[str, str] | None = None
    ) -> PreparedDraft:
        """Build the trimmed request for the conversation as stored; sends nothing. ``guidance`` is a canned
        reply's id and the words that give it to the model (workflows/canned.py), added after the persona's
        system message: the draft adapts that reply, and its generation names it."""
        store = self._services.store
        conversation = store.get_conversation(conversation_id)
        customer = store.get_customer(conversation.customer_id)
        persona = self._services.personas.get(persona_id)
        model = self.resolve_model(persona)
        basis = store.latest_event_id()  # before the history: whatever comes after it, the draft did not see
        history = store.history_newest_first(conversation_id, model.encoding)
        page = store.page_messages(conversation_id, limit=DETECTION_MESSAGES)
        texts = [m.text for m in reversed(page) if m.role == ROLE_CUSTOMER]
        values = customer_values(customer)
        if guidance is None:
            prepared = self._build(conversation_id, values, persona, model, history, texts)
            return replace(prepared, basis_event_id=basis)
        prepared = self._build(conversation_id, values, persona, model, history, texts, guidance[1])
        return replace(prepared, macro_id=guidance[0], basis_event_id=basis)

    def preview(
        self,
        values: Mapping[str, str],
        persona_id: str,
        pending_text: str,
        conversation_id: int | None = None,
    ) -> PreparedDraft:
        """Build the request as if ``pending_text`` had been recorded as the customer's newest message,
        without writing anything (the CLI's ``--dry-run``); ``conversation_id`` None means a new conversation.
        """
        persona = self._services.personas.get(persona_id)
        model = self.resolve_model(persona)
        pending = HistoryItem(None, "user", pending_text, count_text(pending_text, model.encoding))
        stored: SizedHistory = ()
        texts = [pending_text]
        if conversation_id is not None:
            stored = self._services.store.history_newest_first(conversation_id, model.encoding)
            page = self._services.store.page_messages(conversation_id, limit=DETECTION_MESSAGES)
            texts += [m.text for m in reversed(page) if m.role == ROLE_CUSTOMER]
        history = _Prepended(pending, stored)
        return self._build(conversation_id or NO_CONVERSATION, values, persona, model, history, texts)

    def _build(
        self,
        conversation_id: int,
        values: Mapping[str, str],
        persona: Persona,
        model: ModelInfo,
        history: Iterable[HistoryItem],
        customer_texts: Sequence[str] = (),
        guidance: str = "",
    ) -> PreparedDraft:
        system = persona.render_system(values)
        if guidance:  # after the persona's message, never filled again (one pass)
            system = f"{system}\n\n{guidance}"
        language = draft_language(values, customer_texts, self._services.settings.agent_language)
        if language is not None:  # before trimming, so the instruction's tokens are counted with the rest
            system += language_instruction(language)
        max_tokens = persona.params.max_tokens
        messages, report, counted = self._trim(system, history, model, max_tokens)
        explicit = self._services.settings.provider.kind == "compatible"
        request = make_request(model, messages, persona.params, explicit=explicit)
        fit = RequestFit(report.prompt_tokens, report.reply_tokens, model.context_window, model.window_known)
        request = replace(request, fit=fit)
        notices = [] if model.window_known else [window_advice(model) + "."]
        if model.window_source == "server" and (caveat := window_caveat(model, self._window_detail)):
            notices.append(caveat)
        if (unlisted := name_warning(model.name, self._offered)) is not None:
            notices.append(unlisted)
        knowledge = self._services.server_knowledge
        if knowledge.keeps_system(model.name) is False and (lost := persona_dropped_warning(system, model)):
            notices.append(lost)  # known before sending (the server's counts): said now, not after the reply
            knowledge.first_warning(model.name)
        if language is not None:
            notices.append(language_notice(language, self._services.settings.agent_language))
        # Exact: a known family counted by its own encoding; a server that reports its own window is a
        # local one whose tokenizer tiktoken only estimates (whatever name it serves under).
        exact = counted or (model.family != UNKNOWN_FAMILY and model.window_source in ("published", "config"))
        return PreparedDraft(
            conversation_id, persona, model, request, report, tuple(notices), exact, language
        )

    def _trim(
        self, system: str, history: Iterable[HistoryItem], model: ModelInfo, max_tokens: int
    ) -> tuple[list[ChatMessage], TrimReport, bool]:
        """The history trimmed to fit, with the margin the server's counts showed it needs; where the server
        counts with its own tokenizer (vLLM, llama-server, llama-cpp-python) the report carries its count,
        and a request it counts past the room beside the reply is trimmed again with the difference as extra
        margin (once).
        Returns the messages, the report and whether its count is the server's."""
        knowledge = self._services.server_knowledge
        margin = knowledge.margin(model.name, model.context_window, max_tokens)
        messages, report = build_messages(system, history, model, max_tokens, margin=margin)
        theirs = knowledge.server_count(model.name, messages)
        if theirs is not None and theirs > model.context_window - max_tokens:
            margin += theirs - report.prompt_tokens + 16
            messages, report = build_messages(system, history, model, max_tokens, margin=margin)
            theirs = knowledge.server_count(model.name, messages)
        if theirs is None:
            return messages, report, False
        return messages, replace(report, prompt_tokens=theirs), True

    # -- streaming -------------------------------------------------------------------------------------------

    async def stream(
        self,
        prepared: PreparedDraft,
        *,
        draft_id: int | None = None,
        save_every: float = 0.5,
        settle: bool = True,
    ) -> AsyncGenerator[StreamEvent, None]:
        """Send the request and yield the model's deltas, saving the growing draft as it goes.

        The draft is saved at most every ``save_every`` seconds (longer for a huge text: see
        :data:`SAVED_CHARS_PER_SECOND`) and once at the end (with finish reason, usage and the served model);
        the text of a save is joined by the saving thread, not the event loop. Saves run on the ``saves``
        executor, one at a time and in order, and the stream never waits for them: a save that waits for
        another program's write lock holds up neither the deltas nor the event loop (while one save runs, one
        more may wait behind it; a save due beyond that is skipped, and the next one carries all the text). On
        :class:`LLMError` the partial text is saved with the error and the error is re-raised; when the
        stream is cancelled or closed, what came so far is saved. Close it with ``contextlib.aclosing`` if you
        stop iterating early. Nothing is saved before some text came, and a regeneration (``draft_id``) that
        produced none, failed or stopped, leaves that draft exactly as it was: only its generation record
        ends, with the error (:attr:`wrote_nothing`). The final save keeps the text on the generation too.

        With ``settle`` (the default) the generator ends once the final save is done, and raises what it
        raised (a ``StoreError``); with ``settle=False`` it ends as soon as the model does, and
        :meth:`settled` waits for the final save. Either way a save that failed is kept as :attr:`unsaved`.
        """
        client = self._services.client
        if client is None:
            raise LLMError(
                no_provider_message(self._services.settings.provider), kind=ErrorKind.NOT_CONFIGURED
            )
        if prepared.conversation_id == NO_CONVERSATION:
            raise ValueError(
                "A preview cannot be streamed: record the message and prepare() the conversation."
            )
        self.draft_id, self.result, self.unsaved = draft_id, None, None
        self.generation_id, self.outcome, self.wrote_nothing = None, None, False
        self.cut_by_window, self.warnings = False, []
        self._begin(prepared, draft_id)
        growing = _Growing()
        text = growing.pieces
        refusal: list[str] = []
        chars = 0
        next_save = float("-inf")
        saving: Future[None] | None = None  # the newest save submitted
        waiting: Future[None] | None = None  # the one submitted before it (running, or done)
        try:
            async with aclosing(client.stream(prepared.request)) as events:
                async for event in events:
                    (refusal if isinstance(event, RefusalDelta) else text).append(event.text)
                    chars += len(event.text)
                    now = time.monotonic()
                    if chars and now >= next_save and (waiting is None or waiting.done()):
                        # At most one save waits behind the running one: a save due while the one before it
                        # is still finishing (its row already visible) is queued, not dropped.
                        waiting = saving
                        saving = self._submit(prepared, growing.upto(len(text)) if text else "".join(refusal))
                        next_save = now + max(save_every, chars / SAVED_CHARS_PER_SECOND)
                    yield event
                result = client.last_result  # read at once: the client may serve another draft next
        except LLMError as exc:
            got = client.last_result
            self.outcome = exc.kind
            came = "".join(text) or exc.partial or "".join(refusal)
            facts: dict[str, Any] = {
                "finish_reason": got.finish_reason, "usage": _usage_pair(got), "error": str(exc),
                "error_kind": exc.kind,
            }  # fmt: skip
            learned: dict[str, Any] = {
                "served_model": got.served_model,
                "learned_window": exc.context_window if exc.kind == ErrorKind.CONTEXT_LENGTH else None,
            }
            if came or draft_id is None:  # a new draft that failed at once is kept, empty, with its error
                self._submit(prepared, came, final=True, **facts, **learned)
            else:  # a regeneration that produced nothing: the draft stays exactly as it was
                self._end_without_draft(prepared, facts, **learned)
            if settle:
                await self.settled()
            raise
        except (asyncio.CancelledError, GeneratorExit):
            came = "".join(text) or "".join(refusal)
            self.outcome = ErrorKind.STOPPED
            if came:
                self._submit(prepared, came, error=STOPPED_NOTE, error_kind=ErrorKind.STOPPED, final=True)
            else:  # nothing came: no new empty draft, and a regenerated one stays as it was
                self._end_without_draft(prepared, {"error": STOPPED_NOTE, "error_kind": ErrorKind.STOPPED})
            if settle:
                await self.settled()
            raise
        self._finish(prepared, result)
        if settle:
            await self.settled()

    async def settled(self) -> None:
        """Wait for the saves of the last :meth:`stream`; raises what the final save raised (the draft's text
        is then kept as :attr:`unsaved`, to be saved again with :meth:`save_unsaved`)."""
        final, self._final = self._final, None
        if self._own_saves is not None:
            self._own_saves.shutdown(wait=False)  # queued saves still run; the thread ends after them
            self._own_saves = None
        if final is not None:
            await asyncio.shield(asyncio.wrap_future(final))  # a cancelled caller never drops the save

    def save_unsaved(self) -> None:
        """Save again what the last failed save could not (blocking: call it off the event loop).

        Why: a save refused by the store (the write lock held past the busy timeout, a full disk) must not
        lose the draft's identity or its model facts; whoever holds this Drafter retries it before editing,
        approving or discarding the draft, so the stored draft keeps its model and original text.
        """
        if self.unsaved is not None:
            self.unsaved()

    def _executor(self) -> Executor:
        if self._saves is None and self._own_saves is None:
            self._own_saves = ThreadPoolExecutor(max_workers=1, thread_name_prefix="draft-saves")
        executor = self._saves or self._own_saves
        assert executor is not None
        return executor

    def _submit(self, prepared: PreparedDraft, text: str | Callable[[], str], **facts: Any) -> Future[None]:
        """Queue one save (see :meth:`_save`) on the saves executor; the newest queued save is the final.

        ``text`` may be a function the saving thread calls for the text (the growing draft's join), so that
        joining a long reply never runs on the event loop.
        """
        self._final = self._executor().submit(self._save_text, prepared, text, facts)
        return self._final

    def _save_text(self, prepared: PreparedDraft, text: str | Callable[[], str], facts: Any) -> None:
        body = text if isinstance(text, str) else text()
        self._save_or_keep(functools.partial(self._save, prepared, body, **facts), body)

    def _begin(self, prepared: PreparedDraft, draft_id: int | None) -> None:
        """Queue the generation's own record, ahead of every save of its draft (same executor, in order).

        If the store refuses it, the draft is still saved (without a generation id), as before version 9.
        """

        def start() -> None:
            self.generation_id = self._services.store.start_generation(
                prepared.conversation_id,
                draft_id=draft_id,
                persona_id=prepared.persona.id,
                model=prepared.model.name,
                parameters=prepared.request.params,
                tool_id=prepared.macro_id,
            )

        self._executor().submit(start)

    def _end_without_draft(
        self,
        prepared: PreparedDraft,
        facts: Mapping[str, Any],
        *,
        served_model: str | None = None,
        learned_window: int | None = None,
    ) -> None:
        """Close the generation without saving a draft: no text came (stopped, or failed at once).

        Why no save: a regeneration that produced nothing must not replace the agent's draft with an empty
        one (its text, the model's original and its model facts stay as they were); only the generation
        record says how this attempt ended. What the server taught (its served model, its window) is kept.
        """
        self.wrote_nothing = True

        def end() -> None:
            if self.generation_id is not None:  # first: the record must not stay open for a lesson
                self._services.store.end_generation(self.generation_id, **facts)
            with suppress(SupportConsoleError):  # what the server taught is worth keeping, not a failure
                self._learn(prepared, served_model=served_model, learned_window=learned_window)

        self._final = self._executor().submit(end)

    def _save_or_keep(self, save: Callable[[], None], text: str) -> None:
        """Run ``save`` (of ``text``); when the store refuses it, keep it as :attr:`unsaved` (the newest one
        wins)."""
        try:
            save()
        except SupportConsoleError:
            self.unsaved = functools.partial(self._save_or_keep, save, text)
            raise
        self.unsaved, self.saved_text = None, text

    def _finish(self, prepared: PreparedDraft, result: StreamResult) -> None:
        """Save the complete draft; a refusal is kept as the draft's text and marked, never left empty. A
        regeneration that came back with no text at all saves nothing (:attr:`wrote_nothing`)."""
        self.result = result
        self._judge(prepared, result)
        refused = result.refused
        if refused:
            self.outcome = ErrorKind.REFUSED
        elif result.finish_reason == "content_filter":
            self.outcome = ErrorKind.CONTENT_FILTER
        if self.draft_id is not None and not (result.refusal if refused else result.text):
            # A regeneration that came back empty (a reasoning model that spent max_tokens thinking, a
            # server's empty answer): the draft stays as it was, as when a regeneration fails at once.
            facts = {"finish_reason": result.finish_reason, "usage": _usage_pair(result)}
            self._end_without_draft(
                prepared, facts | {"error_kind": self.outcome}, served_model=result.served_model
            )
            return
        self._submit(
            prepared,
            result.refusal if refused else result.text,
            finish_reason=result.finish_reason,
            usage=_usage_pair(result),
            served_model=result.served_model,
            error=REFUSAL_NOTE if refused else None,
            error_kind=self.outcome,
            final=True,
            counts=(prepared.report.prompt_tokens, result.usage.prompt_tokens) if result.usage else None,
        )

    def _save(
        self,
        prepared: PreparedDraft,
        text: str,
        *,
        finish_reason: str | None = None,
        usage: tuple[int, int] | None = None,
        served_model: str | None = None,
        error: str | None = None,
        error_kind: ErrorKind | None = None,
        final: bool = False,
        learned_window: int | None = None,
        counts: tuple[int, int] | None = None,
    ) -> None:
        self._learn(prepared, served_model=served_model, learned_window=learned_window, counts=counts)
        self.draft_id = self._services.store.save_draft(
            prepared.conversation_id,
            draft_id=self.draft_id,
            text=text,
            original_text=text,
            persona_id=prepared.persona.id,
            model=served_model or prepared.model.name,
            finish_reason=finish_reason,
            usage=usage,
            error=error,
            error_kind=error_kind,
            generation_id=self.generation_id,
            final=final,
            basis_event_id=prepared.basis_event_id,
            author=self._author,
        )

    def _learn(
        self,
        prepared: PreparedDraft,
        *,
        served_model: str | None = None,
        learned_window: int | None = None,
        counts: tuple[int, int] | None = None,
    ) -> None:
        """Remember what the server's answer taught about the model: its counts, its window, its name."""
        if counts is not None and not self.warnings:  # a prompt that lost its system message says nothing
            self._services.server_knowledge.note_counts(self._services.store, prepared.model.name, *counts)
        if learned_window:
            self._services.server_knowledge.remember_overflow(
                self._services.store, prepared.model.name, learned_window
            )
        if served_model:
            self._services.store.remember_served_model(prepared.model.name, served_model)

    def _judge(self, prepared: PreparedDraft, result: StreamResult) -> None:
        """What the finished reply says about the request: cut by the window rather than by max_tokens, and
        (once per model) a server prompt count that leaves no room for the persona's instructions."""
        model, max_tokens = prepared.model, prepared.report.reply_tokens
        if result.finish_reason == "length":
            if result.usage is not None:
                prompt, completion = result.usage.prompt_tokens, result.usage.completion_tokens
            else:
                prompt, completion = prepared.report.prompt_tokens, count_text(result.text, model.encoding)
            self.cut_by_window = reply_cut_by_window(prompt, completion, max_tokens, model.context_window)
        knowledge = self._services.server_knowledge
        if knowledge.base_url is None or not prepared.request.messages:
            return
        system = str(prepared.request.messages[0].get("content", ""))
        if knowledge.keeps_system(model.name) is False:  # the server's own counts of requests tell, with
            lost = persona_dropped_warning(system, model)  # usage or without (llama-cpp-python's streams)
        elif result.usage is not None:
            lost = persona_lost_warning(system, model, result.usage.prompt_tokens)
        else:
            lost = None
        if lost is not None and knowledge.first_warning(model.name):
            self.warnings.append(lost)


WINDOW_CUT_ADVICE = (
    "The reply was cut off by the model's context window (the prompt left too little room for "
    "max_tokens): finish it by hand, or trim the history (fewer messages, a shorter persona) and generate "
    "again; raising max_tokens will not help."
)
MAX_TOKENS_CUT_ADVICE = (
    "The reply was cut off at the persona's max_tokens: raise it in the persona or finish by hand."
)


class _Growing:
    """A streamed reply's pieces (appended on the event loop) and their join, grown in the saving thread.

    Why: a crash-safe save needs the whole text so far. Joining it on the event loop every half second is
    work that grows with the reply; here each save joins only the pieces that came since the last one, in
    the (single) saving thread. Saves run one at a time, so only that thread touches the join.
    """

    def __init__(self) -> None:
        self.pieces: list[str] = []
        self._joined = ""
        self._count = 0

    def upto(self, count: int) -> Callable[[], str]:
        """The text of the first ``count`` pieces, to be computed by the saving thread."""
        return functools.partial(self._text, count)

    def _text(self, count: int) -> str:
        if count > self._count:
            self._joined += "".join(self.pieces[self._count : count])
            self._count = count
        return self._joined


def _usage_pair(result: StreamResult) -> tuple[int, int] | None:
    """(prompt_tokens, completion_tokens) as the store keeps them, or None when the server sent no usage."""
    return (result.usage.prompt_tokens, result.usage.completion_tokens) if result.usage else None


class _Prepended:
    """A stored history with a not-yet-recorded newest message in front: lazy, and sized like the store's
    history so the trim report of a dry run counts what it leaves out exactly."""

    def __init__(self, newest: HistoryItem, stored: SizedHistory) -> None:
        self._newest = newest
        self._stored = stored

    def expect_tokens(self, tokens: int) -> None:
        """Pass the trimmer's budget on to the stored history, so its reads are sized to it too."""
        if isinstance(self._stored, BudgetAware):
            self._stored.expect_tokens(tokens - self._newest.tokens)

    def __iter__(self) -> Iterator[HistoryItem]:
        return itertools.chain([self._newest], self._stored)

    def __len__(self) -> int:
        return 1 + len(self._stored)
