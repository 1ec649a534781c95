"""Fixtures for bot.moderation: a real redis-server, settings stores of each backend, the fakes."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from bot.moderation.store.base import DEFAULT_CACHE_TTL, ServerSettingsStore
from bot.moderation.store.memory import MemoryServerSettings
from bot.moderation.store.redis import RedisServerSettings
from bot.moderation.store.sqlite import SqliteServerSettings
from bot.state import RedisConnection, SqliteDatabase
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
            store = SqliteServerSettings(
                SqliteDatabase(path), cache_ttl=cache_ttl, monotonic=monotonic
            )
        else:
            store = RedisServerSettings(
                RedisConnection(url), prefix=prefix, cache_ttl=cache_ttl, monotonic=monotonic
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
