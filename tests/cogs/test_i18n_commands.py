"""The registered commands in Chinese (through the fake Discord's command PUT records).

Descriptions and choice labels carry `zh-CN` localisations from the catalogue, names stay
English, the English in the cogs matches the English catalogue, and a changed translation is
synced on the next start. Through the real discord.py Interaction: a `zh-CN` member gets
Chinese, a `fr` one English, and the server's own words follow its preferred locale.
"""

# Chinese text is written with its own full-width punctuation.
# ruff: noqa: RUF001

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import discord
import pytest
from discord import app_commands

from bot.front.i18n import Words, text
from bot.front.translator import catalogue_text, message_keys
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord

ZH = "zh-CN"
SUBCOMMAND, GROUP = 1, 2
# Labels that are the API's own words in every language (file formats).
UNTRANSLATED_LABELS = {"png", "jpeg", "webp"}


def _strings(command: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every command, subcommand and option of `command` (with its path), and every choice."""
    stack: list[tuple[str, dict[str, Any]]] = [(command["name"], command)]
    while stack:
        path, item = stack.pop()
        yield path, item
        for option in item.get("options", []):
            nested = option["type"] in (SUBCOMMAND, GROUP)
            stack.append((f"{path} {option['name']}" if nested else path, option))
        for choice in item.get("choices", []):
            yield path, choice


@pytest.mark.parametrize(
    "model", ["gpt-image-2", "dall-e-2", "dall-e-3", "gpt-image-1-mini", "gpt-image-1"]
)
async def test_registered_commands_carry_chinese_descriptions_and_english_names(
    start_bot: StartBot, fake_discord: FakeDiscord, model: str
) -> None:
    async with start_bot(IMAGE_MODEL=model):
        pass
    [put] = fake_discord.command_puts
    assert put.status == 200
    assert fake_discord.violations == []
    seen = 0
    for command in put.commands:
        if command.get("type") == 3:  # a message command (issue 12): a name, no description
            continue
        for path, item in _strings(command):
            # Names stay English, so help and screenshots work across servers.
            assert not item.get("name_localizations") or "value" in item, (path, item["name"])
            if "value" in item:  # a choice: its label is its name
                if item["name"] in UNTRANSLATED_LABELS:
                    continue
                localised = item.get("name_localizations") or {}
            else:
                localised = item.get("description_localizations") or {}
            assert ZH in localised, (path, item["name"])
            assert localised[ZH] != item.get("description", item["name"]), (path, item["name"])
            assert set(localised) == {ZH}, "only the shipped languages are sent"
            seen += 1
    assert seen > 20


async def test_the_english_in_the_cogs_is_the_english_catalogues(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot():
        pass
    [put] = fake_discord.command_puts
    imagine = next(c for c in put.commands if c["name"] == "imagine")
    assert imagine["description"] == text("en-US", "command.imagine.description")
    assert imagine["description_localizations"][ZH] == text(ZH, "command.imagine.description")
    prompt = next(o for o in imagine["options"] if o["name"] == "prompt")
    assert prompt["description"] == text(None, "command.imagine.option.prompt")
    size = next(o for o in imagine["options"] if o["name"] == "size")
    square = next(c for c in size["choices"] if c["value"] == "1024x1024")
    assert square["name"] == text(None, "choice.size.square", size="1024x1024")
    assert square["name_localizations"] == {ZH: "1024x1024（方形）"}


async def test_a_changed_translation_is_synced_on_the_next_start(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot():
        pass
    guild = fake_discord.guild.id
    # What Discord holds from an older release, whose Chinese for /quota was different.
    fake_discord._find_command("quota", guild)["description_localizations"][ZH] = "旧的说明"
    async with start_bot():
        pass
    assert len(fake_discord.command_puts) == 2
    quota = fake_discord._find_command("quota", guild)
    assert quota["description_localizations"] == {ZH: text(ZH, "command.quota.description")}


@pytest.mark.parametrize(
    ("locale", "member", "server"),
    [("zh-CN", "高", "高"), ("fr", "high", "高"), ("en-GB", "high", "高")],
)
async def test_a_member_is_answered_in_their_language_and_the_server_in_its_own(
    start_bot: StartBot, fake_discord: FakeDiscord, locale: str, member: str, server: str
) -> None:
    fake_discord.guild.preferred_locale = "zh-CN"

    @app_commands.command(name="words", description="Say a word in two languages")
    async def words(interaction: discord.Interaction) -> None:
        for_member = Words.of(interaction)("choice.quality.high")
        for_server = Words.of_server(interaction.guild)("choice.quality.high")
        await interaction.response.send_message(f"{for_member}|{for_server}", ephemeral=True)

    async with start_bot() as bot:
        guild = discord.Object(fake_discord.guild.id)
        bot.tree.add_command(words, guild=guild)
        await bot.tree.sync(guild=guild)
        interaction = await fake_discord.invoke("words", locale=locale)
        response = await interaction.wait_for_response()
    assert response.data is not None
    assert response.data["content"] == f"{member}|{server}"


class _EnglishCheck(app_commands.Translator):
    """Compares each command string with the English catalogue's text for its key."""

    def __init__(self) -> None:
        super().__init__()
        self.differences: list[tuple[tuple[str, ...], str, str | None]] = []
        self.checked = 0

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        if locale is not discord.Locale.american_english or not message_keys(string, context):
            return None
        english = catalogue_text("en", string, context)
        if english != string.message and string.message not in UNTRANSLATED_LABELS:
            self.differences.append((message_keys(string, context), string.message, english))
        self.checked += 1
        return None


@pytest.mark.parametrize("model", ["gpt-image-2", "dall-e-2", "dall-e-3", "gpt-image-1-mini"])
async def test_every_english_string_in_the_cogs_is_the_english_catalogues(
    start_bot: StartBot, fake_discord: FakeDiscord, model: str
) -> None:
    check = _EnglishCheck()
    async with start_bot(IMAGE_MODEL=model) as bot:
        for command in bot.tree.get_commands(guild=discord.Object(fake_discord.guild.id)):
            await command.get_translated_payload(bot.tree, check)
    assert check.differences == []
    assert check.checked > 20
