"""The bot itself: the entry point, command sync, and the tree's error handling."""

from __future__ import annotations

import logging

import pytest

from tests.cogs.support import refused_at_once, result
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord

COMMAND_OUTDATED = (
    "This command was just updated and Discord is still showing you the old version. "
    "Wait a minute (or restart Discord) and try again."
)


async def test_a_restart_with_the_same_commands_does_not_sync_again(
    start_bot: StartBot, fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with start_bot():
        pass
    assert len(fake_discord.command_puts) == 1
    registered = fake_discord.registered_commands(fake_discord.guild.id)
    async with start_bot():
        interaction = await fake_discord.invoke("imagine", {"prompt": "a second life"})
        await result(interaction)
    assert len(fake_discord.command_puts) == 1
    assert fake_discord.registered_commands(fake_discord.guild.id) == registered
    assert any("up to date" in r.getMessage() for r in caplog.records)


async def test_a_changed_command_set_is_synced(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot(IMAGE_MODEL="gpt-image-2"):
        pass
    async with start_bot(IMAGE_MODEL="dall-e-3"):
        pass
    async with start_bot(IMAGE_MODEL="dall-e-3", ALLOW_DMS="true"):
        pass
    first, second, third = fake_discord.command_puts
    assert [c["name"] for c in first.commands] == [
        "imagine",
        "edit",
        "vary",
        "quota",
        "help",
        "imagine-settings",
        # Issue 12's message commands, where the model can vary and edit.
        "Vary this image",
        "Edit this image",
    ]
    assert [c["name"] for c in second.commands] == ["imagine", "quota", "help", "imagine-settings"]
    # The server settings stay server-only whatever ALLOW_DMS says.
    contexts = {c["name"]: c["contexts"] for c in third.commands}
    assert contexts == {
        "imagine": [0, 1],
        "quota": [0, 1],
        "help": [0, 1],
        "imagine-settings": [0],
    }
    assert {p.guild_id for p in fake_discord.command_puts} == {fake_discord.guild.id}


async def test_without_a_server_id_commands_sync_globally_once(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot(DISCORD_GUILD_ID=""):
        pass
    async with start_bot(DISCORD_GUILD_ID=""):
        pass
    [put] = fake_discord.command_puts
    assert put.guild_id is None
    assert [c["name"] for c in fake_discord.registered_commands()] == [
        "imagine",
        "edit",
        "vary",
        "quota",
        "help",
        "imagine-settings",
        "Vary this image",  # issue 12
        "Edit this image",
    ]
    assert fake_discord.registered_commands(fake_discord.guild.id) == []


async def test_a_failed_sync_is_logged_and_the_bot_keeps_running(
    start_bot: StartBot, fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    async with start_bot(IMAGE_MODEL="gpt-image-2"):
        pass
    # The daily command-create quota is spent: the old commands stay.
    fake_discord.fail_next(
        "PUT",
        "/applications/*/commands",
        429,
        30034,
        "Max number of daily application command creates has been reached (200)",
    )
    async with start_bot(IMAGE_MODEL="dall-e-3"):
        # Discord still offers /edit, which this model can't do.
        image = fake_discord.add_attachment(b"\x89PNG", "a.png")
        stale = await fake_discord.invoke("edit", {"image": image, "prompt": "a boat"})
        text = await refused_at_once(stale)
        fresh = await fake_discord.invoke("imagine", {"prompt": "a boat"})
        await result(fresh)
    assert text == COMMAND_OUTDATED
    assert any(
        r.levelno == logging.ERROR and "could not sync" in r.getMessage() for r in caplog.records
    )
