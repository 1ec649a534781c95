"""Crash recovery: SIGKILL the real `python -m bot` at each stage of a job, restart it on the
same data, and see every interrupted job resolved as the API would charge it."""

from __future__ import annotations

import asyncio
import os
import signal
import stat
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from tests.cogs.support import eventually
from tests.cogs.test_entry_point import LAUNCH, REPO
from tests.cogs.test_limits import imagine, quota
from tests.conftest import API_KEY
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.interaction import FakeInteraction
from tests.fakes.images_api import FakeImagesAPI

ORIGINAL = "/webhooks/*/messages/@original"
# What an English-speaking member reads after a restart (bot.front.handover).
REFUNDED = (
    "⚠️ This request was stopped by a restart of the bot before it reached the image "
    "service. It was not counted against your allowance: please try again."
)
LOST = (
    "⚠️ This request was stopped by a restart of the bot after it was sent to the image "
    "service, which charges for it, so it counts against your allowance. Its images could "
    "not be recovered, sorry."
)
LATE = "Here are the images of this request: the bot restarted before it could post them."


@asynccontextmanager
async def bot_process(
    fake_discord: FakeDiscord, fake_api: FakeImagesAPI, data_dir: Path, **env: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m bot`'s main() in a process of its own, ready; killed at the end if alive."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "DISCORD_TOKEN": fake_discord.token,
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": fake_api.base_url,
        "IMAGE_MODEL": "gpt-image-2",
        "DISCORD_GUILD_ID": str(fake_discord.guild.id),
        "DATA_DIR": str(data_dir),
        **env,
    }
    generation = fake_discord.ready_generation
    log = (data_dir.parent / "bot.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LAUNCH,
        fake_discord.api_base,
        fake_discord.gateway_url,
        fake_discord.cdn_base,
        cwd=data_dir.parent,
        env=environment,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    log.close()  # the process has its own copy
    try:
        await fake_discord.wait_until_ready(30, after=generation)
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def killed(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGKILL)
    await process.wait()


def content_is(interaction: FakeInteraction, text: str) -> Callable[[], bool]:
    return lambda: interaction.original is not None and interaction.original.content == text


async def test_sigkill_before_sending_refunds_and_after_sending_charges(
    fake_discord: FakeDiscord, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    limits = {"LIMIT_WINDOW_IMAGES": "8", "MAX_CONCURRENT_REQUESTS": "1"}
    fake_api.latency = 60.0
    async with bot_process(fake_discord, fake_api, data, **limits) as process:
        sent = await imagine(fake_discord, n=4)
        await eventually(lambda: len(fake_api.requests) == 1, timeout=10)
        # Another member's job waits for the one running place: reserved, never sent.
        waiting = await imagine(fake_discord, user=fake_discord.other_member, n=4)
        assert (await waiting.wait_for_response()).type == 5
        # Its place in line is shown once its record is complete (the "thinking" message's id).
        await eventually(lambda: bool(waiting.original_edits), timeout=10)
        await killed(process)
    fake_api.latency = 0.0
    async with bot_process(fake_discord, fake_api, data, **limits):
        await eventually(content_is(waiting, REFUNDED), timeout=15)
        await eventually(content_is(sent, LOST), timeout=15)
        # Nothing is "in progress" any more: the sent job counts, the unsent one is given back.
        assert "4 of 8 images used, 4 left." in await quota(fake_discord)
        mine = await quota(fake_discord, user=fake_discord.other_member)
        assert "0 of 8 images used, 8 left." in mine
        assert "in progress" not in mine
    assert len(fake_api.requests) == 1  # the unsent job was never sent, before or after


async def test_sigkill_after_the_answer_delivers_the_images_on_restart(
    fake_discord: FakeDiscord, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    # Discord keeps the bot waiting before the result can replace the "thinking" message.
    fake_discord.rate_limit_next("PATCH", ORIGINAL, retry_after=60.0)
    async with bot_process(fake_discord, fake_api, data) as process:
        answered = await imagine(fake_discord, n=2)
        kept = data / "outbox" / str(answered.id)
        await eventually(lambda: kept.is_dir() and len(list(kept.glob("*.png"))) == 2, 10)
        assert stat.S_IMODE(kept.stat().st_mode) == 0o700
        assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in kept.iterdir())
        await killed(process)
    async with bot_process(fake_discord, fake_api, data):
        text = f"<@{fake_discord.member.id}> {LATE}"
        await eventually(content_is(answered, text), timeout=15)
        assert answered.original is not None
        assert len(answered.original.attachments) == 2
        await eventually(lambda: not kept.exists())
        assert "2 of 10 images used, 8 left." in await quota(fake_discord)
    assert len(fake_api.requests) == 1


async def test_a_thinking_message_that_is_gone_means_a_dm(
    fake_discord: FakeDiscord, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    fake_api.latency = 60.0
    async with bot_process(fake_discord, fake_api, data) as process:
        sent = await imagine(fake_discord, n=1)
        await eventually(lambda: len(fake_api.requests) == 1, timeout=10)
        await killed(process)
    assert sent.original is not None
    sent.original.deleted = True  # a moderator removed the "thinking…" message meanwhile
    fake_api.latency = 0.0
    async with bot_process(fake_discord, fake_api, data):

        def told() -> bool:
            return any(
                m.content == LOST and m.guild_id is None for m in fake_discord.all_messages()
            )

        await eventually(told, timeout=15)
