"""Stopping: no new commands, running jobs finish within the grace period, then a clean close."""

from __future__ import annotations

import asyncio
import logging
import os
import signal

import pytest

from tests.cogs.support import eventually, private_reply, refused_at_once, result
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord
from tests.fakes.images_api import FakeImagesAPI

# What an English-speaking member reads (bot.front.tree, bot.front.jobs).
RESTARTING = (
    "The bot is restarting and isn't taking new requests right now. Please try again in a minute."
)
STOPPED = (
    "The bot had to restart before your request was finished, so it was stopped. "
    "Please try again in a minute."
)


async def test_shutdown_lets_running_jobs_finish_and_refuses_new_ones(
    start_bot: StartBot,
    fake_discord: FakeDiscord,
    fake_api: FakeImagesAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    fake_api.latency = 0.8
    async with start_bot() as bot:
        running = await fake_discord.invoke("imagine", {"prompt": "one last picture", "n": 2})
        assert (await running.wait_for_response()).type == 5
        stopping = asyncio.create_task(bot.shutdown())
        await asyncio.sleep(0.05)
        assert not stopping.done()
        late = await fake_discord.invoke(
            "imagine", {"prompt": "too late"}, user=fake_discord.other_member
        )
        assert await refused_at_once(late) == RESTARTING
        seen = await result(running)
        await asyncio.wait_for(stopping, 5)
        assert bot.is_closed()
    assert len(seen.files) == 2
    assert [r.fields["prompt"] for r in fake_api.requests] == ["one last picture"]
    assert bot.session.closed
    assert any("waiting up to" in r.getMessage() for r in caplog.records)
    assert not fake_discord.violations


async def test_jobs_still_running_after_the_grace_period_are_stopped_and_told(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.fail_next("slow", delay=10.0)
    async with start_bot(SHUTDOWN_GRACE_SECONDS="0.3") as bot:
        interaction = await fake_discord.invoke("imagine", {"prompt": "a very slow picture"})
        assert (await interaction.wait_for_response()).type == 5
        await eventually(lambda: bool(fake_api.requests))
        await asyncio.wait_for(bot.shutdown(), 5)
        text = await private_reply(interaction)
    assert text == STOPPED
    assert bot.is_closed()
    assert bot.session.closed


async def test_sigterm_shuts_down_gracefully(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.latency = 0.5
    async with start_bot() as bot:
        interaction = await fake_discord.invoke("imagine", {"prompt": "a sunset"})
        assert (await interaction.wait_for_response()).type == 5
        os.kill(os.getpid(), signal.SIGTERM)
        seen = await result(interaction)
        await eventually(bot.is_closed)
        assert bot.closing
    assert len(seen.files) == 1
    # The entry point put the default handler back.
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL


async def test_a_member_is_told_of_the_restart_even_when_the_reply_fails(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.latency = 0.5
    async with start_bot() as bot:
        running = await fake_discord.invoke("imagine", {"prompt": "one last picture"})
        assert (await running.wait_for_response()).type == 5
        stopping = asyncio.create_task(bot.shutdown())
        await asyncio.sleep(0.05)
        fake_discord.fail_next("POST", "/interactions/*/callback", 400, 0, "Bad Request")
        late = await fake_discord.invoke("imagine", {"prompt": "too late"})
        dm = await fake_discord.wait_for_message(
            lambda m: m.channel_id == fake_discord.dm_channel.id
        )
        await result(running)
        await stopping
    assert dm.content.endswith(RESTARTING)
    assert late.callback_attempts == []
