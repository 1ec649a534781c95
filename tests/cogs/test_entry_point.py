"""`python -m bot`'s own `main()` in a real process, on each event loop it offers."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from tests.cogs.support import result
from tests.conftest import API_KEY
from tests.fakes.discord import FakeDiscord
from tests.fakes.images_api import FakeImagesAPI

REPO = Path(__file__).resolve().parents[2]

# main() as `python -m bot` runs it, with discord.py pointed at the fake Discord first.
LAUNCH = """
import sys
from tests.fakes.discord import point_discord_py_at
from bot.__main__ import main
with point_discord_py_at(*sys.argv[1:4]):
    sys.exit(main())
"""


@pytest.mark.parametrize("event_loop", ["uvloop", "asyncio"])
async def test_main_serves_commands_and_stops_cleanly_on_sigterm(
    event_loop: str, fake_discord: FakeDiscord, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "DISCORD_TOKEN": fake_discord.token,
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": fake_api.base_url,
        "DISCORD_GUILD_ID": str(fake_discord.guild.id),
        "DATA_DIR": str(tmp_path / "data"),
        "EVENT_LOOP": event_loop,
        "SHUTDOWN_GRACE_SECONDS": "10",
    }
    generation = fake_discord.ready_generation
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LAUNCH,
        fake_discord.api_base,
        fake_discord.gateway_url,
        fake_discord.cdn_base,
        cwd=tmp_path,  # no .env here
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await fake_discord.wait_until_ready(30, after=generation)
        interaction = await fake_discord.invoke("imagine", {"prompt": "a lighthouse at dusk"})
        final = await result(interaction, timeout=15)
        assert len(final.files) == 1
        process.send_signal(signal.SIGTERM)
        output, _ = await asyncio.wait_for(process.communicate(), 30)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    text = output.decode(errors="replace")
    assert process.returncode == 0, text
    assert f"starting on the {event_loop} event loop" in text
    assert "Traceback" not in text
    assert fake_discord.token not in text
    assert API_KEY not in text
