"""The preservation check (core/preservation.py): what a rewrite dropped, changed or invented."""

from __future__ import annotations

import pytest

from support_console.core.preservation import Finding, Token, check_rewrite, quoted_lines, tokens

DRAFT = """Hi Jane,

Your order ORD-12345 was refunded: $59.99 for the cable and 1,299.00 EUR for the TV.
Track it at https://shop.example.com/orders?id=12345&ref=mail (it can take 3 days).

> I paid $59.99 on 3 May for order ORD-12345
--
Ana"""


def kinds(text: str) -> list[tuple[str, str]]:
    return [(t.kind, t.text) for t in tokens(text)]


def test_a_faithful_rewrite_has_no_findings() -> None:
    rewrite = DRAFT.replace("Hi Jane,", "Hello Jane,").replace("can take", "may take")
    assert check_rewrite(DRAFT, rewrite) == ()
    assert check_rewrite(DRAFT, DRAFT) == ()


def test_prices_with_symbols_codes_and_thousands_separators() -> None:
    text = "Pay $59.99, $ 5, 1,299.00 EUR, USD 20, 10 €, 7€, £3.50 and ¥1000 (not 42)."
    assert kinds(text) == [
        ("price", "$59.99"), ("price", "$5"), ("price", "1,299.00 EUR"), ("price", "USD 20"),
        ("price", "10 €"), ("price", "7 €"), ("price", "£3.50"), ("price", "¥1000"), ("number", "42"),
    ]  # fmt: skip


def test_a_changed_price_is_reported_as_changed_from_and_to() -> None:
    findings = check_rewrite(DRAFT, DRAFT.replace("$59.99 for", "$49.99 for"))
    assert findings == (Finding("price", "changed", "$59.99", "$49.99"),)
    assert str(findings[0]) == "the price $59.99 became $49.99"


def test_a_reformatted_price_counts_as_changed_because_it_must_stay_exact() -> None:
    findings = check_rewrite(DRAFT, DRAFT.replace("1,299.00 EUR", "1299 EUR"))
    assert findings == (Finding("price", "changed", "1,299.00 EUR", "1299 EUR"),)


def test_a_dropped_price_and_an_invented_one() -> None:
    assert check_rewrite("It costs $10 and $20.", "It costs $10.") == (
        Finding("price", "dropped", "$20", None),
    )
    added = check_rewrite("It costs $10.", "It costs $10, or $5 with the coupon.")
    assert added == (Finding("price", "added", None, "$5"),)
    assert str(added[0]) == "the rewrite adds the price $5, which the original does not have"


def test_urls_keep_their_query_string_and_lose_sentence_punctuation() -> None:
    text = (
        "See https://shop.example.com/orders?id=12345&ref=mail. Or (www.example.com/help), "
        'or "https://en.wikipedia.org/wiki/Foo_(bar)"!'
    )
    assert kinds(text) == [
        ("url", "https://shop.example.com/orders?id=12345&ref=mail"),
        ("url", "www.example.com/help"),
        ("url", "https://en.wikipedia.org/wiki/Foo_(bar)"),
    ]  # the digits inside the URLs are not numbers


def test_a_changed_query_string_and_an_added_link_are_flagged() -> None:
    rewrite = DRAFT.replace("ref=mail", "ref=email") + "\nMore: https://help.example.com/refunds"
    assert check_rewrite(DRAFT, rewrite) == (
        Finding(
            "url",
            "changed",
            "https://shop.example.com/orders?id=12345&ref=mail",
            "https://shop.example.com/orders?id=12345&ref=email",
        ),
        Finding("url", "added", None, "https://help.example.com/refunds"),
    )


def test_a_dropped_link_is_flagged() -> None:
    rewrite = DRAFT.replace(" at https://shop.example.com/orders?id=12345&ref=mail", " online")
    assert check_rewrite(DRAFT, rewrite) == (
        Finding("url", "dropped", "https://shop.example.com/orders?id=12345&ref=mail", None),
    )


