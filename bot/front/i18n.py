"""Every word a member reads, from the gettext catalogues in `locales/<lang>/LC_MESSAGES/`.

A minimal reader of the language contract (PLAN-3): `text(locale, key, **fields)` returns the
catalogue's text for a Discord locale, falling back to English, then to the key. The i18n
work replaces this module with its own (Babel, plural rules, Discord's translator) behind
the same function.
"""

from __future__ import annotations

import ast
import functools
import logging
from collections.abc import Mapping
from pathlib import Path

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).resolve().parents[2] / "locales"
ENGLISH = "en"
# Discord locale -> catalogue; anything else reads English.
_LANGUAGES = {"zh-CN": "zh_CN", "zh_CN": "zh_CN"}

Catalogue = Mapping[str, tuple[str, ...]]  # key -> its forms (one, or singular and plural)


def language(locale: str | None) -> str:
    """The catalogue for Discord `locale` ("zh-CN" -> zh_CN; "en-US", "fr", None -> en)."""
    return _LANGUAGES.get(locale or "", ENGLISH)


def read_catalogue(path: Path) -> dict[str, tuple[str, ...]]:
    """The translated entries of one .po file (header, fuzzy and empty entries left out)."""
    entries: dict[str, tuple[str, ...]] = {}
    key: str | None = None
    forms: dict[int, str] = {}
    field: tuple[str, int] | None = None
    fuzzy = False

    def close() -> None:
        if key and not fuzzy and forms and all(forms.values()):
            entries[key] = tuple(forms[i] for i in sorted(forms))

    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line.startswith("#,") and "fuzzy" in line:
            fuzzy = True
        elif line.startswith("msgid "):
            close()
            key, forms, field = ast.literal_eval(line[6:]), {}, ("id", 0)
        elif line.startswith("msgstr"):
            head, _, quoted = line.partition(" ")
            index = int(head[7:-1]) if head.endswith("]") else 0
            forms[index] = ast.literal_eval(quoted)
            field = ("str", index)
        elif line.startswith('"') and field is not None:
            if field[0] == "str":
                forms[field[1]] += ast.literal_eval(line)
            elif key is not None:
                key += ast.literal_eval(line)
        elif not line:
            close()
            key, forms, field, fuzzy = None, {}, None, False
        elif line.startswith("msgid_plural"):
            field = ("plural", 0)
    close()
    return entries


@functools.cache
def catalogue(lang: str) -> Catalogue:
    """The catalogue of `lang`, read once."""
    path = LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po"
    return read_catalogue(path) if path.is_file() else {}


class _Fields(dict[str, object]):
    """Format fields that leave a missing one visible instead of failing the reply."""

    def __missing__(self, name: str) -> str:
        log.warning("a message is missing its field %r", name)
        return "{" + name + "}"


def text(locale: str | None, key: str, /, **fields: object) -> str:
    """The message `key` in the language of Discord `locale`, its fields filled in; a
    `count` field picks the plural form."""
    lang = language(locale)
    if key not in catalogue(lang):
        lang = ENGLISH
    forms = catalogue(lang).get(key)
    if forms is None:
        log.warning("no message %r in the catalogue", key)
        return key
    count = fields.get("count")
    form = forms[0]
    if len(forms) > 1 and lang == ENGLISH and count != 1:
        form = forms[1]
    return form.format_map(_Fields(fields))
