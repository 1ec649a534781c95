"""The whole bot against the two fakes: a fake Discord and a fake Images API on 127.0.0.1.

`bot_env` starts the real entry point (`bot.__main__.run`) with settings pointing at the
fakes, waits until the fake Discord has seen it identify, and shuts it down afterwards the
way SIGTERM would.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

import pytest

from bot.__main__ import run
from bot.config import Settings
from bot.front.client import ImagineBot
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
        # The fake CDN stands in for Discord's: plain http on 127.0.0.1.
        "EXTRA_ATTACHMENT_ORIGINS": fake_discord.cdn_base,
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


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let other tasks (and store round trips) run until `condition` holds."""
    deadline = time.monotonic() + timeout
    for _ in range(1_000_000):
        if condition():
            return
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.001)
    raise AssertionError("condition not met in time")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers_ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of our own on 127.0.0.1 and a free port, for the whole session.

    Tests keep apart by key prefix. Without a redis-server binary they skip, saying why.
    """
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed; CI installs it")
    workdir = tmp_path_factory.mktemp("redis")
    for _attempt in range(3):
        port = _free_port()
        command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--appendonly", "no", "--dir", str(workdir)]
        with (workdir / "redis.log").open("ab") as log:
            server = subprocess.Popen(  # noqa: S603 - a fixed binary and fixed arguments
                command, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 10
        while server.poll() is None and time.monotonic() < deadline:
            if _answers_ping(port):
                break
            time.sleep(0.02)
        if server.poll() is None and _answers_ping(port):
            break
        _stop(server)  # the port was taken in between, or it failed: try another port
    else:
        pytest.fail("redis-server did not start; see " + str(workdir / "redis.log"))
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(server)