def test_order_ids_are_whole_tokens_not_numbers() -> None:
    assert kinds("Order ORD-12345, ticket #4512, serial A1B2-C3, firmware v2.3.1.") == [
        ("id", "ORD-12345"), ("id", "#4512"), ("id", "A1B2-C3"), ("id", "v2.3.1"),
    ]  # fmt: skip
    findings = check_rewrite("Your order ORD-12345 shipped.", "Your order 12345 shipped.")
    assert findings == (Finding("id", "dropped", "ORD-12345", None),)
    retyped = check_rewrite("Your order ORD-12345 shipped.", "Your order ORD-12354 shipped.")
    assert retyped == (Finding("id", "changed", "ORD-12345", "ORD-12354"),)


def test_numbers_inside_words() -> None:
    text = "Our 30-day warranty covers the X5 and the 4K model; call at 5pm on the 2nd, error E1234."
    assert kinds(text) == [
        ("number", "30"), ("id", "X5"), ("id", "4K"), ("number", "5"), ("number", "2"), ("id", "E1234"),
    ]  # fmt: skip
    assert check_rewrite(text, text.replace("30-day", "30 day")) == ()  # the number is kept
    assert check_rewrite(text, text.replace("30-day", "14-day")) == (
        Finding("number", "changed", "30", "14"),
    )
    assert check_rewrite(text, text.replace("X5", "X6")) == (Finding("id", "changed", "X5", "X6"),)


def test_plain_numbers_dates_times_and_percentages() -> None:
    text = "Refund in 3 days, by 2024-05-01 at 10:30, with 15% off; 1,299.00 points."
    assert kinds(text) == [
        ("number", "3"), ("number", "2024-05-01"), ("number", "10:30"), ("number", "15%"),
        ("number", "1,299.00"),
    ]  # fmt: skip
    rewrite = "Refund in 5 days, with 15% off; 1,299.00 points."
    assert check_rewrite(text, rewrite) == (
        Finding("number", "changed", "3", "5"),
        Finding("number", "dropped", "2024-05-01", None),
        Finding("number", "dropped", "10:30", None),
    )
    assert check_rewrite("Two steps.", "Step 1, then step 2.") == ()  # new plain numbers are not reported


def test_repeated_tokens_are_counted() -> None:
    original = "Charged $5 and $5 again."
    assert check_rewrite(original, "Charged $5 twice.") == (Finding("price", "dropped", "$5", None),)


def test_emails_are_kept_and_their_digits_are_not_numbers() -> None:
    assert kinds("Write to help2@example.com.") == [("email", "help2@example.com")]
    assert check_rewrite("Write to help@example.com.", "Write to support@example.com.") == (
        Finding("email", "changed", "help@example.com", "support@example.com"),
    )


def test_quoted_lines_must_come_back_verbatim_and_are_reported_once() -> None:
    assert quoted_lines(DRAFT) == ["> I paid $59.99 on 3 May for order ORD-12345"]
    dropped = check_rewrite(DRAFT, DRAFT.replace("> I paid $59.99 on 3 May for order ORD-12345\n", ""))
    assert dropped == (Finding("quote", "dropped", "> I paid $59.99 on 3 May for order ORD-12345", None),)
    edited = check_rewrite(DRAFT, DRAFT.replace("> I paid $59.99 on 3 May", "> I paid $59.99 on May 3"))
    assert [(f.kind, f.change) for f in edited] == [("quote", "changed")]
    assert str(edited[0]).startswith("the quoted line > I paid $59.99 on 3 May")


def test_to_dict_is_the_json_shape() -> None:
    finding = Finding("id", "dropped", "ORD-1", None)
    assert finding.to_dict() == {"kind": "id", "change": "dropped", "original": "ORD-1", "rewritten": None}


@pytest.mark.parametrize("text", ["", "No digits here at all.", "> only a quote 12"])
def test_texts_without_anything_to_keep(text: str) -> None:
    assert tokens(text) == []
    assert check_rewrite(text, text) == ()


def test_token_is_a_plain_value() -> None:
    assert Token("number", "3") == Token("number", "3")
