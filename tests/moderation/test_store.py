"""The settings stores: every backend keeps every field, survives restarts, changes atomically."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from contextlib import closing
from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.front.explain import explain
from bot.limits import LimitPolicy, Window
from bot.limits.quota import MemberQuotas
from bot.limits.store.redis import RedisStore
from bot.limits.store.sqlite import SqliteStore
from bot.moderation import (
    FOREVER,
    CorruptSettings,
    InvalidSetting,
    ServerSettings,
    open_server_settings,
)
from bot.moderation.store.base import ServerSettingsStore
from bot.moderation.store.memory import MemoryServerSettings
from bot.moderation.store.redis import RedisServerSettings
from bot.moderation.store.sqlite import SqliteServerSettings
from bot.state import SCHEMA_VERSION as LIMITS_SCHEMA_VERSION
from bot.state import RedisConnection, SqliteDatabase, shared_redis, shared_sqlite
from tests.moderation.conftest import ManualClock, OpenStore

GUILD = 4242
OTHER_GUILD = 4343
NOW = 1_700_000_000.0


def test_urls_choose_the_backend() -> None:
    assert isinstance(open_server_settings("memory://"), MemoryServerSettings)
    relative = open_server_settings("sqlite:///data/bot.db")
    assert isinstance(relative, SqliteServerSettings)
    assert relative.path == Path("data/bot.db")
    absolute = open_server_settings("sqlite:////var/lib/imagine-bot/bot.db", cache_ttl=1.5)
    assert isinstance(absolute, SqliteServerSettings)
    assert absolute.path == Path("/var/lib/imagine-bot/bot.db")
    assert absolute.cache_ttl == 1.5
    assert isinstance(open_server_settings("redis://localhost:6379/0"), RedisServerSettings)
    assert isinstance(open_server_settings("rediss://:secret@cache:6380"), RedisServerSettings)


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("postgres://db/bot", "(not postgres://)"),
        ("sqlite://data/bot.db", "needs a file path"),
        ("redis://host:port/0", "looks like redis://host:6379/0"),
    ],
)
def test_bad_urls_get_the_same_messages_as_the_limits_store(url: str, complaint: str) -> None:
    with pytest.raises(ValueError, match="STATE_URL") as refused:
        open_server_settings(url)
    assert complaint in str(refused.value)


def test_a_password_in_the_url_is_never_shown() -> None:
    assert "hunter2" not in repr(open_server_settings("redis://:hunter2@host:6379/0"))


async def test_a_server_that_saved_nothing_gets_the_defaults(
    settings_store: ServerSettingsStore,
) -> None:
    settings = await settings_store.get(GUILD)
    assert settings == ServerSettings(GUILD)
    assert await settings_store.blocked_until(GUILD, "u-a", now=NOW) is None


async def change_everything(store: ServerSettingsStore) -> ServerSettings:
    await store.allow_channel(GUILD, 1001)
    await store.allow_channel(GUILD, 1002)
    await store.allow_channel(GUILD, 1003)
    await store.disallow_channel(GUILD, 1003)
    await store.allow_role(GUILD, 2001)
    await store.allow_role(GUILD, 2002)
    await store.disallow_role(GUILD, 2002)
    await store.set_limits(GUILD, window_images=4, window_seconds=1800)
    await store.set_limits(GUILD, daily_images=12)
    await store.add_blocked_term(GUILD, "Bad Thing")
    await store.add_blocked_term(GUILD, "nsfw*")
    await store.add_blocked_term(GUILD, "temporary")
    await store.remove_blocked_term(GUILD, "TEMPORARY")
    await store.set_modlog(GUILD, 3001)
    await store.set_nsfw_only(GUILD, True)
    await store.block_member(GUILD, "u-temporary", until=NOW + 3600.5, now=NOW)
    await store.block_member(GUILD, "u-forever", until=None, now=NOW)
    await store.block_member(GUILD, "u-lifted", until=NOW + 60, now=NOW)
    return await store.unblock_member(GUILD, "u-lifted", now=NOW)


EXPECTED = ServerSettings(
    GUILD,
    allowed_channels=frozenset({1001, 1002}),
    allowed_roles=frozenset({2001}),
    window_images=4,
    daily_images=12,
    window_seconds=1800,
    blocked_terms=("bad thing", "nsfw*"),
    modlog_channel=3001,
    nsfw_only=True,
    blocked_members={"u-temporary": NOW + 3600.5, "u-forever": FOREVER},
)


async def test_every_field_round_trips(open_settings: OpenStore) -> None:
    store = await open_settings()
    assert await change_everything(store) == EXPECTED
    assert await store.get(GUILD) == EXPECTED
    # A second store on the same state reads it from storage, not from the first one's cache.
    other = await open_settings(cache_ttl=0)
    assert await other.get(GUILD) == EXPECTED
    assert await other.get(OTHER_GUILD) == ServerSettings(OTHER_GUILD)
    assert await other.blocked_until(GUILD, "u-forever", now=NOW) == FOREVER
    assert await other.blocked_until(GUILD, "u-temporary", now=NOW) == NOW + 3600.5
    assert await other.blocked_until(GUILD, "u-lifted", now=NOW) is None


async def test_settings_survive_a_restart(open_settings: OpenStore, backend: str) -> None:
    first = await open_settings()
    await change_everything(first)
    await first.close()
    if backend == "memory":
        # By design: memory:// keeps nothing across a restart.
        async with MemoryServerSettings() as fresh:
            assert (await fresh.get(GUILD)).is_default
        return
    restarted = await open_settings()
    assert restarted is not first
    assert await restarted.get(GUILD) == EXPECTED


async def test_clearing_everything_removes_the_stored_document(
    open_settings: OpenStore, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = await open_settings()
    await store.set_nsfw_only(GUILD, True)
    await store.clear_limits(GUILD)
    assert (await store.set_nsfw_only(GUILD, False)).is_default
    await store.allow_role(GUILD, 5)
    await store.reset(GUILD)
    assert (await store.get(GUILD)).is_default
    if backend == "sqlite":
        with closing(sqlite3.connect(tmp_path / "state" / "bot.db")) as db, db:
            assert db.execute("SELECT count(*) FROM server_settings").fetchone() == (0,)
    elif backend == "redis":
        assert isinstance(store, RedisServerSettings)
        client = Redis.from_url(request.getfixturevalue("redis_url"))
        try:
            assert await client.exists(store.key(GUILD)) == 0
        finally:
            await client.aclose()


async def test_a_refused_change_leaves_the_settings_alone(
    settings_store: ServerSettingsStore,
) -> None:
    await settings_store.add_blocked_term(GUILD, "bad")
    with pytest.raises(InvalidSetting) as refused:
        await settings_store.add_blocked_term(GUILD, "b*d")
    assert re.search(r"\* only at its start or end", explain(None, refused.value))
    with pytest.raises(InvalidSetting) as refused:
        await settings_store.block_member(GUILD, "u-a", until=NOW - 1, now=NOW)
    assert re.search("must end in the future", explain(None, refused.value))
    with pytest.raises(InvalidSetting) as refused:
        await settings_store.set_limits(GUILD, daily_images=0)
    assert re.search("from 1 to 10,000", explain(None, refused.value))
    assert await settings_store.get(GUILD) == ServerSettings(GUILD, blocked_terms=("bad",))


async def test_a_change_may_not_switch_servers(settings_store: ServerSettingsStore) -> None:
    with pytest.raises(ValueError, match="server's id"):
        await settings_store.update(GUILD, lambda _: ServerSettings(OTHER_GUILD, nsfw_only=True))
    assert (await settings_store.get(GUILD)).is_default
    assert (await settings_store.get(OTHER_GUILD)).is_default


async def test_concurrent_changes_from_two_processes_are_all_kept(
    open_settings: OpenStore,
) -> None:
    one, two = await open_settings(), await open_settings()
    await asyncio.gather(
        *((one if n % 2 else two).add_blocked_term(GUILD, f"term{n}") for n in range(30)),
        *((one if n % 2 else two).allow_channel(GUILD, 100 + n) for n in range(30)),
    )
    fresh = await open_settings(cache_ttl=0)
    settings = await fresh.get(GUILD)
    assert sorted(settings.blocked_terms) == sorted(f"term{n}" for n in range(30))
    assert settings.allowed_channels == frozenset(range(100, 130))


# memory:// has no cache (one process; a dict lookup is as fast as the cache's). Redis
# announces every change to the other processes (the next test).
@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
async def test_reads_are_cached_for_the_ttl_and_own_writes_show_at_once(
    open_settings: OpenStore,
) -> None:
    clock = ManualClock()
    reader = await open_settings(cache_ttl=5.0, monotonic=clock)
    writer = await open_settings(cache_ttl=5.0, monotonic=clock)
    assert (await reader.get(GUILD)).is_default
    await writer.set_nsfw_only(GUILD, True)
    assert (await writer.get(GUILD)).nsfw_only  # its own write, at once
    clock.advance(4.9)
    assert not (await reader.get(GUILD)).nsfw_only  # another process: within the TTL
    clock.advance(0.2)
    assert (await reader.get(GUILD)).nsfw_only
    await reader.set_nsfw_only(GUILD, False)
    assert not (await reader.get(GUILD)).nsfw_only


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
async def test_on_redis_a_change_is_in_force_in_every_process_within_a_second(
    open_settings: OpenStore,
) -> None:
    # A cache that would keep the old settings for a minute, as far as time goes.
    reader = await open_settings(cache_ttl=60.0)
    writer = await open_settings(cache_ttl=60.0)
    assert isinstance(reader, RedisServerSettings)
    await asyncio.wait_for(reader.listening.wait(), 5)
    assert (await reader.get(GUILD)).is_default
    await writer.set_nsfw_only(GUILD, True)
    started = time.monotonic()
    while not (await reader.get(GUILD)).nsfw_only:
        assert time.monotonic() - started < 1.0, "the change was not heard within 1 s"
        await asyncio.sleep(0.01)
    await writer.reset(GUILD)  # a reset is announced too
    started = time.monotonic()
    while not (await reader.get(GUILD)).is_default:
        assert time.monotonic() - started < 1.0, "the reset was not heard within 1 s"
        await asyncio.sleep(0.01)


# memory:// documents are never written by anyone else.
@pytest.mark.parametrize("backend", ["sqlite", "redis"], indirect=True)
async def test_unreadable_saved_settings_are_an_error_not_the_defaults(
    open_settings: OpenStore, backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store = await open_settings(cache_ttl=0)
    await store.set_nsfw_only(GUILD, True)
    if backend == "sqlite":
        with closing(sqlite3.connect(tmp_path / "state" / "bot.db")) as db, db:
            db.execute("UPDATE server_settings SET document = '{\"version\": 99}'")
    else:
        assert isinstance(store, RedisServerSettings)
        client = Redis.from_url(request.getfixturevalue("redis_url"))
        try:
            await client.set(store.key(GUILD), "not json")
        finally:
            await client.aclose()
    with pytest.raises(CorruptSettings, match=f"server {GUILD}"):
        await store.get(GUILD)
    with pytest.raises(CorruptSettings):
        await store.set_nsfw_only(GUILD, False)
    await store.reset(GUILD)  # the way out: start the server's settings over
    assert (await store.get(GUILD)).is_default


@pytest.mark.parametrize("backend_name", ["sqlite", "redis"])
async def test_a_store_must_be_open(
    backend_name: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    store: ServerSettingsStore = (
        SqliteServerSettings(SqliteDatabase(tmp_path / "bot.db"))
        if backend_name == "sqlite"
        else RedisServerSettings(RedisConnection(request.getfixturevalue("redis_url")))
    )
    with pytest.raises(RuntimeError, match="not open"):
        await store.get(GUILD)
    async with store:
        await store.open()  # idempotent
        assert (await store.get(GUILD)).is_default
    await store.close()  # idempotent
    with pytest.raises(RuntimeError, match="not open"):
        await store.set_nsfw_only(GUILD, True)


POLICY = LimitPolicy(window_seconds=3600, window_images=10, daily_images=100)


async def test_sqlite_shares_the_quota_database_file(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    # One connection for the file, shared by both stores, as the factories arrange.
    async with (
        SqliteServerSettings(shared_sqlite(path)) as settings,
        SqliteStore(shared_sqlite(path)) as limits,
    ):
        quotas = MemberQuotas(limits, clock=lambda: NOW)
        reservation = await quotas.reserve("u-a", images=2, policy=POLICY)
        await reservation.commit()
        await settings.add_blocked_term(GUILD, "bad")
    # Both survive a restart, in the one file, and the limits' schema version is untouched.
    async with (
        SqliteStore(shared_sqlite(path)) as limits,
        SqliteServerSettings(shared_sqlite(path)) as settings,
    ):
        usage = await MemberQuotas(limits, clock=lambda: NOW).usage("u-a", POLICY)
        assert usage.window(Window.DAILY).used == 2
        assert (await settings.get(GUILD)).blocked_terms == ("bad",)
    with closing(sqlite3.connect(path)) as db, db:
        assert db.execute("PRAGMA user_version").fetchone() == (LIMITS_SCHEMA_VERSION,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_redis_keeps_settings_under_their_own_keys(redis_url: str) -> None:
    prefix = "shared-test"
    async with (
        RedisServerSettings(shared_redis(redis_url), prefix=prefix) as settings,
        RedisStore(shared_redis(redis_url), prefix=prefix) as limits,
    ):
        quotas = MemberQuotas(limits, clock=lambda: NOW)
        await (await quotas.reserve("u-a", images=3, policy=POLICY)).commit()
        await settings.set_modlog(GUILD, 77)
        client = Redis.from_url(redis_url, decode_responses=True)
        try:
            keys = {key async for key in client.scan_iter(f"{prefix}:*")}
        finally:
            await client.aclose()
        assert f"{prefix}:server-settings:{GUILD}" in keys
        assert any(key.startswith(f"{prefix}:{{u-a}}") for key in keys)
        usage = await quotas.usage("u-a", POLICY)
        assert usage.window(Window.DAILY).used == 3
        assert (await settings.get(GUILD)).modlog_channel == 77
        await settings.reset(GUILD)
