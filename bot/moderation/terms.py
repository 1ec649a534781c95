"""Blocked terms: normalising them on save, and finding them in prompts on whole words.

Both the prompt and the terms are *folded* the same way first:

1. NFKC, so full-width and other compatibility forms become plain ones (a full-width "bad"
   becomes "bad", the ligature ﬁ becomes "fi");
2. casefold (Bad -> bad, ß -> ss);
3. NFKD and every combining mark dropped, so accents go (é -> e, İ -> i);
4. invisible format characters dropped (zero-width space and joiner, soft hyphen: category Cf);
5. letters without a decomposition, and common Cyrillic and Greek look-alikes, mapped to
   Latin (ø -> o, ł -> l, æ -> ae, Cyrillic and Greek letters shaped like a, e, o, p, c, x
   ... to those; see `_FOLD`).

A term then matches a *whole word* (or, for several words, a whole phrase): the match may not
have a letter or digit right before or after it, so "class" passes when "ass" is blocked, and
so does "Scunthorpe". Inside a word:

- each letter also matches its character swaps (`SWAPS`: a=4@, b=8, e=3, g=9, i=1!|, l=1|,
  o=0, s=5$, t=7+); a swap character in a term matches every letter it stands for;
- separators between letters are ignored: any of ``. , - _ * ~ ' ` · •`` in any number
  (b.a.d, b-a-d, b__a__d), or spaces, but spaces only when every letter stands alone
  ("b a d" matches, "an al" does not match "anal");
- nothing else: no stemming or plurals, and repeated letters are not collapsed (so "god" never
  matches "good"). A term written with `*` at its start or end matches words that end or start
  with it, like Discord's AutoMod keywords: "bad*" also catches "badly" and "badness".

The words of a multi-word term match with any run of spaces, hyphens or underscores between
them ("bad thing" catches "BAD   thing" and "bad-thing"). Matching is deterministic and runs
one precompiled regular expression per list of terms (cached).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass

from bot.errors import UserFacingError
from bot.moderation.errors import InvalidSetting

of = UserFacingError.of

MAX_TERM_LENGTH = 60  # characters, after normalising (Discord's AutoMod allows 60 per keyword)

SWAPS: dict[str, str] = {
    "a": "4@",
    "b": "8",
    "e": "3",
    "g": "9",
    "i": "1!|",
    "l": "1|",
    "o": "0",
    "s": "5$",
    "t": "7+",
}
"""Character swaps: each letter, and the digits and symbols that may stand for it."""

INNER_SEPARATORS = ".,-_*~'`·•"
"""Characters ignored between the letters of a word."""

_SWAP_SYMBOLS = frozenset("".join(SWAPS.values())) - frozenset("0123456789")
_FOLD = str.maketrans(
    {
        # Latin letters that NFKD leaves alone.
        "\N{LATIN SMALL LETTER O WITH STROKE}": "o",
        "\N{LATIN SMALL LETTER D WITH STROKE}": "d",
        "\N{LATIN SMALL LETTER ETH}": "d",
        "\N{LATIN SMALL LETTER L WITH STROKE}": "l",
        "\N{LATIN SMALL LETTER H WITH STROKE}": "h",
        "\N{LATIN SMALL LETTER T WITH STROKE}": "t",
        "\N{LATIN SMALL LETTER DOTLESS I}": "i",
        "\N{LATIN SMALL LETTER DOTLESS J}": "j",
        "\N{LATIN SMALL LETTER F WITH HOOK}": "f",
        "\N{LATIN SMALL LETTER AE}": "ae",
        "\N{LATIN SMALL LIGATURE OE}": "oe",
        "\N{LATIN SMALL LETTER THORN}": "th",
        # Cyrillic look-alikes (after casefold, so capitals are covered too).
        "\N{CYRILLIC SMALL LETTER A}": "a",
        "\N{CYRILLIC SMALL LETTER VE}": "b",
        "\N{CYRILLIC SMALL LETTER IE}": "e",
        "\N{CYRILLIC SMALL LETTER KA}": "k",
        "\N{CYRILLIC SMALL LETTER EM}": "m",
        "\N{CYRILLIC SMALL LETTER EN}": "h",
        "\N{CYRILLIC SMALL LETTER O}": "o",
        "\N{CYRILLIC SMALL LETTER ER}": "p",
        "\N{CYRILLIC SMALL LETTER ES}": "c",
        "\N{CYRILLIC SMALL LETTER TE}": "t",
        "\N{CYRILLIC SMALL LETTER U}": "y",
        "\N{CYRILLIC SMALL LETTER HA}": "x",
        "\N{CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I}": "i",
        "\N{CYRILLIC SMALL LETTER JE}": "j",
        "\N{CYRILLIC SMALL LETTER DZE}": "s",
        "\N{CYRILLIC SMALL LETTER SHHA}": "h",
        "\N{CYRILLIC SMALL LETTER KOMI DE}": "d",
        "\N{CYRILLIC SMALL LETTER QA}": "q",
        "\N{CYRILLIC SMALL LETTER WE}": "w",
        # Greek look-alikes.
        "\N{GREEK SMALL LETTER ALPHA}": "a",
        "\N{GREEK SMALL LETTER BETA}": "b",
        "\N{GREEK SMALL LETTER EPSILON}": "e",
        "\N{GREEK SMALL LETTER IOTA}": "i",
        "\N{GREEK SMALL LETTER KAPPA}": "k",
        "\N{GREEK SMALL LETTER NU}": "v",
        "\N{GREEK SMALL LETTER OMICRON}": "o",
        "\N{GREEK SMALL LETTER RHO}": "p",
        "\N{GREEK SMALL LETTER TAU}": "t",
        "\N{GREEK SMALL LETTER UPSILON}": "u",
        "\N{GREEK SMALL LETTER CHI}": "x",
    }
)
_WORD_CHAR = r"[^\W_]"  # a letter or digit, in any script
_BEFORE = rf"(?<!{_WORD_CHAR})"
_AFTER = rf"(?!{_WORD_CHAR})"
_INNER = "[" + re.escape(INNER_SEPARATORS) + "]"
_SPACED = r"[\s" + re.escape(INNER_SEPARATORS) + "]"
_BETWEEN_WORDS = r"[\s\-_]+"
_TERM_SPACES = re.compile(r"[\s\-_]+")
_TERM_DROPPED = str.maketrans("", "", INNER_SEPARATORS.replace("*", "").replace("-", ""))


def fold(text: str) -> str:
    """The text as terms are compared: compatibility forms, case, accents and look-alikes gone."""
    text = unicodedata.normalize("NFKC", text).casefold()
    text = "".join(
        char
        for char in unicodedata.normalize("NFKD", text)
        if not unicodedata.combining(char) and unicodedata.category(char) != "Cf"
    )
    return text.translate(_FOLD)


def normalise_term(raw: str) -> str:
    """The form a blocked term is saved in, or InvalidSetting saying what is wrong with it.

    Folded like prompts, runs of spaces, hyphens and underscores made one space, and other
    separators dropped ("B.A.D" -> "bad"); a `*` may stand at the start or end only.
    """
    text = fold(raw).strip()
    prefix = text.startswith("*")
    suffix = len(text) > 1 and text.endswith("*")
    text = text.strip("*").strip()
    if "*" in text:
        raise InvalidSetting(of("terms.invalid.star"))
    text = _TERM_SPACES.sub(" ", text).translate(_TERM_DROPPED)
    text = " ".join(text.split())
    if not any(char.isalnum() for char in text):
        raise InvalidSetting(of("terms.invalid.no_letter"))
    for char in text:
        if not (char.isalnum() or char == " " or char in _SWAP_SYMBOLS):
            swaps = " ".join(sorted(_SWAP_SYMBOLS))
            raise InvalidSetting(of("terms.invalid.character", swaps=swaps, char=repr(char)))
    if len(text) > MAX_TERM_LENGTH:
        raise InvalidSetting(of("terms.invalid.length", limit=MAX_TERM_LENGTH, count=len(text)))
    return ("*" if prefix else "") + text + ("*" if suffix else "")


@dataclass(frozen=True, slots=True)
class TermMatch:
    """Where a blocked term was found: the term as saved and the folded text it matched."""

    term: str
    matched: str


class BlockedTerms:
    """A list of saved terms, compiled once; `find` is safe to call from many threads.

    Compiling is the slow part (about a millisecond per term), so callers on the event loop
    should build and use this in a worker thread (as `screening.screen` does).
    """

    __slots__ = ("_any", "terms")

    def __init__(self, terms: tuple[str, ...]) -> None:
        self.terms = terms
        # One pass over the prompt for all terms; the boundary checks stand outside the
        # alternation so that positions inside a word fail at once.
        bodies = "|".join(_term_body(term) for term in terms)
        self._any = re.compile(f"{_BEFORE}(?:{bodies}){_AFTER}") if terms else None

    def find(self, prompt: str) -> TermMatch | None:
        """The first blocked term in the prompt, or None."""
        if self._any is None:
            return None
        text = fold(prompt)
        found = self._any.search(text)
        if found is None:
            return None
        # Which term it was: the first one, in the alternation's order, matching there.
        for term in self.terms:
            match = _single(term).match(text, found.start())
            if match is not None:
                return TermMatch(term, match.group())
        raise AssertionError("the combined pattern matched where no single term does")


# A full list of 200 terms compiles to about 1.5 MiB; 128 lists is the most kept at once.
@functools.lru_cache(maxsize=128)
def compile_terms(terms: tuple[str, ...]) -> BlockedTerms:
    """The compiled form of saved terms, cached by the tuple (one per server in practice)."""
    return BlockedTerms(terms)


@functools.lru_cache(maxsize=1024)
def _single(term: str) -> re.Pattern[str]:
    return re.compile(_BEFORE + _term_body(term) + _AFTER)


def _term_body(term: str) -> str:
    prefix, suffix = term.startswith("*"), term.endswith("*") and len(term) > 1
    words = term.strip("*").split(" ")
    body = _BETWEEN_WORDS.join(_word_pattern(word) for word in words)
    if prefix:
        body = _WORD_CHAR + "*" + body
    if suffix:
        body += _WORD_CHAR + "*"
    return body


def _word_pattern(word: str) -> str:
    classes = [_char_class(char) for char in word]
    if len(classes) == 1:
        return classes[0]
    joined = (_INNER + "*").join(classes)
    spaced = (_SPACED + "+").join(classes)
    return f"(?:{joined}|{spaced})"


@functools.cache
def _char_class(char: str) -> str:
    """A term character and everything that may stand for it in a prompt."""
    if char in SWAPS:
        members = char + SWAPS[char]
    else:
        # A swap character in a term ("b4d") matches every letter it may stand for.
        members = char + "".join(
            letter + SWAPS[letter] for letter, swaps in SWAPS.items() if char in swaps
        )
    unique = "".join(dict.fromkeys(members))
    if len(unique) == 1:
        return re.escape(unique)
    return "[" + "".join(re.escape(member) for member in unique) + "]"
