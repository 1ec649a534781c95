"""Redis lost while the bot runs (a real redis-server stopped and started again): commands get
a polite "try again shortly", nothing crashes, and service resumes with every count intact."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path

import pytest

from tests.cogs.test_limits import delivered, imagine, quota, refused_at_once
from tests.cogs.test_start_state import redis_server
from tests.cogs.test_start_stop import closed_port
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord
from tests.fakes.images_api import FakeImagesAPI


async def test_commands_while_redis_is_down_are_told_to_retry_and_nothing_is_lost(
    start_bot: StartBot,
    fake_discord: FakeDiscord,
    fake_api: FakeImagesAPI,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = closed_port()
    # Persisted as a real deployment would be, so a restart keeps what was counted.
    persisted = ("--appendonly", "yes", "--appendfsync", "always")
    limits = {"LIMIT_WINDOW_IMAGES": "6", "LIMIT_DAILY_IMAGES": "20"}
    with contextlib.ExitStack() as redis:
        redis.enter_context(redis_server(port, tmp_path, *persisted))
        async with start_bot(STATE_URL=f"redis://127.0.0.1:{port}/0", **limits):
            await delivered(await imagine(fake_discord, n=2), images=2)
            redis.close()  # the server stops

            told = await refused_at_once(await imagine(fake_discord, n=1))
            asked = await fake_discord.invoke("quota")
            assert "try again shortly" in told
            assert "try again shortly" in (await asked.wait_for_response()).data["content"]

            redis.enter_context(redis_server(port, tmp_path, *persisted))
            await delivered(await imagine(fake_discord, n=1), images=1)
            shown = await quota(fake_discord)
    assert "In the last hour: 3 of 6 images used, 3 left." in shown
    assert len(fake_api.requests) == 2  # nothing was sent upstream while the store was away
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert "Traceback" not in caplog.text
