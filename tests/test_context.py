"""Token-exact trimming of a conversation into a request that fits the model's window.

Every case checks the two promises callers rely on: the report's prompt_tokens is exactly what count_chat
(and so the service) says for the final messages, and it never exceeds the budget.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Literal

import pytest

from support_console.core.errors import SupportConsoleError
from support_console.core.model_facts import ModelInfo, ModelOverride, resolve_model
from support_console.core.tokens import ChatMessage, count_chat, count_text
from support_console.core.trimming import (
    TRUNCATION_MARKER,
    ContextBudgetError,
    HistoryItem,
    TrimReport,
    build_messages,
)

SYSTEM = "You are Ada, a friendly support agent for Contoso. Answer in the customer's language."
GPT4O = resolve_model("gpt-4o")
GPT4 = resolve_model("gpt-4")

Role = Literal["user", "assistant"]


def item(message_id: int, role: Role, text: str, model: ModelInfo = GPT4O) -> HistoryItem:
    return HistoryItem(message_id, role, text, count_text(text, model.encoding))


def conversation(n: int, model: ModelInfo = GPT4O) -> list[HistoryItem]:
    """n alternating messages, newest first (ids n..1); the newest is the customer's."""
    return [
        item(
            i,
            "user" if (n - i) % 2 == 0 else "assistant",
            f"Message {i}: my order #{i * 7} has not arrived.",
            model,
        )
        for i in range(n, 0, -1)
    ]


class CountingIter:
    """A one-pass iterator that remembers how many items were read, like a store cursor."""

    def __init__(self, items: Sequence[HistoryItem]) -> None:
        self._items = iter(items)
        self.read = 0

    def __iter__(self) -> Iterator[HistoryItem]:
        return self

    def __next__(self) -> HistoryItem:
        value = next(self._items)
        self.read += 1
        return value


def sized_model(context_window: int, family: str = "gpt-4o") -> ModelInfo:
    return resolve_model("edge", {"edge": ModelOverride(family=family, context_window=context_window)})


def check(messages: list[ChatMessage], report: TrimReport, model: ModelInfo) -> None:
    assert report.prompt_tokens == count_chat(messages, model)
    assert report.prompt_tokens <= report.budget
    assert messages[0]["role"] == "system"


def test_empty_history_sends_only_the_system_message() -> None:
    messages, report = build_messages(SYSTEM, [], GPT4O, 500)
    check(messages, report, GPT4O)
    assert messages == [{"role": "system", "content": SYSTEM}]
    assert (report.kept, report.dropped, report.truncated, report.first_kept_id) == (0, 0, False, None)
    assert report.budget == 128_000 - 500 - 64
    assert (report.context_window, report.reply_tokens) == (128_000, 500)


def test_a_short_history_is_sent_whole_oldest_first() -> None:
    history = conversation(5)
    messages, report = build_messages(SYSTEM, history, GPT4O, 500)
    check(messages, report, GPT4O)
    assert [m["content"] for m in messages[1:]] == [h.text for h in reversed(history)]
    assert [m["role"] for m in messages[1:]] == ["user", "assistant", "user", "assistant", "user"]
    assert (report.kept, report.dropped, report.first_kept_id) == (5, 0, 1)


def test_a_10k_history_is_read_lazily_and_only_as_far_as_it_fits() -> None:
    history = conversation(10_000, GPT4)
    cursor = CountingIter(history)
    messages, report = build_messages(SYSTEM, cursor, GPT4, 1000)
    check(messages, report, GPT4)
    assert 100 < report.kept < 1000
    assert cursor.read == report.kept + 1  # the kept ones and the one that did not fit
    assert report.dropped == 1  # read and left out; the store counts the rest from first_kept_id
    assert report.first_kept_id == history[report.kept - 1].message_id
    assert messages[1]["content"] == history[report.kept - 1].text
    assert messages[-1]["content"] == history[0].text
    # Nearly the whole budget is used: the next message would not have fitted.
    assert report.budget - report.prompt_tokens < 3 + 1 + history[report.kept].tokens


def test_a_sized_history_reports_every_dropped_message() -> None:
    history = conversation(10_000, GPT4)
    messages, report = build_messages(SYSTEM, history, GPT4, 1000)
    check(messages, report, GPT4)
    assert report.dropped == 10_000 - report.kept


def test_everything_fits_in_a_huge_window() -> None:
    model = resolve_model("gpt-4.1")
    messages, report = build_messages(SYSTEM, CountingIter(conversation(10_000, model)), model, 32_768)
    check(messages, report, model)
    assert (report.kept, report.dropped, report.first_kept_id) == (10_000, 0, 1)


@pytest.mark.parametrize("slack", [0, -1])
def test_the_budget_edge_is_exact(slack: int) -> None:
    """A window sized so the history fits to the token keeps everything; one token less drops the oldest."""
    history = conversation(6)
    full = count_chat([{"role": "system", "content": SYSTEM}] + [
        {"role": h.role, "content": h.text} for h in history
    ], GPT4O)  # fmt: skip
    model = sized_model(full + 100 + 64 + slack)
    messages, report = build_messages(SYSTEM, history, model, 100)
    check(messages, report, model)
    assert report.budget == full + slack
    if slack == 0:
        assert (report.kept, report.dropped, report.prompt_tokens) == (6, 0, full)
    else:
        assert (report.kept, report.dropped, report.first_kept_id) == (5, 1, 2)


