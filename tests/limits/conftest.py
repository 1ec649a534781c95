"""Fixtures for bot.limits: a fake clock, a real redis-server, and a store of each backend."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from bot.limits.store import Store
from bot.limits.store_memory import MemoryStore
from bot.limits.store_redis import RedisStore
from bot.limits.store_sqlite import SqliteStore

# 2023-11-15 01:00:00 UTC: an hour into a UTC day, so short tests never cross midnight.
START = 1_700_010_000.0
DAY_START = 1_700_006_400.0
NEXT_MIDNIGHT = DAY_START + 86_400

BACKENDS = ["memory", "sqlite", "redis"]


class FakeClock:
    """Epoch seconds that move only when a test says so; `sleep` waits for that."""

    def __init__(self, now: float = START) -> None:
        self.now = now
        self._sleepers: list[tuple[float, asyncio.Future[None]]] = []

    def __call__(self) -> float:
        return self.now

    @property
    def sleeping(self) -> int:
        """How many tasks are sleeping on this clock."""
        return sum(1 for _, future in self._sleepers if not future.done())

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        entry = (self.now + seconds, asyncio.get_running_loop().create_future())
        self._sleepers.append(entry)
        try:
            await entry[1]
        finally:
            self._sleepers.remove(entry)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        for deadline, future in self._sleepers:
            if deadline <= self.now and not future.done():
                future.set_result(None)


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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


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


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of our own on 127.0.0.1 and a free port, for the whole session."""
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
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
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


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(timeout=5)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


StoreFactory = Callable[[], Awaitable[Store]]


@pytest.fixture(params=BACKENDS)
async def open_shared(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[StoreFactory]:
    """Opens stores that share one state (like two bot processes would); closes them all."""
    backend: str = request.param
    opened: list[Store] = []
    memory = MemoryStore()
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    url = request.getfixturevalue("redis_url") if backend == "redis" else ""

    async def open_one() -> Store:
        store: Store
        if backend == "memory":
            store = memory  # one process: both "processes" see the same dicts
        elif backend == "sqlite":
            store = SqliteStore(tmp_path / "state" / "bot.db")
        else:
            store = RedisStore(url, prefix=prefix)
        await store.open()
        opened.append(store)
        return store

    try:
        yield open_one
    finally:
        for store in opened:
            await store.close()


@pytest.fixture
async def store(open_shared: StoreFactory) -> Store:
    return await open_shared()
