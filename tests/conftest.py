"""The whole bot against the two fakes: a fake Discord and a fake Images API on 127.0.0.1.

`bot_env` starts the real entry point (`bot.__main__.run`) with settings pointing at the
fakes, waits until the fake Discord has seen it identify, and shuts it down afterwards the
way SIGTERM would.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from bot.__main__ import run
from bot.app import ImagineBot
from bot.config import Settings
from tests.fakes.discord import FakeDiscord
from tests.fakes.images_api import FakeImagesAPI

API_KEY = "sk-test-0123456789abcdefghij"

StartBot = Callable[..., AbstractAsyncContextManager[ImagineBot]]


@pytest.fixture
async def fake_discord() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake
    assert fake.internal_errors == []


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeImagesAPI]:
    async with FakeImagesAPI(api_key=API_KEY) as api:
        yield api


def settings_for(
    fake_discord: FakeDiscord, fake_api: FakeImagesAPI, data_dir: Path, **env: str
) -> Settings:
    """Settings for a bot that talks only to the fakes; `env` adds or overrides settings."""
    values = {
        "DISCORD_TOKEN": fake_discord.token,
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": fake_api.base_url,
        "IMAGE_MODEL": "gpt-image-2",
        "DATA_DIR": str(data_dir),
        "DISCORD_GUILD_ID": str(fake_discord.guild.id),
        "USER_ID_SALT": "a-test-salt-that-is-long-enough",
        "IMAGES_MAX_ATTEMPTS": "2",
        "IMAGES_RETRY_DEADLINE_SECONDS": "20",
        "SHUTDOWN_GRACE_SECONDS": "10",
        **env,
    }
    return Settings.from_env(values)


@asynccontextmanager
async def running_bot(settings: Settings, fake_discord: FakeDiscord) -> AsyncIterator[ImagineBot]:
    """Run the bot through its entry point until the block ends, then shut it down."""
    started: asyncio.Future[ImagineBot] = asyncio.get_running_loop().create_future()
    generation = fake_discord.ready_generation
    task = asyncio.create_task(run(settings, started=started), name="imagine-bot")
    bot = await started
    ready = asyncio.create_task(fake_discord.wait_until_ready(after=generation))
    await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
    if not ready.done():
        ready.cancel()
        task.result()
        raise RuntimeError("the bot stopped before it was ready")
    ready.result()
    try:
        yield bot
    finally:
        await bot.shutdown()
        await asyncio.wait_for(task, 30)


@pytest.fixture
def start_bot(fake_discord: FakeDiscord, fake_api: FakeImagesAPI, tmp_path: Path) -> StartBot:
    """`async with start_bot(IMAGE_MODEL="dall-e-2") as bot:` runs a bot on the fakes."""

    def start(**env: str) -> AbstractAsyncContextManager[ImagineBot]:
        return running_bot(
            settings_for(fake_discord, fake_api, tmp_path / "data", **env), fake_discord
        )

    return start
