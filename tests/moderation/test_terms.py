"""Blocked terms: what is saved, what is caught, and what innocent prompts still pass."""

from __future__ import annotations

import random
import string
import time

import pytest

from bot.front.explain import explain
from bot.moderation import InvalidSetting
from bot.moderation.terms import (
    MAX_TERM_LENGTH,
    BlockedTerms,
    compile_terms,
    fold,
    normalise_term,
)


def wide(text: str) -> str:
    """The text in full-width letters (U+FF01 onwards), as some keyboards type them."""
    return "".join(chr(ord(char) + 0xFEE0) for char in text)


@pytest.mark.parametrize(
    ("raw", "saved"),
    [
        ("bad", "bad"),
        ("  BAD  ", "bad"),
        ("Bäd", "bad"),  # accents go
        (wide("BAD"), "bad"),  # full-width letters (NFKC)
        ("B.A.D", "bad"),  # separators inside a word are dropped
        ("b'a`d", "bad"),
        ("bad   thing", "bad thing"),  # one space between words
        ("bad-thing", "bad thing"),  # hyphens and underscores separate words
        ("bad__thing", "bad thing"),
        ("b4d", "b4d"),  # swaps are kept as typed (they match their letters anyway)
        ("bad*", "bad*"),
        ("*cide", "*cide"),
        ("*bad*", "*bad*"),
        ("Straße", "strasse"),  # casefold
        ("ﬁsh", "fish"),  # ligature (NFKC)
        ("Øre", "ore"),  # a letter NFKD leaves alone
        ("b\u200bad", "bad"),  # zero-width space
        ("\N{CYRILLIC SMALL LETTER A}ss", "ass"),  # a look-alike
    ],
)
def test_terms_are_normalised_on_save(raw: str, saved: str) -> None:
    assert normalise_term(raw) == saved


@pytest.mark.parametrize(
    ("raw", "complaint"),
    [
        ("", "at least one letter or digit"),
        ("   ", "at least one letter or digit"),
        ("*", "at least one letter or digit"),
        ("...", "at least one letter or digit"),
        ("b*d", "* only at its start or end"),
        ("bad#word", "'#' isn't one of them"),
        ("bad😀", "isn't one of them"),
        (
            "x" * (MAX_TERM_LENGTH + 1),
            f"at most {MAX_TERM_LENGTH} characters long (that one has 61)",
        ),
    ],
)
def test_unusable_terms_are_explained(raw: str, complaint: str) -> None:
    with pytest.raises(InvalidSetting) as refused:
        normalise_term(raw)
    assert complaint in explain(None, refused.value)


def test_a_term_of_the_maximum_length_is_fine() -> None:
    assert normalise_term("x" * MAX_TERM_LENGTH) == "x" * MAX_TERM_LENGTH


def test_fold_handles_case_accents_width_and_invisible_characters() -> None:
    assert fold("ÉCOLE " + wide("caf") + "é\u00adx") == "ecole cafex"
    assert fold("İstanbul") == "istanbul"


BLOCKED = ("ass", "bad", "kill", "bad thing", "nsfw*", "*cide", "naz1")

