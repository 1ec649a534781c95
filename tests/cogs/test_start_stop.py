"""Starting without a network and stopping at any moment, with the real `python -m bot` process.

Discord "unreachable" is a 127.0.0.1 port nobody listens on; "slow" is a server that accepts
the connection and never answers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import discord
import pytest

from bot.front.connect import log_in
from tests.cogs.test_entry_point import LAUNCH, REPO
from tests.conftest import API_KEY
from tests.fakes.discord import FakeDiscord, point_discord_py_at

TOKEN = "fake-bot-token"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port  # closed again on return: nothing listens there


@asynccontextmanager
async def silent_server() -> AsyncIterator[int]:
    """A server that accepts connections and never answers (a Discord that hangs)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()


class BotProcess:
    """`python -m bot`'s main() in a child process, its output collected line by line."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def wait_for_line(self, text: str, *, count: int = 1, timeout: float = 20) -> None:
        """Read output until `text` has appeared in `count` lines."""
        assert self.process.stdout is not None
        deadline = time.monotonic() + timeout
        while sum(text in line for line in self.lines) < count:
            line = await asyncio.wait_for(
                self.process.stdout.readline(), max(0.1, deadline - time.monotonic())
            )
            if not line:
                raise AssertionError(f"the bot ended before {text!r}:\n{self.text}")
            self.lines.append(line.decode(errors="replace"))

    async def stop(self, signum: int = signal.SIGTERM) -> float:
        """Send `signum`; the seconds the process took to end."""
        started = time.monotonic()
        self.process.send_signal(signum)
        rest, _ = await asyncio.wait_for(self.process.communicate(), 30)
        self.lines.append(rest.decode(errors="replace"))
        return time.monotonic() - started

    @property
    def text(self) -> str:
        return "".join(self.lines)


@asynccontextmanager
async def bot_process(
    tmp_path: Path, api_base: str, gateway_url: str, cdn_base: str, **env: str
) -> AsyncIterator[BotProcess]:
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "DISCORD_TOKEN": TOKEN,
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        "DATA_DIR": str(tmp_path / "data"),
        "SHUTDOWN_GRACE_SECONDS": "10",
        **env,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LAUNCH,
        api_base,
        gateway_url,
        cdn_base,
        cwd=tmp_path,
        env=environment,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        yield BotProcess(process)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_without_discord_the_login_is_retried_in_one_line_each_and_sigterm_ends_it(
    tmp_path: Path,
) -> None:
    base = f"http://127.0.0.1:{closed_port()}"
    async with bot_process(tmp_path, f"{base}/api/v10", base.replace("http", "ws"), base) as bot:
        await bot.wait_for_line("could not reach Discord to log in", count=2)
        took = await bot.stop()
    assert bot.process.returncode == 0, bot.text
    assert took < 2, bot.text
    assert "Traceback" not in bot.text
    assert "trying again in" in bot.text
    assert "voice will NOT be supported" not in bot.text
    assert TOKEN not in bot.text


async def test_sigint_during_a_login_discord_does_not_answer_ends_within_two_seconds(
    tmp_path: Path,
) -> None:
    async with silent_server() as port:
        base = f"http://127.0.0.1:{port}"
        api, gateway = f"{base}/api/v10", base.replace("http", "ws")
        async with bot_process(tmp_path, api, gateway, base) as bot:
            await bot.wait_for_line("logging in")
            await asyncio.sleep(0.5)  # the request is out, waiting for an answer
            took = await bot.stop(signal.SIGINT)
    assert bot.process.returncode == 0, bot.text
    assert took < 2, bot.text
    assert "Traceback" not in bot.text


async def test_an_unreachable_gateway_is_retried_in_one_line_each_and_sigterm_ends_it(
    tmp_path: Path, fake_discord: FakeDiscord
) -> None:
    gateway = f"ws://127.0.0.1:{closed_port()}/"
    async with bot_process(
        tmp_path,
        fake_discord.api_base,
        gateway,
        fake_discord.cdn_base,
        DISCORD_TOKEN=fake_discord.token,
        DISCORD_GUILD_ID=str(fake_discord.guild.id),
    ) as bot:
        await bot.wait_for_line("Discord's gateway", count=2)
        took = await bot.stop()
    assert bot.process.returncode == 0, bot.text
    assert took < 2, bot.text
    assert "Traceback" not in bot.text
    assert fake_discord.token not in bot.text


async def test_a_login_discord_never_answers_times_out_and_is_tried_again(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.front.connect")
    async with silent_server() as port:
        base = f"http://127.0.0.1:{port}"
        with point_discord_py_at(f"{base}/api/v10", base.replace("http", "ws"), base):
            client = discord.Client(intents=discord.Intents.none())
            attempt = asyncio.create_task(
                log_in(client, lambda: client.login(TOKEN), timeout=0.3, delays=iter([0.1] * 9))
            )
            try:
                for _ in range(200):
                    if len(retries(caplog)) >= 2:
                        break
                    await asyncio.sleep(0.02)
            finally:
                attempt.cancel()
                await asyncio.wait({attempt})
                await client.close()
    messages = [record.getMessage() for record in retries(caplog)]
    assert len(messages) >= 2, messages
    assert all("(no answer in time); trying again in 0.1 s" in m for m in messages), messages
    assert not any(record.exc_info for record in retries(caplog))


def retries(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "bot.front.connect"]
