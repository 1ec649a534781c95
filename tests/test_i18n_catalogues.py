"""The shipped catalogues are complete and consistent (locales/<lang>/LC_MESSAGES/messages.po).

Every message id is translated in every shipped language with the same placeholders, no entry
is fuzzy, plurals have the language's number of forms and a {count}, ids are dotted keys.
"""

from __future__ import annotations

import ast
import re
import string
from collections import Counter
from pathlib import Path

import pytest
from babel import Locale
from babel.messages.catalog import Catalog, Message
from babel.messages.pofile import read_po

from bot.front.i18n import ENGLISH, LOCALES_DIR, SHIPPED

KEY = re.compile(r"^[a-z0-9_-]+(\.[a-z0-9_-]+)+$")


def _path(lang: str) -> Path:
    return LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po"


def _read(lang: str) -> Catalog:
    with _path(lang).open("rb") as file:
        return read_po(file, locale=lang)


def _messages(lang: str) -> dict[str, Message]:
    return {_key(m): m for m in _read(lang) if m.id}


def _key(message: Message) -> str:
    return str(message.id[0] if isinstance(message.id, tuple | list) else message.id)


def _forms(message: Message) -> list[str]:
    strings = message.string
    return [s or "" for s in (strings if isinstance(strings, tuple | list) else [strings])]


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_shipped_language_has_a_catalogue_and_no_other_folder_is_there() -> None:
    assert ENGLISH in SHIPPED
    assert sorted(p.name for p in LOCALES_DIR.iterdir() if p.is_dir()) == sorted(SHIPPED)
    for lang in SHIPPED:
        assert _path(lang).is_file(), lang


@pytest.mark.parametrize("lang", SHIPPED)
def test_ids_are_unique_dotted_keys_and_nothing_is_fuzzy(lang: str) -> None:
    raw = _path(lang).read_text(encoding="utf-8")
    ids = re.findall(r'^msgid "(.+)"$', raw, flags=re.MULTILINE)
    assert [k for k, n in Counter(ids).items() if n > 1] == []
    assert [k for k in ids if not KEY.match(k)] == []
    catalog = _read(lang)
    assert not catalog.fuzzy
    assert [_key(m) for m in catalog if m.id and m.fuzzy] == []


@pytest.mark.parametrize("lang", [lang for lang in SHIPPED if lang != ENGLISH])
def test_every_message_is_translated_with_the_same_placeholders(lang: str) -> None:
    english, other = _messages(ENGLISH), _messages(lang)
    assert sorted(set(english) ^ set(other)) == []
    for key, source in english.items():
        translated = other[key]
        assert source.pluralizable == translated.pluralizable, key
        wanted = set().union(*(_fields(f) for f in _forms(source)))
        found = set().union(*(_fields(f) for f in _forms(translated)))
        assert found == wanted, key


@pytest.mark.parametrize("lang", SHIPPED)
def test_every_entry_has_text_and_plurals_have_the_languages_forms(lang: str) -> None:
    forms_needed = Locale.parse(lang).plural_form.tags | {"other"}
    for key, message in _messages(lang).items():
        forms = _forms(message)
        assert all(forms), f"{lang}: {key} is untranslated"
        for form in forms:
            # Renders with str.format (no stray braces), whatever the field values.
            form.format(**dict.fromkeys(_fields(form), 1))
        if message.pluralizable:
            assert isinstance(message.id, tuple | list)
            assert message.id[1] == key, f"msgid_plural must repeat the key: {key}"
            assert len(forms) == len(forms_needed), f"{lang}: {key}"
            assert "count" in set().union(*(_fields(f) for f in forms)), key


def keys_used(source: str) -> set[str]:
    """The constant keys `source` renders: text(locale, "k"), words("k"), locale_str(key="k")."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        candidates: list[ast.expr] = []
        if name == "text" and len(node.args) >= 2:
            candidates.append(node.args[1])
        if name == "words" and node.args:
            candidates.append(node.args[0])
        candidates += [k.value for k in node.keywords if k.arg == "key"]
        found |= {
            c.value for c in candidates if isinstance(c, ast.Constant) and isinstance(c.value, str)
        }
    return found


def test_every_key_the_code_uses_is_in_the_english_catalogue() -> None:
    english = set(_messages(ENGLISH))
    root = LOCALES_DIR.parent
    for path in sorted([*root.joinpath("bot").rglob("*.py"), *root.joinpath("cogs").rglob("*.py")]):
        missing = keys_used(path.read_text(encoding="utf-8")) - english
        assert not missing, f"{path.relative_to(root)} uses keys no catalogue has: {missing}"


def test_the_key_finder_sees_each_way_of_rendering() -> None:
    source = """
text(interaction.locale, "queue.place", position=1)
words("quota.images", count=2)
MASK = locale_str("PNG", key="command.edit.option.mask.required")
label = locale_str(value, key=f"choice.{name}")
"""
    assert keys_used(source) == {
        "queue.place",
        "quota.images",
        "command.edit.option.mask.required",
    }
