"""Several processes, one service: real `python -m bot` processes, each on its own shards of
one fake Discord (which routes each guild to shard `(guild_id >> 22) % shard_count`), sharing
one real redis-server."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
import redis.asyncio as redis

from bot.config import ConfigError, Settings
from tests.cogs.support import eventually
from tests.cogs.test_entry_point import REPO
from tests.cogs.test_limits import imagine, quota
from tests.cogs.test_recovery import LOST, bot_process, content_is, killed
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.common import shard_of
from tests.fakes.images_api import FakeImagesAPI

SALT = "multi-process-salt-0123456789"
BASE = {"DISCORD_TOKEN": "x" * 30, "OPENAI_API_KEY": "sk-test", "USER_ID_SALT": SALT}


def test_a_process_with_part_of_the_shards_needs_redis() -> None:
    for url in ("sqlite:///data/bot.db", "memory://"):
        env = {**BASE, "SHARD_COUNT": "2", "SHARD_IDS": "1", "STATE_URL": url}
        with pytest.raises(ConfigError) as caught:
            Settings.from_env(env)
        assert any(p.startswith("STATE_URL: must be a redis:// URL") for p in caught.value.problems)
    # All the shards in one process: nothing is shared, so SQLite is fine.
    Settings.from_env({**BASE, "SHARD_COUNT": "2", "STATE_URL": "sqlite:///data/bot.db"})
    Settings.from_env({**BASE, "SHARD_COUNT": "2", "SHARD_IDS": "0,1", "STATE_URL": "memory://"})
    # Each process would make its own salt: one member, several allowances.
    unsalted = {k: v for k, v in BASE.items() if k != "USER_ID_SALT"}
    with pytest.raises(ConfigError, match="USER_ID_SALT: must be set, the same in every"):
        Settings.from_env(
            {**unsalted, "SHARD_COUNT": "2", "SHARD_IDS": "1", "STATE_URL": "redis://h"}
        )
    with pytest.raises(ConfigError, match="SHARD_IDS: needs SHARD_COUNT"):
        Settings.from_env({**BASE, "SHARD_IDS": "0"})
    with pytest.raises(ConfigError, match="SHARD_IDS: has a shard number of 2 or more"):
        Settings.from_env({**BASE, "SHARD_COUNT": "2", "SHARD_IDS": "2"})


async def test_the_real_process_refuses_sqlite_with_other_processes_and_exits_2(
    tmp_path: Path,
) -> None:
    env = {**BASE, "PATH": "", "PYTHONPATH": str(REPO), "SHARD_COUNT": "4", "SHARD_IDS": "0,1"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=tmp_path, env=env, stderr=asyncio.subprocess.PIPE
    )
    _, err = await process.communicate()
    assert process.returncode == 2
    assert b"STATE_URL: must be a redis:// URL when SHARD_IDS leaves shards" in err
    assert b"Traceback" not in err


@pytest.fixture
async def shared_redis(redis_url: str) -> str:
    url = redis_url.rsplit("/", 1)[0] + "/11"
    client = redis.from_url(url)
    await client.flushdb()
    await client.aclose()
    return url


async def test_two_processes_share_the_guilds_and_one_allowance(
    fake_discord: FakeDiscord, fake_api: FakeImagesAPI, tmp_path: Path, shared_redis: str
) -> None:
    home = shard_of(fake_discord.guild.id, 2)
    other = fake_discord.add_guild("Other", on_shard=(1 - home, 2))
    channel = fake_discord.add_channel(other, "images")
    fake_discord.add_member(other, fake_discord.member)
    env = {
        "SHARD_COUNT": "2",
        "STATE_URL": shared_redis,
        "DISCORD_GUILD_ID": "",  # commands everywhere: the member uses both servers
        "LIMIT_WINDOW_IMAGES": "3",
        "IMAGES_PER_MINUTE": "4",
        "USER_ID_SALT": SALT,
    }
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    async with (
        bot_process(fake_discord, fake_api, tmp_path / "a" / "data", SHARD_IDS="0", **env),
        bot_process(fake_discord, fake_api, tmp_path / "b" / "data", SHARD_IDS="1", **env),
    ):
        await eventually(lambda: fake_discord.connected_shards == {0, 1}, timeout=15)
        identified = {tuple(p["shard"]) for p in fake_discord.identify_payloads}
        assert identified == {(0, 2), (1, 2)}
        first = await imagine(fake_discord, n=2)  # served by one process...
        assert (await first.wait_for_response()).type == 5
        await eventually(lambda: len(fake_api.requests) == 1, timeout=10)
        # ...and the member's allowance is the same one in the other process's server.
        text = await quota(fake_discord)
        assert "In the last hour: 2 of 3 images used" in text
        refused = await fake_discord.invoke(
            "imagine", {"prompt": "a lighthouse", "n": 2}, channel_id=channel.id
        )
        response = await refused.wait_for_response()
        assert (response.type, response.ephemeral) == (4, True)
        assert len(fake_api.requests) == 1
        # The images-per-minute budget (4) is one budget: 2 were taken in the first server,
        # so another member's 3 wait in the other server's process, unsent.
        fake_discord.add_member(other, fake_discord.other_member)
        waiting = await fake_discord.invoke(
            "imagine",
            {"prompt": "a lighthouse", "n": 3},
            channel_id=channel.id,
            user=fake_discord.other_member,
        )
        assert (await waiting.wait_for_response()).type == 5
        await asyncio.sleep(1.0)
        assert len(fake_api.requests) == 1


async def test_a_peer_leaves_a_running_process_alone_and_its_restart_resolves_its_job(
    fake_discord: FakeDiscord, fake_api: FakeImagesAPI, tmp_path: Path, shared_redis: str
) -> None:
    home = shard_of(fake_discord.guild.id, 2)
    env = {"SHARD_COUNT": "2", "STATE_URL": shared_redis, "USER_ID_SALT": SALT}
    env |= {"LIMIT_WINDOW_IMAGES": "8"}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    a_data, b_data = tmp_path / "a" / "data", tmp_path / "b" / "data"
    fake_api.latency = 60.0
    async with bot_process(fake_discord, fake_api, a_data, SHARD_IDS=str(home), **env) as a:
        sent = await imagine(fake_discord, n=2)
        await eventually(lambda: len(fake_api.requests) == 1, timeout=10)
        # A peer starts, and resolves what crashes left (its start's outbox pass, once ready):
        # not this job, whose process is alive and running it.
        async with bot_process(fake_discord, fake_api, b_data, SHARD_IDS=str(1 - home), **env):
            await asyncio.sleep(3.5)  # on_ready comes 2 s after the last GUILD_CREATE
            assert sent.original is None or sent.original.content != LOST
            await killed(a)
            fake_api.latency = 0.0
            # The killed process's restart (same shards) resolves it at once: it was sent, so
            # it counts, and the member is told.
            async with bot_process(fake_discord, fake_api, a_data, SHARD_IDS=str(home), **env):
                await eventually(content_is(sent, LOST), timeout=15)
                assert "2 of 8 images used, 6 left." in await quota(fake_discord)
    assert len(fake_api.requests) == 1
