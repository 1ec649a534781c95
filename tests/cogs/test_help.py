"""/help end to end: private, what each offered command does and costs, masks, the member's
allowance as /quota computes it, the server's rules that apply to them, tips, and link
buttons to the README's command sections (HELP_BASE_URL)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from bot.front.i18n import text
from tests.cogs.support import result
from tests.cogs.test_settings import (  # noqa: F401 - the autouse check
    configure,
    imagine,
    nothing_discord_would_refuse,
    quota,
)
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord, FakeMember, FakeUser

DOCS = "https://docs.example.org/imagine-bot/README.md"
LOCALES = Path(__file__).resolve().parents[2] / "locales"


async def ask_help(
    fake: FakeDiscord, *, user: FakeUser | FakeMember | None = None, **where: Any
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Run /help; its one embed and its components, checked to be a private first answer."""
    interaction = await fake.invoke("help", user=user, **where)
    response = await interaction.wait_for_response()
    assert response.ok, response
    assert (response.type, response.ephemeral) == (4, True), "/help answers privately"
    assert response.data is not None
    [embed] = response.data["embeds"]
    return embed, response.data["components"]


def fields(embed: dict[str, Any]) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed["fields"]}


def links(components: list[dict[str, Any]]) -> dict[str, str]:
    return {b["label"]: b["url"] for row in components for b in row["components"]}


async def test_help_explains_the_commands_masks_allowance_and_tips(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot(IMAGE_MODEL="dall-e-2", HELP_BASE_URL=DOCS + "#top"):
        await result(await imagine(fake_discord))
        embed, components = await ask_help(fake_discord)
        allowance = await quota(fake_discord)
    text = embed["description"]
    for command in ("/imagine", "/edit", "/vary", "/quota"):
        assert f"`{command}`" in text
    found = fields(embed)
    masks = found["Masks (for /edit)"]
    assert "transparent pixels" in masks
    assert "white" in masks
    assert "optional" not in masks  # DALL-E 2 needs a mask
    # The allowance as /quota computes it, after one image was made.
    mine = found["Your allowance"]
    assert "Each image counts once" in mine
    assert allowance.splitlines()[-1] in mine
    assert "1 of 10 images used" in mine
    assert "Be specific" in found["Tips for prompts"]
    assert "Every member may use them." in found["This server's rules for you"]
    assert links(components) == {
        f"/{name}": f"{DOCS}#{name}" for name in ("imagine", "edit", "vary", "quota")
    }


async def test_help_shows_the_servers_rules_for_the_member(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    guild = fake_discord.guild
    artists = fake_discord.add_role(guild, "Artists")
    async with start_bot():
        await configure(fake_discord, "channels add", {"channel": fake_discord.other_channel})
        await configure(fake_discord, "roles add", {"role": artists})
        await configure(fake_discord, "terms add", {"term": "forbidden"})
        embed, _ = await ask_help(fake_discord)
    rules = fields(embed)["This server's rules for you"]
    assert f"<#{fake_discord.other_channel.id}>" in rules
    assert f"<@&{artists.id}>" in rules
    assert "Some words are blocked" in rules
    assert "forbidden" not in rules  # the terms themselves stay the moderators' business
    # Asked in #general without the role: the refusal the commands would give, here.
    assert "Here: " in rules
    assert "Here, you can use them." not in rules


async def test_help_offers_only_the_models_commands(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot(IMAGE_MODEL="dall-e-3"):
        embed, components = await ask_help(fake_discord)
    assert "`/edit`" not in embed["description"]
    assert "Masks (for /edit)" not in fields(embed)
    assert set(links(components)) == {"/imagine", "/quota"}


async def test_help_speaks_the_members_language(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot():
        chinese, _ = await ask_help(fake_discord, locale="zh-CN")
        french, _ = await ask_help(fake_discord, locale="fr")
    assert chinese["title"] == "如何在这里生成图片"
    masks = [value for name, value in fields(chinese).items() if name.startswith("蒙版")]
    assert len(masks) == 1
    assert "可选" in masks[0]  # GPT image models: the mask is optional
    assert french["title"] == "How to make images here"


def test_the_new_words_are_translated_with_the_same_fields() -> None:
    # Read through `text` alone, so the check holds for whichever catalogue reader lands.
    keys = re.findall(
        r'^msgid "([a-z][^"]*)"$',
        (LOCALES / "en" / "LC_MESSAGES" / "messages.po").read_text(encoding="utf-8"),
        flags=re.MULTILINE,
    )
    assert {"result.posting", "help.title", "help.tips"} <= set(keys)
    for key in keys:
        english, chinese = text(None, key), text("zh-CN", key)
        assert english != key, key
        assert chinese != english, key
        assert sorted(re.findall(r"\{\w+\}", chinese)) == sorted(re.findall(r"\{\w+\}", english)), (
            key
        )
    assert text("fr", "help.title") == text("en-US", "help.title") == "How to make images here"
