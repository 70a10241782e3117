"""One query-semantics suite, two backends: every query gives the same hits, in the same order, with the
same words highlighted, on SQLite (FTS5) and on PostgreSQL (tsvector + GIN).

The same conversations are written to both in the same order (so the ids agree), then each query is asked
of both. Snippet windows are cut differently (FTS5 picks its own), so what is compared of a snippet is
which words are highlighted; the ids, their order and the customers are compared exactly.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from support_console.store import NewMessage, Store
from support_console.store.postgres.search import words
from support_console.store.search import SearchHit

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)

#: (customer name, email, persona, messages): customer messages unless they start with "agent:" / "note:".
CORPUS = (
    ("Élise Dupont", "elise@example.com", "billing", (
        "Bonjour, je voudrais un remboursement pour ma commande 12345",
        "agent:Votre remboursement est en cours, Élise.",
        "Merci! Le café était froid aussi.",
    )),
    ("Kim Lee", "kim@example.com", "xbox", (
        "My controller disconnects every 3.5 minutes, please REFUND it",
        "agent:Please e-mail kim@example.com's receipt to refunds@example.com",
        "note:VIP customer: refund approved by Priya",
        "Refunded? I'd still like a replacement [bold] controller",
    )),
    ("Zoë Åberg", "zoe@example.org", "xbox", (
        "Über-fast shipping, naïve question: where's my refund?",
        "The package arrived damaged AND late; NEAR the door \"quoted\"",
        "straße 5 — façade — coöperate — résumé",
    )),
    ("Ann O'Brien", "ann@example.net", "billing", (
        "charged twice for order 12345 on 2026-10-01",
        "draft:this draft must never be found: zebra",
        "Please refund the double charge",
    )),
)  # fmt: skip

QUERIES = (
    "refund", "REFUND", "Refund", "refund*", "refun", "ref*", "refunds", "remboursement", "REMBOURSEMENT",
    "cafe", "CAFÉ", "café", "elise", "Élise", "zoe", "uber", "ÜBER", "naive", "facade", "cooperate",
    "resume", "strasse", "straße", "aberg", "e-mail", "e mail", "mail", "kim@example.com", "example",
    "example.com", "3.5", "5", "12345", "order 12345", "charged twice", "charged thrice", "twice charged",
    "2026-10-01", "10", "[bold]", "bold", "AND", "NEAR", '"quoted"', '"', "*", "o'brien", "brien",
    "d", "i'd", "zebra", "controller disconn*", "cont* REF*", "where's", "priya", "vip", "—",
)  # fmt: skip


def _seed(store: Store) -> None:
    for n, (name, email, persona, texts) in enumerate(CORPUS):
        customer = store.add_customer(name, email)
        assert customer.id is not None
        conversation = store.current_conversation(customer.id, persona)
        assert conversation.id is not None
        for i, text in enumerate(texts):
            when = T0 + timedelta(days=n, minutes=i)
            kind, colon, body = text.partition(":")
            if not colon or kind not in ("agent", "note", "draft"):
                kind, body = "", text
            if kind == "agent":
                store.approve_draft(store.save_draft(conversation.id, text=body), body, "priya")
            elif kind == "draft":
                store.save_draft(conversation.id, text=body)
            elif kind == "note":
                store.add_message(conversation.id, "note", body, created_at=when)
            else:
                store.add_messages_bulk([NewMessage(conversation.id, "customer", body, created_at=when)])


@pytest.fixture
def stores(tmp_path: Path, postgres_server: object, postgres_url: str) -> Iterator[tuple[Store, Store]]:
    """The corpus written to a new SQLite file and a new PostgreSQL database."""
    both = (Store.open(f"sqlite:///{tmp_path / 'semantics.db'}"), Store.open(postgres_url))
    try:
        for store in both:
            _seed(store)
        yield both
    finally:
        for store in both:
            store.close()


def _seen(hits: list[SearchHit]) -> list[tuple[int, str, str, frozenset[str]]]:
    """What must agree: the message, its customer and persona, and the highlighted words (folded)."""
    return [
        (h.message_id, h.customer_email, str(h.persona_id),
         frozenset(w for s, e in h.highlights for w in words(h.snippet[s:e])))
        for h in hits
    ]  # fmt: skip


def test_every_query_gives_the_same_hits_on_both_backends(stores: tuple[Store, Store]) -> None:
    sqlite, postgres = stores
    found_any = 0
    for query in QUERIES:
        expected = _seen(sqlite.search(query))
        assert _seen(postgres.search(query)) == expected, query
        found_any += bool(expected)
    assert found_any > len(QUERIES) * 2 // 3  # the suite exercises matches, not only misses


@pytest.mark.parametrize(
    ("query", "filters"),
    [
        ("refund*", {"customer": "KIM"}),
        ("refund*", {"customer": "élise"}),
        ("refund", {"customer": "zoë"}),
        ("controller", {"customer": "example.com"}),
        ("refund*", {"persona": "billing"}),
        ("refund*", {"since": T0 + timedelta(days=2)}),
        ("refund*", {"limit": 2}),
        ("12345", {"customer": "%"}),
    ],
)
def test_filters_agree_on_both_backends(
    stores: tuple[Store, Store], query: str, filters: dict[str, object]
) -> None:
    sqlite, postgres = stores
    expected = _seen(sqlite.search(query, **filters))  # type: ignore[arg-type]
    assert _seen(postgres.search(query, **filters)) == expected  # type: ignore[arg-type]


def test_the_logs_list_customers_and_stats_agree_on_both_backends(stores: tuple[Store, Store]) -> None:
    """Everything but the times the writes happened at (``created_at`` of new rows is the clock's)."""
    sqlite, postgres = stores

    def logs(store: Store) -> list[tuple[object, ...]]:
        rows = store.list_conversations()
        return [
            (r.conversation_id, r.customer_email, r.status, r.persona_id, r.messages, r.preview) for r in rows
        ]

    def customers(store: Store, query: str = "") -> list[tuple[object, ...]]:
        rows = store.list_customers(query)
        return [(r.customer.email, r.open_conversations, r.unread) for r in rows]

    assert logs(postgres) == logs(sqlite)
    assert postgres.count_conversations() == sqlite.count_conversations()
    for query in ("", "ÉLISE", "elise", "zoë", "O'BRIEN", "example.org", "%", "_"):
        assert customers(postgres, query) == customers(sqlite, query), query
    assert postgres.stats() == sqlite.stats()
