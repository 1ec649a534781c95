"""Opening the state store at start: which failures can come right, and which never will.

A Redis server that refuses or does not answer may be starting (it came up after the bot, or
is restarting): the caller retries. A SQLite file that cannot be created or written, a newer
schema, a Redis password or database that the server rejects will not fix themselves: the
caller stops and says which setting to change. Errors carry data; the words are the caller's.
"""

from __future__ import annotations

import sqlite3
import sys
from types import ModuleType
from typing import TYPE_CHECKING, Literal, TypeGuard

from bot.resource import Shared
from bot.state.schema import SchemaTooNew
from bot.state.sqlite import SqliteDatabase, shared_sqlite
from bot.state.url import Backend, parse_state_url

if TYPE_CHECKING:
    from bot.state.redis import RedisConnection

PROBE_KEY = "imagine-bot:doctor:probe"

Problem = Literal["unreachable", "rejected", "not_writable", "schema_too_new"]


class StateUnavailable(Exception):
    """The state store could not be opened. `lasting`: retrying will not help (a setting or
    the disk must change). `detail` is the library's own short description (no secret);
    `where` is the SQLite file or Redis's host:port (never the password)."""

    def __init__(
        self, backend: Backend, problem: Problem, *, lasting: bool, detail: str, where: str
    ) -> None:
        super().__init__(backend, problem, where)
        self.backend = backend
        self.problem = problem
        self.lasting = lasting
        self.detail = detail
        self.where = where


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` is the state store being out of reach for now (Redis down, restarting or
    not answering): the command did not start, and the same command will work once it is back.
    redis-py reconnects by itself on the next command, so nothing here needs to."""
    errors = _redis_errors()
    if errors is None:
        return False
    return isinstance(exc, (errors.ConnectionError, errors.TimeoutError)) and not (
        isinstance(exc, errors.AuthenticationError)
    )


def _redis_errors() -> ModuleType | None:
    """redis-py's exceptions, if it is loaded: `redis` is an optional extra, and an error
    can only have come from it once a Redis store has imported it."""
    return sys.modules.get("redis.exceptions")


def state_connection(url: str) -> SqliteDatabase | RedisConnection | None:
    """The shared connection `STATE_URL` names (the stores use the same one); None for memory."""
    location = parse_state_url(url)
    if location.backend == "sqlite" and location.path is not None:
        return shared_sqlite(location.path)
    if location.backend == "redis":
        from bot.state.redis import shared_redis  # the optional extra, only when asked for

        return shared_redis(location.url)
    return None


async def open_state(connection: Shared) -> None:
    """Open `connection` (one more user of it); StateUnavailable, with its kind, on failure."""
    try:
        await connection.open()
    except SchemaTooNew as exc:
        raise _unavailable(connection, "schema_too_new", True, exc) from None
    except (sqlite3.Error, OSError) as exc:
        if isinstance(connection, SqliteDatabase):
            raise _unavailable(connection, "not_writable", True, exc) from None
        raise _unavailable(connection, "unreachable", False, exc) from None
    except Exception as exc:
        errors = _redis_errors()
        if errors is None:
            raise
        if isinstance(exc, errors.AuthenticationError | errors.ResponseError):
            # A wrong password or database number: the server answered, and will answer the same.
            raise _unavailable(connection, "rejected", True, exc) from None
        if isinstance(exc, errors.ConnectionError | errors.TimeoutError):
            raise _unavailable(connection, "unreachable", False, exc) from None
        raise


async def probe_state(connection: Shared) -> str:
    """Write and read back a probe on an open connection; what it runs, for the doctor.
    StateUnavailable when the write or the read fails."""
    try:
        if isinstance(connection, SqliteDatabase):
            # BEGIN IMMEDIATE takes the file's write lock: a file that cannot be written fails.
            version = await connection.transaction(
                lambda db: db.execute("PRAGMA user_version").fetchone()[0]
            )
            return (
                f"SQLite {sqlite3.sqlite_version} at {connection.path}: write lock and read, "
                f"schema {version}"
            )
        if _is_redis(connection):
            return await _probe_redis(connection)
    except (sqlite3.Error, OSError) as exc:
        raise _unavailable(connection, "not_writable", False, exc) from None
    except Exception as exc:
        errors = _redis_errors()
        if errors is None or not isinstance(exc, errors.RedisError):
            raise
        raise _unavailable(connection, "not_writable", False, exc) from None
    return type(connection).__name__


def _is_redis(connection: Shared) -> TypeGuard[RedisConnection]:
    module = sys.modules.get("bot.state.redis")  # loaded by whoever opened a Redis store
    return module is not None and isinstance(connection, module.RedisConnection)


async def _probe_redis(connection: RedisConnection) -> str:
    client = connection.client
    await client.set(PROBE_KEY, "ok", ex=60)
    read = await client.get(PROBE_KEY)
    await client.delete(PROBE_KEY)
    info = await client.info("server")
    if read != "ok":
        from redis.exceptions import DataError

        raise DataError("the probe read back differently")
    return f"Redis {info.get('redis_version', '?')} at {connection.address}: write and read"


def _unavailable(
    connection: Shared, problem: Problem, lasting: bool, exc: BaseException
) -> StateUnavailable:
    if isinstance(connection, SqliteDatabase):
        where = str(connection.path)
        return StateUnavailable("sqlite", problem, lasting=lasting, detail=_short(exc), where=where)
    where = connection.address if _is_redis(connection) else "?"
    return StateUnavailable("redis", problem, lasting=lasting, detail=_short(exc), where=where)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
