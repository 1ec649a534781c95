"""Bursts: one read of a server's settings for many commands, shared by the settings store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from bot.build import images_client
from bot.config import Settings
from bot.limits import Limiter
from bot.limits.store import MemoryStore
from bot.moderation.store import MemoryServerSettings
from bot.service import ImageService, Member


class SlowSettings(MemoryServerSettings):
    """Settings that take a moment to read, like a database, and count the reads."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def _read(self, guild_id: int) -> str | None:
        self.reads += 1
        await asyncio.sleep(0.01)
        return await super()._read(guild_id)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[tuple[ImageService, SlowSettings]]:
    settings = Settings.from_env(
        {
            "DISCORD_TOKEN": "MTIzNDU2Nzg5.discord-token-value",
            "OPENAI_API_KEY": "sk-test-key-0123456789abcdef",
            "DATA_DIR": str(tmp_path),
        }
    )
    servers = SlowSettings()
    async with aiohttp.ClientSession() as session:
        client = images_client(session, settings)
        yield (
            ImageService(client, session, Limiter(MemoryStore()), settings, servers=servers),
            servers,
        )


async def test_a_burst_of_commands_reads_the_server_settings_once(
    service: tuple[ImageService, SlowSettings],
) -> None:
    images, servers = service
    await servers.set_nsfw_only(42, True)
    member = Member(key="u-a", discord_id=1, guild_id=42)
    read = await asyncio.gather(*(images.server_settings(member) for _ in range(50)))
    assert servers.reads == 1
    assert all(settings is not None and settings.nsfw_only for settings in read)
    # Later commands read again (the store's own cache decides how often).
    await images.server_settings(member)
    assert servers.reads == 2


async def test_a_caller_that_leaves_does_not_cancel_the_read_for_the_others(
    service: tuple[ImageService, SlowSettings],
) -> None:
    images, servers = service
    member = Member(key="u-a", discord_id=1, guild_id=42)
    leaving = asyncio.create_task(images.server_settings(member))
    staying = asyncio.create_task(images.server_settings(member))
    await asyncio.sleep(0)
    leaving.cancel()
    assert (await staying) is not None
    assert servers.reads == 1
    with pytest.raises(asyncio.CancelledError):
        await leaving


async def test_direct_messages_have_no_server_settings(
    service: tuple[ImageService, SlowSettings],
) -> None:
    images, servers = service
    assert await images.server_settings(Member(key="u-a", discord_id=1)) is None
    assert servers.reads == 0


class SnapshotSettings(MemoryServerSettings):
    """Settings whose read sees the stored document first and answers a moment later."""

    async def _read(self, guild_id: int) -> str | None:
        document = await super()._read(guild_id)
        await asyncio.sleep(0.01)
        return document


async def test_a_read_that_began_before_a_change_is_not_shared_after_it() -> None:
    servers = SnapshotSettings()
    before = asyncio.create_task(servers.get(42))
    await asyncio.sleep(0.002)  # that read has seen the old document
    await servers.set_nsfw_only(42, True)
    assert (await servers.get(42)).nsfw_only
    assert not (await before).nsfw_only
