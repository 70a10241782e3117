"""Which language a customer writes in: a small offline heuristic, its codes and their names.

Why a heuristic and not a detector package: the maintained light ones on the package mirror were measured
(py3langid 0.4.0: 2.2 s and about 120 MB for its first answer, since it loads numpy and a 4.5 MB model); a
console that starts in well under a second cannot pay that, even lazily, on the thread that prepares a draft.
What the console needs is coarser than what they offer: tell the agent's language from the few a support desk
sees, on messages that are usually several sentences long. So:

* a **script** decides first: Cyrillic (Ukrainian when it has і, ї, є or ґ, else Russian), Greek, Arabic,
  Hebrew, Devanagari (Hindi), Thai, Hangul (Korean), kana (Japanese), other Han characters (Chinese);
* Latin text is scored against short lists of each language's most frequent function words (English, German,
  French, Spanish, Italian, Portuguese, Dutch, Swedish, Danish, Norwegian, Polish, Turkish); the best wins
  when it has at least :data:`MIN_HITS` hits and clearly more than the next (:data:`MARGIN`);
* anything else (an "ok", a tracking number) is **unknown** (None): the draft then follows the agent's own
  language, and the agent can set the customer's language by hand (customer panel, ``support-console
  language``).

Pure Python over at most :data:`SAMPLE_CHARS` characters of the newest messages, nothing loaded: about
0.25 ms for 4,000 characters of Latin text, about 1 ms in another script (each letter's block is looked up).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from typing import Final

#: Codes this module can name (detected or set by hand) and how the model is told them.
LANGUAGE_NAMES: Final[dict[str, str]] = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian", "pt": "Portuguese",
    "nl": "Dutch", "sv": "Swedish", "da": "Danish", "nb": "Norwegian", "pl": "Polish", "tr": "Turkish",
    "ru": "Russian", "uk": "Ukrainian", "el": "Greek", "ar": "Arabic", "he": "Hebrew", "hi": "Hindi",
    "th": "Thai", "ko": "Korean", "ja": "Japanese", "zh": "Chinese", "fi": "Finnish", "cs": "Czech",
    "ro": "Romanian", "hu": "Hungarian", "pt-br": "Brazilian Portuguese",
}  # fmt: skip

MIN_HITS: Final = 2
MARGIN: Final = 1.5  # the best language's hits over the runner-up's, at least
SAMPLE_CHARS: Final = 4000

_FUNCTION_WORDS: Final[dict[str, frozenset[str]]] = {
    code: frozenset(words.split())
    for code, words in {
        "en": "the and is are you your my i to of it this that have not with for can please thanks was be "
        "what when how do does would could me we our a an in on at but or if from since about after",
        "de": "der die das und ist ich nicht sie mit ein eine mein meine ihr ihre auf für bitte danke noch "
        "wie wann was haben habe kann können ist es zu den dem",
        "fr": "le la les et est je ne pas vous avec un une mon ma mes votre pour merci bonjour des du que "
        "qui ce cette sur est il elle nous",
        "es": "el la los las y es yo no usted con un una mi mis su para gracias hola por que del está "
        "pero como cuando todavía ha he",
        "it": "il lo la gli le e è io non lei con un una mio mia per grazie ciao che del della sono ho "
        "ancora come quando ma",
        "pt": "o a os as e é eu não você com um uma meu minha para obrigado obrigada olá que do da está "
        "mas como quando ainda tenho",
        "nl": "de het een en is ik niet u je met mijn voor bedankt hallo dank wel van dat die nog hoe "
        "wanneer maar heb hebben",
        "sv": "och är jag inte du med en ett min mitt för tack hej att det som på har hur när men",
        "da": "og er jeg ikke du med en et min mit for tak hej at det som på har hvordan hvornår men",
        "nb": "og er jeg ikke du med en et min mitt for takk hei at det som på har hvordan når men",
        "pl": "i jest ja nie pan pani z się na mój moja dla dziękuję dzień dobry że to co jak kiedy ale",
        "tr": "ve bir bu ben değil siz için teşekkürler merhaba ne nasıl ama çok da de ile mi",
    }.items()
}
_CODES_OF: Final[dict[str, tuple[str, ...]]] = {
    word: tuple(code for code, words in _FUNCTION_WORDS.items() if word in words)
    for word in set().union(*_FUNCTION_WORDS.values())
}
_FIRST_NON_LATIN: Final = "\u0370"  # Greek and Coptic: every script before it is Latin (or IPA)
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_CODE = re.compile(r"^[a-z]{2,3}(?:-[a-z]{2,4})?$")


def normalise_code(value: str) -> str | None:
    """A language code as stored ("de", "pt-br": lower case, ``-`` not ``_``), or None when it is not one."""
    code = value.strip().lower().replace("_", "-")
    return code if _CODE.match(code) else None


def language_name(code: str) -> str:
    """How a code is named to the model and the agent ("German"); an unlisted code is named as it is."""
    return LANGUAGE_NAMES.get(code, code)


def same_language(a: str, b: str) -> bool:
    """Whether two codes name one language for drafting (``pt`` and ``pt-br`` do; ``en`` and ``de`` don't)."""
    return a.split("-")[0] == b.split("-")[0]


def detect_language(texts: Iterable[str]) -> str | None:
    """The language of ``texts`` (the customer's messages, newest first), or None when unsure.

    Reads at most :data:`SAMPLE_CHARS` characters, newest first, so one long quoted e-mail thread cannot
    outvote what the customer writes now.
    """
    sample = _sample(texts)
    if not sample.strip():
        return None
    by_script = _by_script(sample)
    if by_script is not None:
        return by_script
    hits = dict.fromkeys(_FUNCTION_WORDS, 0)
    for word in _WORD.findall(sample.lower()):
        for code in _CODES_OF.get(word, ()):
            hits[code] += 1
    ranked = sorted(hits.items(), key=lambda item: item[1], reverse=True)
    (best, top), (_, second) = ranked[0], ranked[1]
    if top < MIN_HITS or top < second * MARGIN:
        return None
    return best


def _sample(texts: Iterable[str]) -> str:
    parts: list[str] = []
    size = 0
    for text in texts:
        parts.append(text[: SAMPLE_CHARS - size])
        size += len(parts[-1])
        if size >= SAMPLE_CHARS:
            break
    return "\n".join(parts)


def _by_script(sample: str) -> str | None:
    """The language a non-Latin script names, when most letters are in it; None for Latin text."""
    if max(sample) < _FIRST_NON_LATIN:  # the usual case, without naming every character
        return None
    counts: dict[str, int] = {}
    letters = 0
    for ch in sample:
        if not ch.isalpha():
            continue
        letters += 1
        script = _script(ch)
        if script is not None:
            counts[script] = counts.get(script, 0) + 1
    if not counts or sum(counts.values()) * 2 < letters:
        return None
    if counts.get("kana"):
        return "ja"
    script = max(counts, key=lambda s: counts[s])
    if script == "cyrillic":
        return "uk" if any(ch in "іїєґІЇЄҐ" for ch in sample) else "ru"
    return {"han": "zh"}.get(script, script)


_RANGES: Final = (  # (first, last code point, script), in order
    (0x0370, 0x03FF, "el"), (0x0400, 0x052F, "cyrillic"), (0x0590, 0x05FF, "he"), (0x0600, 0x06FF, "ar"),
    (0x0750, 0x077F, "ar"), (0x0900, 0x097F, "hi"), (0x0E00, 0x0E7F, "th"), (0x1100, 0x11FF, "ko"),
    (0x3040, 0x30FF, "kana"), (0x3400, 0x4DBF, "han"), (0x4E00, 0x9FFF, "han"), (0xAC00, 0xD7AF, "ko"),
)  # fmt: skip
_STARTS: Final = tuple(first for first, _, _ in _RANGES)


def _script(ch: str) -> str | None:
    """The script of a letter by its code point block (a table lookup, not unicodedata.name)."""
    point = ord(ch)
    index = bisect.bisect_right(_STARTS, point) - 1
    if index < 0:
        return None
    _, last, script = _RANGES[index]
    return script if point <= last else None
