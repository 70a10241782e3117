"""The draft session: the conversation an agent has open and the draft being written for it, without Textual.

Why a session: the console's screen should show things and pass keys on, nothing more. What the agent works
on (the customer, their open conversation, the persona, which stored draft the pane holds and whether all of
it is saved) and every operation on it (record a customer message or a note, set the status or the persona,
generate, stop, save an edit, approve, discard) live here, with plain unit tests.

Why one thread, in order: every store call of the session (and ``prepare()``, which reads the history) runs
on the session's own :class:`StoreQueue`, off the event loop, one at a time and in the order asked. So the
screen never waits for the database (another program holding the SQLite write lock delays a save, not a key),
and an approval pressed while a save waits for the lock is queued behind that save: it sees the draft the
save created, so the reply keeps its AI origin (model, original text) and nothing is sent twice. The session's
state is written only by the queued calls, and read by the screen.

Why failures keep the draft: when a save is refused (the write lock held past the busy timeout, a full disk)
the session keeps the draft's id and the text that could not be saved; the next edit, approval, discard or
switch of customer saves it first. The screen is told, never left holding a draft it cannot name.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from support_console.core.errors import ConversationChanged, SupportConsoleError
from support_console.core.vocabulary import ROLE_CUSTOMER, ROLE_NOTE, STATUSES
from support_console.store.first_page import ConversationRecord, CustomerRecord, MessageRecord
from support_console.workflows.drafting import Drafter, PreparedDraft, choose_persona
from support_console.workflows.send_guard import SendRisk, held_by_other, placeholder_block, send_risk

if TYPE_CHECKING:
    from typing import TypeAlias

    from support_console.llm import StreamEvent, StreamResult
    from support_console.store import Conversation, Message, QueueRow
    from support_console.workflows.services import Services

    OpenConversation: TypeAlias = Conversation | ConversationRecord
    """The open conversation: read by the Store, or without it while the store was still opening."""
    PageMessage: TypeAlias = Message | MessageRecord

T = TypeVar("T")
P = ParamSpec("P")

PAGE = 100
"""Messages read when a conversation opens (the transcript's newest page)."""


class StoreQueue(Executor):
    """Runs blocking store calls on one thread, one at a time, in the order submitted (an Executor, so the
    Drafter's saves go through it too).

    ``await queue.run(fn)`` never blocks the event loop, and a caller that is cancelled meanwhile (a worker
    replaced or stopped) does not cancel the call: a save asked for is a save made.
    """

    def __init__(self, name: str = "draft-session") -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._lock = threading.Lock()
        self._pending = 0
        self._running_since: float | None = None

    @property
    def pending(self) -> int:
        """Calls queued or running: the screen shows "waiting for the database" when they take long."""
        return self._pending

    @property
    def busy_for(self) -> float:
        """Seconds the running call has taken so far (0 when idle): long means the database makes it wait."""
        since = self._running_since
        return 0.0 if since is None else time.monotonic() - since

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        """Queue ``fn(*args, **kwargs)`` without waiting for it."""

        def counted() -> T:
            self._running_since = time.monotonic()
            try:
                return fn(*args, **kwargs)
            finally:
                self._running_since = None
                with self._lock:
                    self._pending -= 1

        with self._lock:
            self._pending += 1
        return self._executor.submit(counted)

    async def run(self, fn: Callable[[], T]) -> T:
        """Queue ``fn`` and wait for its result (or its exception)."""
        return await wait(self.submit(fn))

    async def idle(self) -> None:
        """Wait until everything queued so far has run."""
        await self.run(lambda: None)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Run what is queued (unless ``cancel_futures``), then end the thread."""
        self._executor.shutdown(wait=wait, cancel_futures=cancel_futures)

    def close(self) -> None:
        """Run what is queued, then end the thread."""
        self.shutdown(wait=True)


async def wait(future: Future[T]) -> T:
    """Await a thread's future; cancelling the waiter leaves the call running (it is never dropped)."""
    return await asyncio.shield(asyncio.wrap_future(future))


@dataclass(frozen=True)
class RestoredDraft:
    """A draft saved earlier (before a restart, or before the agent switched customers)."""

    id: int
    text: str
    model_text: str | None  # what the model wrote; None for a reply written by hand


@dataclass(frozen=True)
class Opened:
    """What opening a customer found: their open conversation (if any), its newest messages, its draft."""

    customer: CustomerRecord
    conversation: OpenConversation | None
    page: Sequence[PageMessage]  # the newest messages, oldest first
    total: int  # messages the transcript can page through
    draft: RestoredDraft | None
    persona_id: str | None

    @property
    def last_customer_text(self) -> str:
        """The customer's newest message on the page: what the persona suggestion looks at."""
        return next((m.text for m in reversed(self.page) if m.role == ROLE_CUSTOMER), "")


@dataclass(frozen=True)
class Recorded:
    """A customer message or note recorded; ``conversation`` as it is now (a new one if none was open)."""

    message: Message
    conversation: Conversation
    opened_conversation: bool


@dataclass(frozen=True)
class Reread:
    """The open conversation as another console left it: its row and its newest messages."""

    conversation: Conversation
    page: Sequence[Message]


@dataclass(frozen=True)
class Generation:
    """One request to the model for the open conversation: prepared, then streamed by the session."""

    prepared: PreparedDraft
    drafter: Drafter
    draft_id: int | None  # the draft it regenerates (rewritten in place once text comes), None for a new one


class NotReady(SupportConsoleError):
    """The operation needs something the session does not have yet; ``missing`` says what (the screen words
    it with the keys that provide it)."""

    def __init__(self, missing: str, message: str) -> None:
        super().__init__(message)
        self.missing = missing


class DraftSession:
    """One agent's open conversation and its draft; see the module docstring for the threading rules.

    Read freely from the event loop: :attr:`customer`, :attr:`conversation`, :attr:`persona_id`,
    :attr:`draft_id`, :attr:`saved_text`, :attr:`streaming`, :attr:`unsaved`. Change them only through the
    methods.
    """

    def __init__(self, services: Services, *, queue: StoreQueue | None = None) -> None:
        self._services = services
        self.queue = queue or StoreQueue()
        self.customer: CustomerRecord | None = None
        self.conversation: OpenConversation | None = None
        self.persona_id: str | None = None
        self.draft_id: int | None = None
        self.saved_text = ""  # what the store holds for draft_id
        self.streaming = False
        self.agent_name = services.settings.agent_name  # the approver; "" until the agent says who they are
        self._task: asyncio.Task[object] | None = None  # the task iterating stream(), while it does
        self._generation: Generation | None = None  # the last one, until its draft is approved or discarded
        #: The generation whose text the draft held when the last one started: the draft still holds it
        #: when the last one wrote nothing (see :meth:`_holding`).
        self._held: Generation | None = None
        self._adopted: Future[None] | None = None
        self._edit_lock = threading.Lock()
        self._edit: str | None = None  # typed text waiting to be saved (the newest only)
        self._edit_job: Future[int | None] | None = None
        self._restored_outcome: tuple[str | None, str | None] = (None, None)  # its error kind, finish reason
        #: The newest change the agent was shown when the send-time guard refused the draft (approving
        #: again sends it anyway, unless something newer came): ``Store.approve_draft``'s reviewed_through.
        self.reviewed_through: int | None = None
        #: The newest event the screen's transcript reflects (set by open and reread), and what it was when
        #: the agent began typing a reply by hand: that draft's basis for the send-time guard.
        self.shown_through: int | None = None
        self._typing_basis: int | None = None

    # -- what the screen reads -----------------------------------------------------------------------------

    @property
    def conversation_id(self) -> int | None:
        return self.conversation.id if self.conversation is not None else None

    @property
    def unsaved(self) -> bool:
        """True when text the agent sees (the model's draft or an edit) is not stored yet."""
        generation = self._holding()
        return (generation is not None and generation.drafter.unsaved is not None) or self._edit is not None

    @property
    def result(self) -> StreamResult | None:
        """What the model returned for the last draft (None while streaming, or if it failed or stopped)."""
        return self._generation.drafter.result if self._generation is not None else None

    @property
    def cut_by_window(self) -> bool:
        """The last reply stopped at the context window rather than at the persona's max_tokens."""
        return self._generation.drafter.cut_by_window if self._generation is not None else False

    @property
    def warnings(self) -> list[str]:
        """What the last reply showed to be wrong (the persona not reaching the model), once per model."""
        return list(self._generation.drafter.warnings) if self._generation is not None else []

    # -- customers and conversations -----------------------------------------------------------------------

    async def open(self, customer_id: int, page: int = PAGE, conversation_id: int | None = None) -> Opened:
        """Open the customer's open conversation (or their ``conversation_id``, from the queue or the logs)
        with its newest ``page`` messages and its saved draft; never asks the model for anything and creates
        nothing.

        What the current draft has not saved yet is saved first; if that fails, the customer is not switched
        (StoreError) so the draft is not lost.
        """
        return await self.queue.run(lambda: self._open(customer_id, page, conversation_id))

    def _open(self, customer_id: int, page_size: int, conversation_id: int | None = None) -> Opened:
        self._save_pending()
        customer: CustomerRecord
        conversation: OpenConversation | None
        page: Sequence[PageMessage]
        draft: PageMessage | None
        first = self._services.first_conversation(customer_id, page_size, conversation_id)  # store opening?
        if first is not None:
            customer, conversation, page, total, draft = (
                first.customer, first.conversation, first.page, first.total, first.draft,
            )  # fmt: skip
        else:
            customer, conversation, page, total, draft = self._read_open(
                customer_id, page_size, conversation_id
            )
        persona_id = self._default_persona(conversation)
        restored: RestoredDraft | None = None
        if draft is not None and draft.id is not None:
            model_text = draft.original_text if draft.original_text is not None else draft.text
            restored = RestoredDraft(draft.id, draft.text, model_text if draft.model else None)
            if draft.persona_id and draft.persona_id in self._services.personas.personas:
                persona_id = draft.persona_id
        self.customer, self.conversation, self.persona_id = customer, conversation, persona_id
        self._forget_draft(restored.id if restored is not None else None)
        self.saved_text = restored.text if restored is not None else ""
        if draft is not None and draft.model:  # a model's draft: how its generation ended
            self._restored_outcome = (draft.error_kind, draft.finish_reason)
        return Opened(customer, conversation, page, total, restored, persona_id)

    def _read_open(
        self, customer_id: int, page_size: int, conversation_id: int | None
    ) -> tuple[CustomerRecord, Conversation | None, Sequence[PageMessage], int, PageMessage | None]:
        from support_console.store.customers import record_of

        store = self._services.store
        self.shown_through = store.latest_event_id()  # before the reads: what they show is at least this
        customer = record_of(store.get_customer(customer_id))
        conversation = (
            store.open_conversation(customer_id)
            if conversation_id is None
            else store.get_conversation(conversation_id)
        )
        if conversation is None or conversation.id is None:
            return customer, conversation, [], 0, None
        page = store.page_messages(conversation.id, None, page_size)
        total = store.count_messages(conversation.id) if len(page) >= page_size else len(page)
        return (
            customer,
            conversation,
            page,
            total,
            store.pending_draft(conversation.id, self.agent_name or None),
        )

    def _default_persona(self, conversation: OpenConversation | None) -> str | None:
        try:
            current = conversation.persona_id if conversation is not None else None
            return choose_persona(self._services.personas, "", conversation_persona=current).id
        except SupportConsoleError:
            return None

    async def mark_seen(self) -> bool:
        """The agent has seen the open conversation: clear its unread count, for every console, recorded
        as seen by this agent (True if something in it was unseen: only then is anything written)."""
        return await self.queue.run(self._mark_seen)

    def _mark_seen(self) -> bool:
        conversation = self.conversation
        if conversation is None or conversation.id is None or not conversation.unread_count:
            return False
        return self._services.store.mark_seen(conversation.id, agent=self.agent_name or None)

    async def update_attributes(self, attributes: dict[str, str]) -> CustomerRecord:
        """Replace the open customer's attributes (the values persona placeholders use)."""
        return await self.queue.run(lambda: self._update_attributes(attributes))

    def _update_attributes(self, attributes: dict[str, str]) -> CustomerRecord:
        from support_console.store.customers import record_of

        customer = self._require_customer()
        self.customer = record_of(self._services.store.set_attributes(customer.id, attributes))
        return self.customer

    async def record(self, role: str, text: str) -> Recorded:
        """Add a customer message or an internal note to the open conversation, opening one if needed."""
        if role not in (ROLE_CUSTOMER, ROLE_NOTE):
            raise ValueError(f"record() takes a customer message or a note, not {role!r}")
        return await self.queue.run(lambda: self._record(role, text))

    def _record(self, role: str, text: str) -> Recorded:
        customer = self._require_customer()
        store = self._services.store
        opened = self.conversation is None or self.conversation.id is None
        if opened:
            self.conversation = store.current_conversation(customer.id, self.persona_id)
        conversation_id = self._require_conversation()
        message = store.add_message(conversation_id, role, text, agent=self.agent_name or None)
        self.conversation = store.get_conversation(conversation_id)
        return Recorded(message, self.conversation, opened)

    async def set_status(self, status: str) -> Conversation:
        """Mark the open conversation open, pending or resolved."""
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        return await self.queue.run(lambda: self._set_status(status))

    def _set_status(self, status: str) -> Conversation:
        conversation_id = self._require_conversation()
        store = self._services.store
        store.set_status(conversation_id, status, agent=self.agent_name or None)
        self.conversation = store.get_conversation(conversation_id)
        return self.conversation

    # -- team mode: assignment, and what other consoles changed ---------------------------------------------

    async def assign(self, assignee: str | None) -> Conversation:
        """Give the open conversation to ``assignee`` (None: release it to the unassigned queue); the
        events log records this agent as who did it."""
        return await self.queue.run(lambda: self._assign(assignee))

    def _assign(self, assignee: str | None) -> Conversation:
        conversation_id = self._require_conversation()
        by = self._require_agent()
        store = self._services.store
        if assignee is None:
            store.release(conversation_id, by=by)
        else:
            store.assign(conversation_id, assignee, by=by)
        self.conversation = store.get_conversation(conversation_id)
        return self.conversation

    async def agent_names(self) -> list[str]:
        """The names agents work under here (``Store.agent_names``): who a conversation may be given to."""
        return await self.queue.run(self._services.store.agent_names)

    async def take_next(self) -> QueueRow | None:
        """Claim the longest-waiting unassigned conversation for this agent (None: nothing waits); the
        screen then opens it. Atomic in the store: two agents never get the same one."""
        agent = self._require_agent()
        return await self.queue.run(lambda: self._services.store.take_next(agent))

    async def reread(self) -> Reread | None:
        """Read the open conversation again (another console changed it): its row and newest page. The
        draft is not touched: what the agent typed stays. None when nothing is open."""
        return await self.queue.run(self._reread)

    def _reread(self) -> Reread | None:
        conversation = self.conversation
        if conversation is None or conversation.id is None:
            return None
        store = self._services.store
        self.shown_through = store.latest_event_id()
        self.conversation = store.get_conversation(conversation.id)
        return Reread(self.conversation, store.page_messages(conversation.id, None, PAGE))

    def _require_agent(self) -> str:
        if not self.agent_name.strip():
            raise NotReady("agent", "Who is working? Set your name first ([agent] name).")
        return self.agent_name

    async def set_persona(self, persona_id: str) -> None:
        """Use ``persona_id`` for the next draft, and remember it on the open conversation (if any).

        The session's persona changes even if the store refuses to remember it (the error is raised after).
        """
        if persona_id not in self._services.personas.personas:
            raise NotReady("persona", f"Persona '{persona_id}' is no longer available.")
        await self.queue.run(lambda: self._set_persona(persona_id))

    def _set_persona(self, persona_id: str) -> None:
        self.persona_id = persona_id
        if self.conversation is not None and self.conversation.id is not None:
            self._services.store.set_persona(self.conversation.id, persona_id)

    def personas_reloaded(self) -> None:
        """Persona files changed on disk: fall back to the default persona if the chosen one is gone."""
        if self.persona_id not in self._services.personas.personas:
            self.persona_id = self._default_persona(self.conversation)

    async def model_name(self) -> str | None:
        """The model the next draft would use (an Azure deployment's served model, once known)."""
        return await self.queue.run(self._model_name)

    def _model_name(self) -> str | None:
        persona = self._services.personas.personas.get(self.persona_id or "")
        if self._services.client is None or persona is None:
            return None
        try:
            return Drafter(self._services).resolve_model(persona).name
        except SupportConsoleError:
            return None

    # -- drafting ------------------------------------------------------------------------------------------

    async def measure(self) -> PreparedDraft:
        """Build the request the next draft would send (for the token meter); sends and saves nothing."""
        return await self.queue.run(lambda: Drafter(self._services).prepare(*self._drafting_target()))

    async def prepare(self, guidance: tuple[str, str] | None = None) -> Generation:
        """Prepare a new draft of the open conversation (reading the history), after every store call asked
        for before it: a customer message just added is in it. ``guidance``: a canned reply to adapt (its
        id and the words for the model, from workflows/canned.py)."""
        return await self.queue.run(lambda: self._prepare(guidance))

    def _prepare(self, guidance: tuple[str, str] | None = None) -> Generation:
        conversation_id, persona_id = self._drafting_target()
        drafter = Drafter(self._services, saves=self.queue, author=self.agent_name or None)
        prepared = drafter.prepare(conversation_id, persona_id, guidance)
        return Generation(prepared, drafter, self.draft_id)

    async def stream(self, generation: Generation) -> AsyncGenerator[StreamEvent, None]:
        """Send a prepared draft and yield the model's deltas; the growing draft is saved in the background.

        The generator ends as soon as the model does: :meth:`settle` then waits for the final save. Stopping
        is cancelling the task that iterates (or closing the generator): what came is saved. A regeneration
        that produced no text (failed or stopped at once) leaves the session on the draft it had, as it was.
        """
        self._held = self._holding()
        self._generation, self.streaming, self._task = generation, True, asyncio.current_task()
        drafter = generation.drafter
        try:
            events = drafter.stream(generation.prepared, draft_id=generation.draft_id, settle=False)
            async with aclosing(events) as stream:
                async for event in stream:
                    yield event
        finally:
            self.streaming, self._task = False, None
            self._adopted = self.queue.submit(lambda: self._adopt(drafter))  # after the draft's last save

    def stop(self) -> bool:
        """Stop the draft streaming now (even from a server that sends nothing more): the task iterating
        :meth:`stream` is cancelled and what came is saved. False when nothing is streaming."""
        task = self._task
        if task is None or task.done():
            return False
        task.cancel()
        return True

    def _holding(self) -> Generation | None:
        """The generation whose text the draft holds: the last one, or, when that one wrote nothing (a
        regeneration that failed or was stopped before any text came), the one before it (None: a draft
        restored or written by hand, or none)."""
        generation = self._generation
        if generation is not None and generation.drafter.wrote_nothing:
            return self._held
        return generation

    def _adopt(self, drafter: Drafter) -> None:
        """The session's draft is what ``drafter`` saved; one that wrote nothing changes nothing."""
        holding = self._holding()
        if holding is not None and holding.drafter is drafter:
            self.draft_id, self.saved_text = drafter.draft_id, drafter.saved_text

    async def stream_ended(self) -> None:
        """Wait for the stream being stopped (or still running) to end, then for its last save: what came,
        saved as the model's stopped draft with its generation ended. Quitting must wait for this: the
        draft's periodic saves hold only its text, so a console that exited first left a draft that read as
        written by hand, and that was sent without being asked about. Raises as :meth:`settle` does."""
        task = self._task
        if task is not None and task is not asyncio.current_task():
            await asyncio.wait((task,))
        await self.settle()

    async def settle(self) -> None:
        """Wait for the last draft's saves. Raises StoreError when the final save failed: the draft is kept
        (:attr:`unsaved`), and is saved before the next edit, approval, discard or switch of customer."""
        generation, adopted = self._generation, self._adopted
        try:
            if generation is not None:
                await generation.drafter.settled()
        finally:
            if adopted is not None:
                await wait(adopted)

    def save_edit(self, text: str) -> asyncio.Task[int | None]:
        """Save what the agent typed into the draft (crash-safe), creating a hand-written draft if needed.

        The save is queued at once, so whatever is asked next comes after it; the task returned says which
        draft holds the text (await it, or not). Edits made while a save waits are merged: only the newest
        text is written.
        """
        if self.draft_id is None and self._typing_basis is None:
            self._typing_basis = self.shown_through  # what the agent saw when they began to write
        with self._edit_lock:
            self._edit = text
            job = self._edit_job
            if job is None:
                job = self._edit_job = self.queue.submit(self._save_edits)
        return asyncio.ensure_future(wait(job))

    def _save_edits(self) -> int | None:
        while True:
            with self._edit_lock:
                text, self._edit = self._edit, None
                if text is None:
                    self._edit_job = None
                    return self.draft_id
            try:
                self._store_edit(text)
            except SupportConsoleError:
                with self._edit_lock:
                    if self._edit is None:
                        self._edit = text  # kept for the next save, approval or quit
                    self._edit_job = None
                raise

    def _store_edit(self, text: str) -> None:
        conversation_id = self.conversation_id
        if conversation_id is None or (self.draft_id is None and not text.strip()):
            return
        self._save_model_draft()
        basis = self._typing_basis if self.draft_id is None else None
        self.draft_id = self._services.store.save_draft(
            conversation_id,
            draft_id=self.draft_id,
            text=text,
            persona_id=self.persona_id,
            basis_event_id=basis,
            author=self.agent_name or None,
        )
        self.saved_text = text

    async def flush(self) -> None:
        """Save whatever is not saved yet (the model's draft after a failed save, the newest edit)."""
        await self.queue.run(self._save_pending)

    def _save_pending(self) -> None:
        self._save_model_draft()
        with self._edit_lock:
            text, self._edit = self._edit, None
        if text is not None:
            try:
                self._store_edit(text)
            except SupportConsoleError:
                with self._edit_lock:
                    self._edit = self._edit if self._edit is not None else text
                raise

    def _save_model_draft(self) -> None:
        """Save again the model's draft whose save failed, so the stored draft has its model and original."""
        generation = self._holding()
        if generation is not None and generation.drafter.unsaved is not None:
            generation.drafter.save_unsaved()
            self._adopt(generation.drafter)

    def send_risk(self, model_text: str | None) -> SendRisk | None:
        """Whether the draft held is risky to send (a refusal, a filtered or stopped partial, a failed
        draft: ``send_guard``); None when it is a complete reply or written by hand. ``model_text`` is what
        of the model's the draft holds (the pane's; None or blank: nothing).

        Read on the event loop without waiting for the database: the session knows how the generation it
        streamed ended, and what the store recorded for the draft it restored.
        """
        generation = self._holding()
        if generation is not None:
            drafter = generation.drafter
            result = drafter.result
            outcome = drafter.outcome.value if drafter.outcome is not None else None
            return send_risk(outcome, result.finish_reason if result is not None else None, model_text)
        return send_risk(*self._restored_outcome, model_text)

    def held_by_other(self) -> str | None:
        """The warning when another agent has the open conversation (``send_guard.held_by_other``), from
        the row last read (another console's take shows here within a second: the live feed rereads it)."""
        return held_by_other(getattr(self.conversation, "assignee", None), self.agent_name)

    async def approve(self, text: str, status: str | None = None) -> Message:
        """Send ``text`` as the reply: the draft the pane holds becomes sent (keeping the model's original),
        or a hand-written reply is recorded. The session then holds no draft. With ``status``, the
        conversation is marked so in the same call (send and set pending / send and resolve)."""
        if not text.strip():
            raise NotReady("text", "Nothing to send: the draft is empty.")
        if (blocked := placeholder_block(text)) is not None:
            raise NotReady("placeholders", blocked)
        if status is not None and status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        approver = self.agent_name
        if not approver:
            raise NotReady("agent", "Who approves this reply? Set your name first ([agent] name).")
        return await self.queue.run(lambda: self._approve(text, approver, status))

    def _approve(self, text: str, approver: str, status: str | None = None) -> Message:
        conversation_id = self._require_conversation()
        store = self._services.store
        self._save_model_draft()
        with self._edit_lock:
            self._edit = None  # the approved text supersedes any edit not saved yet
        if self.draft_id is None:
            basis = self._typing_basis if self._typing_basis is not None else self.shown_through
            self.draft_id = store.save_draft(
                conversation_id,
                text=text,
                persona_id=self.persona_id,
                basis_event_id=basis,
                author=approver,
            )
        try:
            message = store.approve_draft(
                self.draft_id, text, approver, reviewed_through=self.reviewed_through
            )
        except ConversationChanged as changed:
            self.reviewed_through = changed.through  # shown to the agent: approving again sends anyway
            raise
        self._forget_draft(None)
        if status is not None:
            store.set_status(conversation_id, status, agent=approver)
        self.conversation = store.get_conversation(conversation_id)
        return message

    async def discard(self) -> None:
        """Throw the draft away (kept in the database as discarded, like every generation)."""
        await self.queue.run(self._discard)

    def _discard(self) -> None:
        self._save_model_draft()
        with self._edit_lock:
            self._edit = None
        if self.draft_id is not None:
            self._services.store.discard_draft(self.draft_id)
        self._forget_draft(None)

    async def aclose(self) -> None:
        """Run what is queued (saves included), then end the session's thread."""
        await asyncio.to_thread(self.queue.close)

    # -- helpers (on the queue's thread) -------------------------------------------------------------------

    def _forget_draft(self, draft_id: int | None) -> None:
        self.draft_id, self.saved_text = draft_id, ""
        self.reviewed_through = self._typing_basis = None
        self._generation = self._held = None
        self._restored_outcome = (None, None)
        with self._edit_lock:
            self._edit = None

    def _require_customer(self) -> CustomerRecord:
        if self.customer is None or self.customer.id is None:
            raise NotReady("customer", "Select a customer first.")
        return self.customer

    def _require_conversation(self) -> int:
        if self.conversation is None or self.conversation.id is None:
            raise NotReady("conversation", "There is no conversation yet: add the customer's message first.")
        return self.conversation.id

    def _drafting_target(self) -> tuple[int, str]:
        conversation_id = self._require_conversation()
        if self.persona_id is None:
            raise NotReady("persona", "No persona is chosen: add a persona file, then pick it.")
        return conversation_id, self.persona_id


__all__ = [
    "PAGE",
    "DraftSession",
    "Generation",
    "NotReady",
    "Opened",
    "Recorded",
    "Reread",
    "RestoredDraft",
    "StoreQueue",
    "wait",
]
