"""Choosing a store by URL, and what is particular to each backend."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest
from redis.asyncio import Redis
from redis.exceptions import TimeoutError as RedisTimeout

from bot.limits import LimitPolicy, Window, open_store
from bot.limits.quota import MemberQuotas
from bot.limits.store import WindowCheck
from bot.limits.store.memory import MemoryStore
from bot.limits.store.redis import RedisStore
from bot.limits.store.sqlite import SqliteStore
from bot.state import SCHEMA_VERSION, RedisConnection, SqliteDatabase
from tests.limits.conftest import FakeClock

POLICY = LimitPolicy(window_seconds=3600, window_images=10, daily_images=100)


def test_urls_choose_the_backend() -> None:
    assert isinstance(open_store("memory://"), MemoryStore)
    relative = open_store("sqlite:///data/bot.db")
    assert isinstance(relative, SqliteStore)
    assert relative.path == Path("data/bot.db")
    absolute = open_store("sqlite:////var/lib/imagine-bot/bot.db")
    assert isinstance(absolute, SqliteStore)
    assert absolute.path == Path("/var/lib/imagine-bot/bot.db")
    assert isinstance(open_store("redis://localhost:6379/0"), RedisStore)
    assert isinstance(open_store("rediss://:secret@cache.example:6380"), RedisStore)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("", "must start with memory://, sqlite:/// or redis:// (not something else)"),
        ("postgres://db/bot", "(not postgres://)"),
        ("data/bot.db", "(not something else)"),
        ("memory://somewhere", "memory:// takes nothing"),
        ("sqlite://", "needs a file path"),
        ("sqlite:///", "needs a file path"),
        ("sqlite://data/bot.db", "needs a file path"),
        ("redis://", "looks like redis://host:6379/0"),
        ("redis://host:port/0", "looks like redis://host:6379/0"),
        ("redis://host:6379/zero", "looks like redis://host:6379/0"),
    ],
)
def test_bad_urls_are_explained(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match="STATE_URL") as refused:
        open_store(url)
    assert complaint in str(refused.value)


def test_a_password_in_the_url_is_never_repeated() -> None:
    with pytest.raises(ValueError, match="STATE_URL") as refused:
        open_store("redis://:hunter2-secret@host:port/0")
    assert "hunter2" not in str(refused.value)
    assert "hunter2" not in repr(open_store("redis://:hunter2-secret@host:6379/0"))


@pytest.mark.parametrize("backend", ["sqlite", "redis"])
async def test_a_store_must_be_open(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = (
        SqliteStore(SqliteDatabase(tmp_path / "bot.db"))
        if backend == "sqlite"
        else RedisStore(RedisConnection(request.getfixturevalue("redis_url")))
    )
    with pytest.raises(RuntimeError, match="not open"):
        await store.history("u-a", since_ms=0, now_ms=0)
    async with store:
        await store.open()  # idempotent
        assert await store.history("u-a", since_ms=0, now_ms=0) == []
    await store.close()  # idempotent
    with pytest.raises(RuntimeError, match="not open"):
        await store.paused_until(now_ms=0)


async def test_sqlite_keeps_usage_across_restarts(tmp_path: Path) -> None:
    clock = FakeClock()
    url = f"sqlite:///{tmp_path}/nested/bot.db"  # tmp_path is absolute: sqlite:////...
    async with open_store(url) as store:
        quotas = MemberQuotas(store, clock=clock)
        await (await quotas.reserve("u-a", images=3, policy=POLICY)).commit()
        pending = await quotas.reserve("u-a", images=2, policy=POLICY)
        await store.pause_until(int(clock() * 1000) + 30_000, now_ms=int(clock() * 1000))
    async with open_store(url) as store:
        quotas = MemberQuotas(store, clock=clock)
        usage = (await quotas.usage("u-a", POLICY)).window(Window.ROLLING)
        assert (usage.used, usage.pending) == (5, 2)
        # The reservation made before the restart can still be refunded by its id.
        assert await store.refund("u-a", pending.id, now_ms=int(clock() * 1000)) is True
        assert (await quotas.usage("u-a", POLICY)).window(Window.ROLLING).used == 3
        assert await store.paused_until(now_ms=int(clock() * 1000)) == int(clock() * 1000) + 30_000
    with closing(sqlite3.connect(tmp_path / "nested" / "bot.db")) as db, db:
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
    db.close()


async def test_sqlite_drops_records_older_than_two_days(tmp_path: Path) -> None:
    clock = FakeClock()
    async with SqliteStore(SqliteDatabase(tmp_path / "bot.db")) as store:
        quotas = MemberQuotas(store, clock=clock)
        await (await quotas.reserve("u-old", images=1, policy=POLICY)).commit()
        clock.advance(3 * 86_400)
        await quotas.reserve("u-new", images=1, policy=POLICY)
        assert await store.history("u-old", since_ms=0, now_ms=int(clock() * 1000)) == []


async def test_redis_keys_expire_on_their_own(redis_url: str) -> None:
    store = RedisStore(RedisConnection(redis_url), prefix="expiry-test")
    await store.open()
    clock = FakeClock()
    quotas = MemberQuotas(store, clock=clock)
    await (await quotas.reserve("u-a", images=1, policy=POLICY)).commit()
    await quotas.reserve("u-a", images=1, policy=POLICY)
    now_ms = int(clock() * 1000)
    assert await store.take_budget("x", images=1, limit=5, window_ms=60_000, now_ms=now_ms) is None
    await store.pause_until(now_ms + 10_000, now_ms=now_ms)
    client = Redis.from_url(redis_url, decode_responses=True)
    try:
        keys = [key async for key in client.scan_iter(match="expiry-test:*")]
        assert len(keys) == 4  # used, pending, budget, paused
        for key in keys:
            assert await client.pttl(key) > 0, key
    finally:
        await client.aclose()
        await store.close()


async def test_a_redis_server_that_stops_answering_fails_fast() -> None:
    # A server that accepts connections and never answers, like a hung or partitioned Redis.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    store = RedisStore(RedisConnection(f"redis://127.0.0.1:{port}/0", timeout=0.2))
    started = time.monotonic()
    try:
        with pytest.raises(RedisTimeout):
            await store.open()
    finally:
        server.close()
        await server.wait_closed()
    assert time.monotonic() - started < 3


async def test_sqlite_concurrent_reservations_never_take_more_than_the_limit(
    tmp_path: Path,
) -> None:
    # Calls made while the store's thread is busy go over together; each is still its own
    # transaction, checked against what the ones before it wrote.
    async with SqliteStore(SqliteDatabase(tmp_path / "bot.db")) as store:
        checks = [WindowCheck(0, 50)]

        async def reserve(index: int) -> bool:
            outcome = await store.reserve(
                "u-a", f"r{index}", images=1, checks=checks, now_ms=1_000, expires_ms=10_000
            )
            return outcome.admitted

        admitted = await asyncio.gather(*(reserve(i) for i in range(200)))
        assert sum(admitted) == 50
        assert admitted[:50] == [True] * 50  # in the order they were made
        assert len(await store.history("u-a", since_ms=0, now_ms=1_000)) == 50


async def test_sqlite_a_call_cancelled_before_it_reached_the_thread_never_runs(
    tmp_path: Path,
) -> None:
    async with SqliteStore(SqliteDatabase(tmp_path / "bot.db")) as store:
        checks = [WindowCheck(0, 10)]
        first = asyncio.create_task(
            store.reserve("u-a", "r1", images=1, checks=checks, now_ms=1_000, expires_ms=9_000)
        )
        await asyncio.sleep(0)  # handed to the thread: the store is busy now
        second = asyncio.create_task(
            store.reserve("u-a", "r2", images=1, checks=checks, now_ms=1_000, expires_ms=9_000)
        )
        await asyncio.sleep(0)  # waiting for the next batch
        second.cancel()
        assert (await first).admitted
        with pytest.raises(asyncio.CancelledError):
            await second
        entries = await store.history("u-a", since_ms=0, now_ms=1_000)
        assert [entry.reservation_id for entry in entries] == ["r1"]


async def test_sqlite_close_waits_for_the_calls_made_before_it(tmp_path: Path) -> None:
    store = SqliteStore(SqliteDatabase(tmp_path / "bot.db"))
    await store.open()
    pending = [asyncio.create_task(store.pause_until(5_000 + i, now_ms=0)) for i in range(20)]
    await asyncio.sleep(0)
    await store.close()
    await asyncio.gather(*pending)
    async with SqliteStore(SqliteDatabase(tmp_path / "bot.db")) as reopened:
        assert await reopened.paused_until(now_ms=0) == 5_019