def test_a_big_old_message_is_not_skipped_over() -> None:
    """Dropping oldest first means no gaps: once one message does not fit, everything older is left out."""
    history = [item(3, "user", "Any news?"), item(2, "assistant", "word " * 8000), item(1, "user", "Hi")]
    messages, report = build_messages(SYSTEM, history, GPT4, 1000)
    check(messages, report, GPT4)
    assert [m["content"] for m in messages[1:]] == ["Any news?"]
    assert (report.kept, report.dropped, report.first_kept_id) == (1, 2, 3)


def test_the_newest_customer_message_is_kept_behind_newer_agent_replies() -> None:
    history = [
        item(4, "assistant", "We have refunded you."),
        item(3, "user", "Where is my refund?"),
        item(2, "assistant", "Hello!"),
        item(1, "user", "Hi"),
    ]
    messages, report = build_messages(SYSTEM, history, GPT4O, 100)
    check(messages, report, GPT4O)
    assert [m["content"] for m in messages[1:]] == [
        "Hi",
        "Hello!",
        "Where is my refund?",
        "We have refunded you.",
    ]


def test_a_history_without_customer_messages_still_builds() -> None:
    history = [item(2, "assistant", "Following up."), item(1, "assistant", "Hello!")]
    messages, report = build_messages(SYSTEM, history, GPT4O, 100)
    check(messages, report, GPT4O)
    assert report.kept == 2


def test_an_oversized_customer_message_is_cut_keeping_start_and_end() -> None:
    start, end = "HEAD-OF-MESSAGE my router is broken.", "Please help me, it is urgent. TAIL-OF-MESSAGE"
    text = start + " " + "the logs say error 0x80070005 again " * 3000 + end
    history = [item(2, "user", text, GPT4), item(1, "user", "older message", GPT4)]
    messages, report = build_messages(SYSTEM, history, GPT4, 1000)
    check(messages, report, GPT4)
    sent = messages[-1]["content"]
    assert report.truncated
    assert (report.kept, report.dropped) == (1, 1)
    assert sent.startswith(start)
    assert sent.endswith(end)
    assert TRUNCATION_MARKER in sent
    assert messages[0]["content"] == SYSTEM
    assert report.budget - report.prompt_tokens <= 4  # the cut uses the room to within a few tokens


def test_an_oversized_system_message_is_cut_only_when_unavoidable() -> None:
    system = "RULES START. " + "Always be polite and precise. " * 4000 + "RULES END."
    messages, report = build_messages(system, [item(1, "user", "Where is my parcel?", GPT4)], GPT4, 1000)
    check(messages, report, GPT4)
    assert report.truncated
    assert messages[0]["content"].startswith("RULES START.")
    assert messages[0]["content"].endswith("RULES END.")
    assert TRUNCATION_MARKER in messages[0]["content"]
    assert messages[1]["content"] == "Where is my parcel?"


def test_both_oversized_split_the_room() -> None:
    system = "Always be polite. " * 4000
    history = [item(1, "user", "my logs: " + "error " * 9000, GPT4)]
    messages, report = build_messages(system, history, GPT4, 1000)
    check(messages, report, GPT4)
    room = report.budget - report.prompt_tokens
    assert room <= 8
    assert all(TRUNCATION_MARKER in m["content"] for m in messages)
    sys_tokens = count_text(messages[0]["content"], GPT4.encoding)
    user_tokens = count_text(messages[1]["content"], GPT4.encoding)
    assert abs(sys_tokens - user_tokens) < 20


@pytest.mark.parametrize("reply", [8192, 8192 - 64, 8192 - 100])
def test_a_reply_limit_that_leaves_no_room_is_a_clear_error(reply: int) -> None:
    with pytest.raises(ContextBudgetError, match="lower max_tokens") as info:
        build_messages(SYSTEM, conversation(3, GPT4), GPT4, reply)
    assert isinstance(info.value, SupportConsoleError)
    assert "8192" in str(info.value)


WORDS = [
    "refund", "order", "Bestellung", "größe", "退款", "訂單", "😊", "🚚📦", "naïve", "#48213", "\n\n", "  ",
    "—", "don't", "<|endoftext|>", "https://contoso.example/track?id=77", "¿Dónde?", "ça", "0x80070005", "\t",
]  # fmt: skip


def random_text(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


@pytest.mark.parametrize("seed", range(60))
def test_random_histories_are_counted_exactly(seed: int) -> None:
    rng = random.Random(seed)
    family = rng.choice(["gpt-4o", "gpt-4", "gpt-3.5-turbo-0301", "gpt-5"])
    model = sized_model(rng.choice([600, 1500, 4000, 20_000]), family)
    n = rng.choice([0, 1, 5, 50, 400])
    history = [
        item(i, rng.choice(["user", "assistant"]), random_text(rng, rng.choice([1, 10, 60, 900])), model)
        for i in range(n, 0, -1)
    ]
    system = random_text(rng, rng.choice([5, 50, 2000]))
    messages, report = build_messages(system, CountingIter(history), model, rng.choice([100, 300]))
    check(messages, report, model)
    assert report.kept == len(messages) - 1
    users = [h for h in history if h.role == "user"]
    if users:
        sent = [m["content"] for m in messages if m["role"] == "user"]
        assert users[0].text in sent or (report.truncated and TRUNCATION_MARKER in sent[-1])


class BudgetedHistory(list[HistoryItem]):
    """A sized history that, like the store's, wants to know the budget before it is read."""

    expected: int | None = None

    def expect_tokens(self, tokens: int) -> None:
        self.expected = tokens


def test_a_budget_aware_history_is_told_the_budget_before_it_is_read() -> None:
    history = BudgetedHistory(conversation(50))
    _messages, report = build_messages(SYSTEM, history, GPT4, max_reply_tokens=700)
    assert history.expected == report.budget == 8192 - 700 - 64
