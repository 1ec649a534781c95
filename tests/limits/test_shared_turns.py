"""The concurrency cap and the queue's order across processes: two Limiters over one Redis
(as two bot processes) take turns through it (bot.limits.shared)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from bot.limits import Limiter
from bot.limits.store.base import Turn
from bot.limits.store.redis import RedisStore
from bot.state import RedisConnection
from tests.cogs.support import eventually

Process = Callable[[], Awaitable[Limiter]]


@pytest.fixture
async def process(redis_url: str) -> AsyncIterator[Process]:
    """Opens "processes": a Limiter each, on a store of its own over one Redis prefix."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    stores: list[RedisStore] = []

    async def start() -> Limiter:
        store = RedisStore(RedisConnection(redis_url), prefix=prefix)
        await store.open()
        stores.append(store)
        return Limiter(store, images_per_minute=1000, max_concurrent=1)

    yield start
    for store in stores:
        await store.close()


async def run(limiter: Limiter, member: str, log: list[str], done: asyncio.Event) -> None:
    async with limiter.turn(member, images=1):
        log.append(member)
        await done.wait()


async def test_the_cap_holds_across_processes(process: Process) -> None:
    a, b = await process(), await process()
    log: list[str] = []
    first_done, second_done = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(run(a, "x", log, first_done))
    await eventually(lambda: log == ["x"])
    second = asyncio.create_task(run(b, "y", log, second_done))
    await asyncio.sleep(0.3)
    assert log == ["x"], "the other process started a second upstream call over the cap"
    first_done.set()
    await eventually(lambda: log == ["x", "y"])
    second_done.set()
    await asyncio.gather(first, second)


async def test_the_member_served_least_recently_anywhere_goes_first(process: Process) -> None:
    a, b = await process(), await process()
    log: list[str] = []
    done = {name: asyncio.Event() for name in ("x1", "x2", "y1")}
    x1 = asyncio.create_task(run(a, "x", log, done["x1"]))
    await eventually(lambda: log == ["x"])
    x2 = asyncio.create_task(run(a, "x", log, done["x2"]))  # waits first...
    await asyncio.sleep(0.1)
    y1 = asyncio.create_task(run(b, "y", log, done["y1"]))  # ...but y was not served yet
    await asyncio.sleep(0.2)
    assert log == ["x"]
    done["x1"].set()
    await eventually(lambda: log == ["x", "y"])
    done["y1"].set()
    await eventually(lambda: log == ["x", "y", "x"])
    done["x2"].set()
    await asyncio.gather(x1, x2, y1)


async def test_a_killed_process_frees_its_places_when_their_lease_lapses(redis_url: str) -> None:
    store = RedisStore(RedisConnection(redis_url), prefix=f"test-{uuid.uuid4().hex[:8]}")
    await store.open()
    now = int(time.time() * 1000)
    crashed = Turn("crashed", "x", now, lease_ms=300, seen_ms=300)
    assert await store.take_turn(crashed, limit=1, now_ms=now)
    # Never renewed, never ended (SIGKILL): the place is the whole service's only one.
    waiting = Turn("next", "y", now, lease_ms=30_000, seen_ms=3_000)
    assert not await store.take_turn(waiting, limit=1, now_ms=now + 100)
    assert await store.take_turn(waiting, limit=1, now_ms=now + 400)
    await store.close()
