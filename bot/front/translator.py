"""Slash-command descriptions and choice labels in the member's language (`tree.set_translator`).

discord.py asks the translator for every `locale_str` of a command when it builds the payload
it syncs; the answers become Discord's `*_localizations`. The English stays in the cogs (it is
what Discord shows by default); the other languages come from the catalogues, under keys
derived from where the string sits, so the cogs need no keys:

    command.<command path, dots>.description      command.imagine-settings.roles.add.description
    command.<command path, dots>.option.<option>  command.imagine.option.prompt
    option.<option>, for an option several commands share             option.size
    choice.<value, as a word>, or the `key` a `locale_str` carries (other extras: its fields)

Command and option NAMES stay English, so help and screenshots work across servers.
"""

from __future__ import annotations

import re
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import TranslationContextLocation as Where

from bot.front.i18n import ENGLISH, catalogues, fill, language, lookup


def message_keys(
    string: app_commands.locale_str, context: app_commands.TranslationContextTypes
) -> tuple[str, ...]:
    """The catalogue keys to try for a command's string, most specific first; none for names."""
    key = string.extras.get("key")
    if isinstance(key, str):
        return (key,)
    data: Any = context.data
    if context.location in (Where.command_description, Where.group_description):
        return (f"command.{_path(data)}.description",)
    if context.location is Where.parameter_description:
        # An option several commands share (n, size...) is translated once, as option.<name>.
        return (f"command.{_path(data.command)}.option.{data.name}", f"option.{data.name}")
    if context.location is Where.choice_name:
        word = re.sub(r"\W+", "_", str(data.value)).lower()  # "1 hour": choice.1_hour
        return (f"choice.{word}",)
    return ()


def _path(command: app_commands.Command[Any, ..., Any] | app_commands.Group) -> str:
    return command.qualified_name.replace(" ", ".")


class CatalogueTranslator(app_commands.Translator):
    """Answers discord.py's translation requests from the message catalogues."""

    async def load(self) -> None:
        # Called by `tree.set_translator` at start: a broken catalogue stops the start.
        catalogues()

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        lang = language(locale)
        if lang == ENGLISH:
            return None  # the English in the cogs is the default Discord shows
        return catalogue_text(lang, string, context)


def catalogue_text(
    lang: str, string: app_commands.locale_str, context: app_commands.TranslationContextTypes
) -> str | None:
    """The text of a command's string in shipped language `lang`; None where it has none."""
    found = next(
        (text for key in message_keys(string, context) if (text := lookup(lang, key))), None
    )
    if found is None:
        return None
    return fill(found, {name: value for name, value in string.extras.items() if name != "key"})
