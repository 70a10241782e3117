"""The customer's language: known from their ``language`` attribute or detected, and what follows from it.

Why an attribute: the override belongs to the customer and must survive like their other facts, be shown
and edited where they are (the customer panel, ``support-console language``) and be read by the first-page
code without a new column. A ``language`` attribute that is not a language code is ignored (and the panel
and the CLI say so), so a typo never sends the model a nonsense instruction.

When the customer's language differs from the agent's (``[agent] language``, default English):

* the draft is written in the customer's language: :func:`language_instruction` is added to the persona's
  system message before trimming (so its tokens are counted like the rest);
* the agent can read a translation of the draft into their own language: :func:`prepare_translation` builds
  that request, stored as a generation of kind ``translation`` on the draft (``workflows/outputs.py``). The
  sent text is always the draft itself, in the customer's language; the audit trail keeps both.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from support_console.core.languages import detect_language, language_name, normalise_code, same_language
from support_console.core.model_facts import ModelInfo
from support_console.core.personas import ModelParams
from support_console.core.tokens import ChatMessage, count_text
from support_console.core.vocabulary import ROLE_CUSTOMER
from support_console.llm import ChatRequest, make_request

if TYPE_CHECKING:
    from support_console.store import Customer, Store
    from support_console.store.first_page import CustomerRecord

LANGUAGE_ATTRIBUTE: Final = "language"
DETECTION_MESSAGES: Final = 20  # newest messages of the conversation read for detection
AUTO: Final = "auto"


@dataclass(frozen=True)
class KnownLanguage:
    """The customer's language and where it came from: set on the customer, detected, or unknown."""

    code: str | None
    source: Literal["set", "detected", "unknown"]
    ignored: str | None = None  # a ``language`` attribute that is not a code (ignored)

    def differs_from(self, agent_language: str) -> bool:
        return self.code is not None and not same_language(self.code, agent_language)


def set_code(customer: Customer | CustomerRecord | Mapping[str, object]) -> tuple[str | None, str | None]:
    """(the code set on the customer, a set value that is not a code); takes the customer or the persona
    values built from them (``drafting.customer_values``, which carry their attributes)."""
    attributes = customer if isinstance(customer, Mapping) else (customer.attributes or {})
    raw = str(attributes.get(LANGUAGE_ATTRIBUTE, "")).strip()
    if not raw:
        return None, None
    code = normalise_code(raw)
    return (code, None) if code is not None else (None, raw)


def known_language(
    customer: Customer | CustomerRecord | Mapping[str, object], texts_newest_first: Iterable[str]
) -> KnownLanguage:
    """The language set on the customer, else the one detected in ``texts`` (their messages)."""
    code, ignored = set_code(customer)
    if code is not None:
        return KnownLanguage(code, "set")
    detected = detect_language(texts_newest_first)
    return KnownLanguage(detected, "detected" if detected else "unknown", ignored)


def customer_language(
    store: Store, customer: Customer | CustomerRecord, conversation_id: int | None = None
) -> KnownLanguage:
    """The customer's language, detected (when not set) from the newest customer messages of
    ``conversation_id`` (default: their open conversation). Blocking: one short read."""
    if set_code(customer)[0] is None:
        if conversation_id is None and customer.id is not None:
            open_one = store.open_conversation(customer.id)
            conversation_id = open_one.id if open_one is not None else None
        texts: list[str] = []
        if conversation_id is not None:
            page = store.page_messages(conversation_id, limit=DETECTION_MESSAGES)
            texts = [m.text for m in reversed(page) if m.role == ROLE_CUSTOMER]
        return known_language(customer, texts)
    return known_language(customer, ())


def set_language(store: Store, customer_id: int, code: str) -> Customer:
    """Set the customer's language (``auto``: back to detection); ValueError for what is not a code."""
    customer = store.get_customer(customer_id)
    attributes = {str(k): str(v) for k, v in (customer.attributes or {}).items()}
    if code.strip().lower() == AUTO:
        attributes.pop(LANGUAGE_ATTRIBUTE, None)
    else:
        normal = normalise_code(code)
        if normal is None:
            raise ValueError(
                f"{code!r} is not a language code: use a code such as de, fr, es or pt-br, or 'auto'."
            )
        attributes[LANGUAGE_ATTRIBUTE] = normal
    return store.set_attributes(customer_id, attributes)


def draft_language(
    values: Mapping[str, str], texts_newest_first: Iterable[str], agent_language: str
) -> str | None:
    """The language a draft must be written in when it is not the agent's own (None: the agent's)."""
    known = known_language(values, texts_newest_first)
    return known.code if known.code is not None and known.differs_from(agent_language) else None


def language_instruction(code: str) -> str:
    """Added to the persona's system message when the customer writes another language than the agent."""
    name = language_name(code)
    return (
        f"\n\nThe customer writes in {name}. Write the whole reply in {name} ({code}), whatever language "
        "these instructions are in."
    )


def language_notice(code: str, agent_language: str) -> str:
    """What the agent is told once per language: the draft is asked in the customer's language."""
    return (
        f"the customer writes in {language_name(code)}, so drafts are asked in {language_name(code)}; "
        f"'Translate the draft to read it' shows one in {language_name(agent_language)} (the draft itself is "
        "what is sent)"
    )


TRANSLATION_SYSTEM: Final = (
    "Translate the support reply in the user message into {language} so that a support agent can read it. "
    "Reply with the translation only. Keep names, numbers, prices, dates, order ids, URLs and email "
    "addresses exactly as written, and keep the line breaks."
)


def prepare_translation(
    text: str, target_language: str, model: ModelInfo, params: ModelParams
) -> ChatRequest:
    """The request that translates a draft into the agent's language (to read it; it is never sent)."""
    messages: list[ChatMessage] = [
        {"role": "system", "content": TRANSLATION_SYSTEM.format(language=language_name(target_language))},
        {"role": "user", "content": text},
    ]
    tokens = count_text(text, model.encoding)
    reply = max(1, min(model.max_output_tokens, 2 * tokens + 100))
    return make_request(model, messages, ModelParams(temperature=0.0, max_tokens=reply, top_p=params.top_p))


__all__ = [
    "LANGUAGE_ATTRIBUTE",
    "KnownLanguage",
    "customer_language",
    "draft_language",
    "known_language",
    "language_instruction",
    "prepare_translation",
    "set_language",
]
