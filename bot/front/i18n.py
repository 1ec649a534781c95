"""The member's language: message catalogues (gettext .po files) and the words drawn from them.

Catalogues live in `locales/<lang>/LC_MESSAGES/messages.po`, keyed by stable dotted ids
(`queue.place`), with `str.format` fields (`{position}`) and, for plurals, a `{count}`. They are
read with Babel when first needed (the translator loads them at start, so a broken file stops
the start, not a reply): no compile step, the .po files are the only source.

    text(interaction.locale, "queue.place", position=3)
    words = Words.of(interaction); words("quota.images", count=2); words.number(1234)
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from babel import Locale
from babel.lists import format_list
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

if TYPE_CHECKING:
    import discord

log = logging.getLogger(__name__)

ENGLISH = "en"
# Every language the bot ships, as gettext names (the folders under locales/).
SHIPPED = (ENGLISH, "zh_CN")
LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"

# Discord's locale names (discord.Locale values) for the languages we ship; anything else is
# English. Discord's "zh-TW" is Traditional Chinese, which zh_CN is not.
_FROM_DISCORD = {"zh-CN": "zh_CN", "en-US": ENGLISH, "en-GB": ENGLISH}


def language(locale: object | None) -> str:
    """The shipped language for a Discord locale ("zh-CN", discord.Locale.chinese, None...)."""
    if locale is None:
        return ENGLISH
    return _FROM_DISCORD.get(str(locale), ENGLISH)


@dataclass(frozen=True, slots=True)
class Entry:
    """One message in one language: its text, or its plural forms in the language's order."""

    forms: tuple[str, ...]
    plural: bool


@dataclass(frozen=True, slots=True)
class Catalogue:
    """One language's messages and its plural rule."""

    lang: str
    entries: Mapping[str, Entry]
    locale: Locale

    def pick(self, key: str, count: object) -> str | None:
        """The text of `key`, in the plural form `count` needs; None when it has none."""
        entry = self.entries.get(key)
        if entry is None:
            return None
        if not entry.plural:
            return entry.forms[0]
        index = self.locale.plural_form(count) if isinstance(count, int | float) else "other"
        order = _plural_order(self.locale)
        position = order.index(index) if index in order else len(order) - 1
        form = entry.forms[min(position, len(entry.forms) - 1)]
        return form or None


def _plural_order(locale: Locale) -> tuple[str, ...]:
    # gettext's msgstr[i] follow CLDR's categories in this order (what Babel's plural-forms
    # header expresses): "one" first for English, the single "other" for Chinese.
    present = set(locale.plural_form.tags) | {"other"}
    return tuple(t for t in ("zero", "one", "two", "few", "many", "other") if t in present)


def read_catalogue(lang: str, path: Path) -> Catalogue:
    """Read one .po file; fuzzy and untranslated entries are left out (they fall back)."""
    with path.open("rb") as file:
        po = read_po(file, locale=lang)
    entries: dict[str, Entry] = {}
    for message in po:
        if not message.id or message.fuzzy:
            continue
        key = message.id[0] if isinstance(message.id, tuple | list) else message.id
        strings = message.string
        forms = tuple(
            s or "" for s in (strings if isinstance(strings, tuple | list) else (strings,))
        )
        if any(forms):
            entries[key] = Entry(forms, message.pluralizable)
    return Catalogue(lang, entries, Locale.parse(lang))


@functools.cache
def catalogues(root: Path = LOCALES_DIR) -> Mapping[str, Catalogue]:
    """Every shipped catalogue, read once (the first call, normally at start)."""
    found = {
        lang: read_catalogue(lang, root / lang / "LC_MESSAGES" / "messages.po") for lang in SHIPPED
    }
    log.info("message catalogues loaded: %s", ", ".join(sorted(found)))
    return found


class _Fields(dict[str, object]):
    """Format fields that leave a missing one visible instead of failing the reply."""

    def __missing__(self, name: str) -> str:
        log.warning("a message is missing its field %r", name)
        return "{" + name + "}"


def lookup(lang: str, key: str, count: object = None) -> str | None:
    """The raw catalogue text of `key` in `lang`, or None: no fallback, nothing filled in."""
    catalogue = catalogues().get(lang)
    return catalogue.pick(key, count) if catalogue is not None else None


def text(locale: str | None, key: str, /, **fields: object) -> str:
    """The message `key` in the language of Discord `locale`, its fields filled in.

    Falls back to English, then to the key itself (a missing message shows, it never fails).
    A `count` field chooses the plural form of a plural message.
    """
    count = fields.get("count")
    found = lookup(language(locale), key, count)
    if found is None:
        found = lookup(ENGLISH, key, count)
    if found is None:
        log.warning("no message %r in the catalogue", key)
        return key
    return fill(found, fields)


def fill(template: str, fields: Mapping[str, object]) -> str:
    """`template` with its `{fields}` filled in; a missing one stays visible, never fails."""
    return template.format_map(_Fields(fields))


def member_locale(interaction: discord.Interaction) -> str | None:
    """The locale to answer `interaction` in: the member's, else the server's, else None."""
    return str(interaction.locale or "") or (
        str(interaction.guild_locale) if interaction.guild_locale else None
    )


@dataclass(frozen=True, slots=True)
class Words:
    """The catalogue bound to one locale, for a reply that has several messages or numbers."""

    locale: str | None

    @classmethod
    def of(cls, interaction: discord.Interaction) -> Words:
        """Words in the language of the member who sent `interaction`."""
        return cls(member_locale(interaction))

    @classmethod
    def of_server(cls, guild: discord.Guild | None) -> Words:
        """Words in a server's preferred language (the mod-log, messages with no member)."""
        return cls(str(guild.preferred_locale) if guild is not None else None)

    @property
    def lang(self) -> str:
        """The shipped language these words are in ("en", "zh_CN")."""
        return language(self.locale)

    def __call__(self, key: str, /, **fields: object) -> str:
        return text(self.locale, key, **fields)

    def number(self, value: float) -> str:
        """`value` written the way the language writes numbers (1,234 / 1,234.5)."""
        return format_decimal(value, locale=self.lang)

    def list(self, items: Iterable[str]) -> str:
        """`items` joined the way the language lists things ("a, b and c" / "a、b和c")."""
        return format_list(list(items), locale=self.lang)