# (prompt, the term that catches it, or None for a prompt that must pass)
CASES: list[tuple[str, str | None]] = [
    # the term itself, on whole words
    ("a bad idea", "bad"),
    ("bad", "bad"),
    ("BAD!", "bad"),
    ("(bad)", "bad"),
    ("it's bad's fault", "bad"),
    ('"bad"', "bad"),
    # case, accents, full width, look-alikes, invisible characters
    ("BaD", "bad"),
    ("bád", "bad"),
    ("b\u0061\u0301d", "bad"),  # a + combining acute
    (wide("bad"), "bad"),
    ("\N{CYRILLIC SMALL LETTER A}ss", "ass"),
    ("k\N{GREEK SMALL LETTER IOTA}ll", "kill"),
    ("b\u200bad", "bad"),  # zero-width space inside
    ("ba\u00add", "bad"),  # soft hyphen inside
    # character swaps
    ("b4d", "bad"),
    ("b@d", "bad"),
    ("8ad", "bad"),
    ("@ss", "ass"),
    ("a$$", "ass"),
    ("45s", "ass"),
    ("k1ll", "kill"),
    ("k!ll", "kill"),
    ("k1|1", "kill"),
    ("K|LL", "kill"),
    ("nazi", "naz1"),  # a swap in the term stands for its letters
    ("nazl", "naz1"),
    ("naz!", "naz1"),
    # separators between letters
    ("b.a.d", "bad"),
    ("b-a-d", "bad"),
    ("b_a_d", "bad"),
    ("b...a...d", "bad"),
    ("b*a*d", "bad"),
    ("b.4.d", "bad"),
    ("b a d", "bad"),  # spaced out, every letter alone
    ("b  a  d", "bad"),
    ("b. a. d", "bad"),
    # phrases: any run of spaces, hyphens or underscores between the words
    ("such a bad thing", "bad"),  # "bad" alone is blocked too, and comes first
    ("BAD  THING", "bad"),
    # wildcards at the ends
    ("nsfw", "nsfw*"),
    ("NSFWstuff", "nsfw*"),
    ("pesticide", "*cide"),
    ("c1de", "*cide"),
    # innocent prompts that merely contain a blocked term
    ("a class act", None),
    ("Scunthorpe United", None),
    ("assassin's creed", None),  # "ass" is a whole word only
    ("passage", None),
    ("badge and badger", None),
    ("skill and killer", None),
    ("cl@ss", None),  # swaps do not break a word in two
    ("sub4d", None),
    ("bad1", None),  # a trailing digit makes it another word
    ("an al capone portrait", None),  # spaces only count between single letters
    ("b ad", None),
    ("a bad-tempered", "bad"),  # hyphenated words are separate words
    ("gosh darn", None),
    ("nsf w", None),
    ("suicidal", None),  # "*cide" needs the word to end in cide
    ("", None),
]


@pytest.mark.parametrize(("prompt", "caught_by"), CASES)
def test_blocked_terms_are_caught_and_innocent_words_pass(
    prompt: str, caught_by: str | None
) -> None:
    found = compile_terms(tuple(normalise_term(term) for term in BLOCKED)).find(prompt)
    assert (found.term if found else None) == caught_by


def test_phrases_match_only_as_phrases() -> None:
    terms = compile_terms((normalise_term("bad thing"),))
    for prompt in ("bad thing", "BAD   thing", "bad-thing", "bad_thing", "b a d t h i n g"):
        found = terms.find(prompt)
        assert found is not None, prompt
        assert found.term == "bad thing"
    for prompt in ("bad", "thing", "bad things", "a badthing", "bad. thing", "bad other thing"):
        assert terms.find(prompt) is None, prompt


def test_no_stemming_and_no_collapsed_repeats() -> None:
    terms = compile_terms(("god", "cat"))
    assert terms.find("cats") is None
    assert terms.find("good") is None
    assert terms.find("caat") is None
    assert compile_terms(("cat*",)).find("cats") is not None


def test_the_match_says_how_the_term_was_written() -> None:
    found = compile_terms(("bad",)).find("that is B.4.D really")
    assert found is not None
    assert found.term == "bad"
    assert found.matched == "b.4.d"


def test_compiled_terms_are_cached_by_the_tuple() -> None:
    assert compile_terms(("one", "two")) is compile_terms(("one", "two"))
    assert compile_terms(("one", "two")) is not compile_terms(("two", "one"))
    assert compile_terms(()).find("anything at all") is None


def test_matching_is_deterministic_and_fast_enough_for_every_command() -> None:
    rng = random.Random(6)
    terms = tuple(
        dict.fromkeys(
            "".join(rng.choice(string.ascii_lowercase) for _ in range(rng.randint(4, 10)))
            for _ in range(200)
        )
    )
    compiled = BlockedTerms(terms)
    words = ["a", "picture", "of", "the", "sunset", "over", "quiet", "hills", "painted"]
    prompt = " ".join(rng.choice(words) for _ in range(1000))[:6000]  # Discord's longest
    started = time.perf_counter()
    for _ in range(5):
        assert compiled.find(prompt) is None
    per_prompt = (time.perf_counter() - started) / 5
    assert per_prompt < 0.05, f"{per_prompt * 1000:.1f} ms for a 6000-character prompt"
    with_term = prompt[:3000] + f" {terms[-1].upper()} " + prompt[3000:]
    first = compiled.find(with_term)
    assert first is not None
    assert first.term == terms[-1]
    assert compiled.find(with_term) == first
