"""Fixtures for bot.limits: a fake clock and a store of each backend (Redis: `redis_url`
from tests/conftest.py)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from bot.limits.store import Store
from bot.limits.store.memory import MemoryStore
from bot.limits.store.redis import RedisStore
from bot.limits.store.sqlite import SqliteStore
from bot.state import RedisConnection, SqliteDatabase

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


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


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
            # A connection of its own per store, as each process has.
            store = SqliteStore(SqliteDatabase(tmp_path / "state" / "bot.db"))
        else:
            store = RedisStore(RedisConnection(url), prefix=prefix)
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
