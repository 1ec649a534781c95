"""bot.front.i18n: the member's locale picks the language, the catalogue gives the words."""

# Chinese text is written with its own full-width punctuation.
# ruff: noqa: RUF001

from __future__ import annotations

from pathlib import Path

import pytest

from bot.front.i18n import Words, language, read_catalogue, text

# A real message of the shipped catalogues, with a field (the size in pixels).
SQUARE = "choice.size.square"

PLURAL_PO = """\
msgid ""
msgstr ""
"Language: {lang}\\n"
"Plural-Forms: {rule}\\n"
"Content-Type: text/plain; charset=utf-8\\n"

#. {{count}} is how many images
msgid "quota.images"
msgid_plural "quota.images"
{forms}

#, fuzzy
msgid "queue.place"
msgstr "{fuzzy}"
"""


@pytest.mark.parametrize(
    ("locale", "lang"),
    [
        ("zh-CN", "zh_CN"),
        ("en-US", "en"),
        ("en-GB", "en"),
        ("fr", "en"),
        ("zh-TW", "en"),  # Traditional Chinese is not what zh_CN ships
        (None, "en"),
    ],
)
def test_discord_locales_map_to_the_shipped_languages(locale: str | None, lang: str) -> None:
    assert language(locale) == lang


def test_a_chinese_member_gets_chinese_and_a_french_one_english() -> None:
    assert text("zh-CN", SQUARE, size="1024x1024") == "1024x1024（方形）"
    assert text("fr", SQUARE, size="1024x1024") == "1024x1024 (square)"
    assert text(None, SQUARE, size="1024x1024") == "1024x1024 (square)"


def test_a_missing_message_falls_back_to_the_key_and_a_missing_field_shows() -> None:
    assert text("zh-CN", "no.such.message") == "no.such.message"
    assert text("en-US", SQUARE) == "{size} (square)"


def test_words_are_bound_to_one_locale_and_format_numbers_and_lists() -> None:
    chinese, english = Words("zh-CN"), Words("en-GB")
    assert chinese.lang == "zh_CN"
    assert chinese("choice.quality.high") == "高"
    assert english("choice.quality.high") == "high"
    assert english.number(1234567) == "1,234,567"
    assert chinese.number(1234.5) == "1,234.5"
    assert english.list(["a", "b", "c"]) == "a, b, and c"
    assert chinese.list(["甲", "乙", "丙"]) == "甲、乙和丙"


def _write(tmp_path: Path, lang: str, rule: str, forms: str, fuzzy: str) -> Path:
    path = tmp_path / f"{lang}.po"
    po = PLURAL_PO.format(lang=lang, rule=rule, forms=forms, fuzzy=fuzzy)
    path.write_text(po, encoding="utf-8")
    return path


def test_plural_forms_follow_each_language_and_fuzzy_entries_are_left_out(
    tmp_path: Path,
) -> None:
    en_forms = 'msgstr[0] "{count} image"\nmsgstr[1] "{count} images"'
    english = read_catalogue(
        "en", _write(tmp_path, "en", "nplurals=2; plural=(n != 1);", en_forms, "You are {n}")
    )
    chinese = read_catalogue(
        "zh_CN",
        _write(tmp_path, "zh_CN", "nplurals=1; plural=0;", 'msgstr[0] "{count} 张图片"', "第 {n}"),
    )
    assert english.pick("quota.images", 1) == "{count} image"
    assert english.pick("quota.images", 0) == "{count} images"
    assert english.pick("quota.images", 7) == "{count} images"
    assert chinese.pick("quota.images", 1) == "{count} 张图片"
    assert chinese.pick("quota.images", 7) == "{count} 张图片"
    # A fuzzy entry is a translator's guess: it falls back to English, never shows.
    assert english.pick("queue.place", None) is None
    assert chinese.pick("queue.place", None) is None
