"""Fixtures for bot.moderation: a real redis-server, settings stores of each backend, the fakes."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from bot.moderation.store import DEFAULT_CACHE_TTL, ServerSettingsStore
from bot.moderation.store_memory import MemoryServerSettings
from bot.moderation.store_redis import RedisServerSettings
from bot.moderation.store_sqlite import SqliteServerSettings
from tests.fakes.moderation_api import FakeModerationAPI

API_KEY = "sk-proj-" + "m0derationKey" * 4  # long and key-like, as OpenAI's are
BACKENDS = ["memory", "sqlite", "redis"]


class ManualClock:
    """A monotonic clock that moves only when a test says so (for the settings cache)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


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
    """A redis-server of our own on 127.0.0.1 and a free port, for the whole session."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server not installed; CI installs it")
    workdir = tmp_path_factory.mktemp("moderation-redis")
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


OpenStore = Callable[..., Awaitable[ServerSettingsStore]]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Each settings backend in turn."""
    name: str = request.param
    return name


@pytest.fixture
async def open_settings(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[OpenStore]:
    """Opens settings stores that share one state, like bot processes (or restarts) would.

    `await open_settings(cache_ttl=..., monotonic=...)`; all are closed at the end. The memory
    backend has one process only, so every call returns the same store.
    """
    opened: list[ServerSettingsStore] = []
    memory = MemoryServerSettings()
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    url = request.getfixturevalue("redis_url") if backend == "redis" else ""

    async def open_one(
        *, cache_ttl: float = DEFAULT_CACHE_TTL, monotonic: Callable[[], float] = time.monotonic
    ) -> ServerSettingsStore:
        store: ServerSettingsStore
        if backend == "memory":
            store = memory
        elif backend == "sqlite":
            path = tmp_path / "state" / "bot.db"
            store = SqliteServerSettings(path, cache_ttl=cache_ttl, monotonic=monotonic)
        else:
            store = RedisServerSettings(
                url, prefix=prefix, cache_ttl=cache_ttl, monotonic=monotonic
            )
        await store.open()
        opened.append(store)
        return store

    try:
        yield open_one
    finally:
        for store in opened:
            await store.close()


@pytest.fixture
async def settings_store(open_settings: OpenStore) -> ServerSettingsStore:
    return await open_settings()


@pytest.fixture
async def fake_moderation() -> AsyncIterator[FakeModerationAPI]:
    async with FakeModerationAPI(api_key=API_KEY) as api:
        yield api


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session
