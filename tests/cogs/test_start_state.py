"""The state store at start, with the real `python -m bot` process: a setting that cannot work
ends it with exit status 2 and one clear line; a Redis that is down is waited for."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.cogs.test_start_stop import bot_process, closed_port
from tests.fakes.discord import FakeDiscord


@contextmanager
def redis_server(port: int, workdir: Path, *extra: str) -> Iterator[None]:
    """A redis-server of our own on 127.0.0.1:`port` until the block ends."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed; CI installs it")
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", *extra]
    server = subprocess.Popen(  # noqa: S603 - a fixed binary and fixed arguments
        [*command, "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and server.poll() is None:
            try:
                subprocess.run(  # noqa: S603 - our own redis-cli check would be a dependency
                    [binary.replace("redis-server", "redis-cli"), "-p", str(port), "ping"],
                    check=True,
                    capture_output=True,
                    timeout=2,
                )
            except (subprocess.CalledProcessError, FileNotFoundError):
                time.sleep(0.05)
            else:
                break
        yield
    finally:
        server.terminate()
        server.wait(timeout=10)


def unreachable_discord() -> tuple[str, str, str]:
    base = f"http://127.0.0.1:{closed_port()}"
    return f"{base}/api/v10", base.replace("http", "ws"), base


async def test_a_sqlite_file_that_cannot_be_created_ends_the_start_with_status_2(
    tmp_path: Path,
) -> None:
    (tmp_path / "not-a-folder").write_text("a file where a folder should be")
    url = f"sqlite:///{tmp_path}/not-a-folder/bot.db"
    async with bot_process(tmp_path, *unreachable_discord(), STATE_URL=url) as bot:
        await bot.wait_for_line("cannot use the state store")
        await bot.process.wait()
        rest = await bot.process.stdout.read() if bot.process.stdout else b""
    text = bot.text + rest.decode(errors="replace")
    assert bot.process.returncode == 2, text
    assert "not-a-folder/bot.db" in text
    assert "may write there" in text
    assert "Traceback" not in text
    assert "logging in" not in text  # never got as far as Discord


async def test_a_redis_that_is_down_is_waited_for_and_the_bot_starts_when_it_is_back(
    tmp_path: Path, fake_discord: FakeDiscord
) -> None:
    port = closed_port()
    password = "a-redis-password"
    generation = fake_discord.ready_generation
    async with bot_process(
        tmp_path,
        fake_discord.api_base,
        fake_discord.gateway_url,
        fake_discord.cdn_base,
        DISCORD_TOKEN=fake_discord.token,
        DISCORD_GUILD_ID=str(fake_discord.guild.id),
        STATE_URL=f"redis://:{password}@127.0.0.1:{port}/0",
    ) as bot:
        await bot.wait_for_line("cannot reach the state store", count=2)
        with redis_server(port, tmp_path, "--requirepass", password):
            # The bot's next try may be a few backoff steps away on a loaded machine.
            await fake_discord.wait_until_ready(60, after=generation)
            took = await bot.stop()
    assert bot.process.returncode == 0, bot.text
    assert took < 5, bot.text
    assert "Traceback" not in bot.text
    assert password not in bot.text
    assert f"Redis at 127.0.0.1:{port}" in bot.text


async def test_sigterm_while_waiting_for_redis_ends_within_two_seconds(tmp_path: Path) -> None:
    url = f"redis://127.0.0.1:{closed_port()}/0"
    async with bot_process(tmp_path, *unreachable_discord(), STATE_URL=url) as bot:
        await bot.wait_for_line("cannot reach the state store")
        took = await bot.stop()
    assert bot.process.returncode == 0, bot.text
    assert took < 2, bot.text
    assert "Traceback" not in bot.text


async def test_a_redis_password_the_server_rejects_ends_the_start_with_status_2(
    tmp_path: Path,
) -> None:
    port = closed_port()
    with redis_server(port, tmp_path, "--requirepass", "the-right-one"):
        url = f"redis://:a-wrong-one@127.0.0.1:{port}/0"
        async with bot_process(tmp_path, *unreachable_discord(), STATE_URL=url) as bot:
            await bot.wait_for_line("cannot use the state store")
            await bot.process.wait()
    assert bot.process.returncode == 2, bot.text
    assert "check the password" in bot.text
    assert "a-wrong-one" not in bot.text
    assert "Traceback" not in bot.text
