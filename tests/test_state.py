"""bot.state: one STATE_URL parser, one SQLite connection per file, its migrations and modes."""

from __future__ import annotations

import asyncio
import sqlite3
import stat
from contextlib import closing
from pathlib import Path

import pytest

from bot.limits import open_store
from bot.limits.store import RedisStore, SqliteStore
from bot.moderation import open_server_settings
from bot.moderation.store import RedisServerSettings, SqliteServerSettings
from bot.state import (
    SCHEMA_VERSION,
    SchemaTooNew,
    SqliteDatabase,
    StateLocation,
    parse_state_url,
)


def test_the_parser_names_the_backend_and_hides_a_password() -> None:
    assert parse_state_url("memory://") == StateLocation("memory")
    assert parse_state_url(" sqlite:///data/bot.db ") == StateLocation(
        "sqlite", Path("data/bot.db")
    )
    location = parse_state_url("redis://:hunter2@cache:6379/0")
    assert location.backend == "redis"
    assert location.url == "redis://:hunter2@cache:6379/0"
    assert "hunter2" not in repr(location)


def test_both_factories_share_one_connection_per_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/bot.db"
    limits, settings = open_store(url), open_server_settings(url)
    assert isinstance(limits, SqliteStore)
    assert isinstance(settings, SqliteServerSettings)
    assert limits.connection is settings.connection
    other = open_store(f"sqlite:///{tmp_path}/other.db")
    assert isinstance(other, SqliteStore)
    assert other.connection is not limits.connection


async def test_the_connection_closes_with_its_last_user(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/bot.db"
    limits, settings = open_store(url), open_server_settings(url)
    assert isinstance(limits, SqliteStore)
    database = limits.connection
    await asyncio.gather(limits.open(), settings.open())  # opening together: one start
    await limits.close()
    assert database.is_open
    assert (await settings.get(1)).is_default
    with pytest.raises(RuntimeError, match="not open"):
        await limits.paused_until(now_ms=0)  # a closed store refuses, though the file is open
    await settings.close()
    assert not database.is_open


async def test_a_new_file_and_its_folders_are_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "nested" / "bot.db"
    async with SqliteStore(SqliteDatabase(path)) as store:
        await store.pause_until(5_000, now_ms=0)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        for companion in (path.with_name("bot.db-wal"), path.with_name("bot.db-shm")):
            assert stat.S_IMODE(companion.stat().st_mode) == 0o600, companion
    for folder in (tmp_path / "state", tmp_path / "state" / "nested"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


async def test_a_file_without_a_version_is_migrated_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    with closing(sqlite3.connect(path)) as db, db:  # as a bot from before the migrations left it
        db.execute("CREATE TABLE shared_state (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
        db.execute("INSERT INTO shared_state VALUES ('paused_until', 7000)")
    db.close()
    async with SqliteStore(SqliteDatabase(path)) as store:
        assert await store.paused_until(now_ms=0) == 7_000
    with closing(sqlite3.connect(path)) as db, db:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
        assert {"reservations", "budget", "shared_state", "server_settings"} <= tables
    db.close()


async def test_a_file_from_a_newer_bot_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    with closing(sqlite3.connect(path)) as db, db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    database = SqliteDatabase(path)
    with pytest.raises(SchemaTooNew, match="newer than this bot knows") as refused:
        await SqliteStore(database).open()
    assert str(path) in str(refused.value)
    assert not database.is_open
    with closing(sqlite3.connect(path)) as db, db:  # left as it was
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION + 1,)
        assert db.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
    db.close()


async def test_both_factories_share_one_redis_client(redis_url: str) -> None:
    limits, settings = open_store(redis_url), open_server_settings(redis_url)
    assert isinstance(limits, RedisStore)
    assert isinstance(settings, RedisServerSettings)
    connection = limits.connection
    assert settings.connection is connection
    async with limits, settings:
        client = connection.client
        assert client.connection_pool.connection_kwargs["socket_timeout"] == 5.0
        assert client.connection_pool.connection_kwargs["socket_connect_timeout"] == 5.0
        await settings.set_nsfw_only(4242, True)
        assert await limits.paused_until(now_ms=0) is None
        await settings.reset(4242)
    with pytest.raises(RuntimeError, match="not open"):
        connection.client  # noqa: B018 - closed with its last user
