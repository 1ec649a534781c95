"""Every word a member reads, from the catalogues in locales/ (minimal until the i18n helper's
version lands: the lead keeps that one; this keeps its `text` signature).

Message ids are stable dotted keys; placeholders are `str.format` named fields.
"""

from __future__ import annotations

import ast
import functools
import logging
from pathlib import Path

log = logging.getLogger(__name__)

LOCALES = Path(__file__).resolve().parents[2] / "locales"
_LANGUAGES = {"zh-CN": "zh_CN", "zh_CN": "zh_CN"}


@functools.cache
def _catalogue(language: str) -> dict[str, str]:
    """The singular texts of one language's messages.po (msgid -> msgstr / msgstr[0])."""
    path = LOCALES / language / "LC_MESSAGES" / "messages.po"
    entries: dict[str, str] = {}
    key: str | None = None
    field = ""
    values: dict[str, str] = {}

    def flush() -> None:
        text = values.get("msgstr", values.get("msgstr[0]", ""))
        if key and text:
            entries[key] = text

    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("msgid "):
            flush()
            key, field, values = None, "msgid", {}
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition(" ")
        if line.startswith('"'):
            values[field] = values.get(field, "") + ast.literal_eval(line)
        else:
            field = name
            values[field] = ast.literal_eval(rest)
        if field == "msgid":
            key = values["msgid"]
    flush()
    return entries


def language_of(locale: str | None) -> str:
    """The catalogue for a Discord locale: zh-CN -> zh_CN, anything else -> en."""
    return _LANGUAGES.get(locale or "", "en")


def text(locale: str | None, key: str, /, **fields: object) -> str:
    """The catalogue's text for `key` in `locale`'s language with `fields` filled in; English
    when the language lacks it, the key itself when English does too."""
    for language in dict.fromkeys((language_of(locale), "en")):
        found = _catalogue(language).get(key)
        if found is not None:
            return found.format(**fields)
    log.error("no text for message id %s", key)
    return key
