"""`python -m bot doctor` against the fakes, and the Images API check the bot runs at start."""

from __future__ import annotations

import asyncio
import logging
import os
import sys
from pathlib import Path

import pytest

from bot.front.doctor import Check, run_doctor
from bot.moderation.store import open_server_settings
from tests.cogs.test_entry_point import REPO
from tests.cogs.test_start_stop import closed_port
from tests.conftest import API_KEY, StartBot, settings_for
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.common import Permission
from tests.fakes.images_api import FakeImagesAPI

WRONG_KEY = "sk-wrong-0123456789abcdefghij"


def by_name(checks: list[Check]) -> dict[str, Check]:
    return {check.name: check for check in checks}


async def test_every_check_passes_for_a_bot_that_has_run_once(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    async with start_bot():
        pass  # registers the commands
    checks = await run_doctor(settings_for(fake_discord, fake_api, tmp_path / "data"))
    assert all(check.ok for check in checks), [check.line() for check in checks]
    found = by_name(checks)
    assert "/imagine" in found["slash commands"].found
    assert "gpt-image-2 is available" in found["Images API"].found
    assert "SQLite" in found["state store"].found
    assert fake_api.requests == []  # the doctor generates nothing


async def test_a_wrong_key_fails_with_its_fix_and_is_never_shown(
    fake_discord: FakeDiscord, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    settings = settings_for(fake_discord, fake_api, tmp_path / "data", OPENAI_API_KEY=WRONG_KEY)
    checks = by_name(await run_doctor(settings))
    assert not checks["Images API"].ok
    assert "OPENAI_API_KEY" in checks["Images API"].fix
    assert WRONG_KEY not in checks["Images API"].line()


@pytest.mark.parametrize(("shutdown", "ok"), [("2026-05-12", False), ("2099-01-01", True)])
async def test_the_model_shutdown_date_is_told(
    fake_discord: FakeDiscord, fake_api: FakeImagesAPI, tmp_path: Path, shutdown: str, ok: bool
) -> None:
    fake_api.shutdown_dates["gpt-image-2"] = shutdown
    checks = by_name(await run_doctor(settings_for(fake_discord, fake_api, tmp_path / "data")))
    assert checks["Images API"].ok is ok
    assert shutdown in checks["Images API"].found


async def test_a_model_the_key_may_not_use_fails(
    fake_discord: FakeDiscord, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    fake_api.models_without_access.add("gpt-image-2")
    checks = by_name(await run_doctor(settings_for(fake_discord, fake_api, tmp_path / "data")))
    assert not checks["Images API"].ok
    assert "IMAGE_MODEL" in checks["Images API"].fix
    assert "/v1/models/gpt-image-2" in fake_api.model_requests  # asked for it by name too


async def test_a_wrong_discord_token_and_no_commands_fail(
    fake_discord: FakeDiscord, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    wrong = settings_for(fake_discord, fake_api, tmp_path / "data", DISCORD_TOKEN="not-it")
    assert not by_name(await run_doctor(wrong))["Discord token"].ok
    fresh = by_name(await run_doctor(settings_for(fake_discord, fake_api, tmp_path / "data")))
    assert fresh["Discord token"].ok
    assert not fresh["slash commands"].ok  # never started: nothing registered yet
    assert "start the bot once" in fresh["slash commands"].fix


async def test_the_command_exits_1_with_a_line_per_check_when_one_fails(
    fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    base = f"http://127.0.0.1:{closed_port()}"
    (tmp_path / "a-file").write_text("not a folder")
    launch = (
        "import sys\nfrom tests.fakes.discord import point_discord_py_at\n"
        "from bot.__main__ import main\n"
        f"with point_discord_py_at('{base}/api/v10', '{base}', '{base}'):\n"
        "    sys.exit(main(['doctor']))\n"
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "DISCORD_TOKEN": "fake-bot-token",
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": fake_api.base_url,
        "STATE_URL": f"sqlite:///{tmp_path}/a-file/bot.db",
        "DATA_DIR": str(tmp_path / "data"),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        launch,
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 60)
    text = output.decode(errors="replace")
    assert process.returncode == 1, text
    assert "PASS  settings" in text
    assert "PASS  Images API" in text
    assert "FAIL  state store" in text
    assert "FAIL  Discord: cannot reach Discord" in text
    assert "fix: " in text
    assert "Traceback" not in text
    assert API_KEY not in text


async def test_the_bot_logs_a_wrong_key_as_an_error_at_start(
    start_bot: StartBot, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="bot")
    async with start_bot(OPENAI_API_KEY=WRONG_KEY):
        for _ in range(200):
            if any("Images API" in r.getMessage() for r in caplog.records):
                break
            await asyncio.sleep(0.02)
    [record] = [r for r in caplog.records if r.getMessage().startswith("Images API")]
    assert record.levelno == logging.ERROR
    assert "OPENAI_API_KEY" in record.getMessage()
    assert WRONG_KEY not in caplog.text


async def test_each_configured_channel_says_whether_the_bot_may_post_there(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    settings = settings_for(fake_discord, fake_api, tmp_path / "data")
    async with start_bot():
        pass  # registers the commands
    guild = fake_discord.guild.id
    async with open_server_settings(settings.state_url) as servers:
        await servers.allow_channel(guild, fake_discord.text_channel.id)
        await servers.set_modlog(guild, fake_discord.other_channel.id)
    # In the mod-log the bot may read and post, but not embed: a channel overwrite.
    fake_discord.other_channel.bot_permissions = Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES
    checks = [c for c in await run_doctor(settings) if c.name.startswith("server")]
    assert [c.ok for c in checks] == [True, False], [c.line() for c in checks]
    assert "allowed channel" in checks[0].found
    assert "mod-log" in checks[1].found
    assert "embed_links" in checks[1].fix
