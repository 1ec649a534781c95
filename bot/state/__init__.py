"""Where state lives: `STATE_URL` parsing, and the connections the stores share.

A leaf: it knows files and servers, not quotas or server settings. The stores in
`bot.limits.store` and `bot.moderation.store` are built on it: one `SqliteDatabase` (one
connection, one thread) per file, and one Redis client per server, for both stores.
"""

from typing import TYPE_CHECKING

from bot.state.backends import open_backend
from bot.state.opening import (
    StateUnavailable,
    is_outage,
    open_state,
    probe_state,
    state_connection,
)
from bot.state.schema import SCHEMA_VERSION, SchemaTooNew
from bot.state.sqlite import SqliteDatabase, shared_sqlite
from bot.state.url import Backend, StateLocation, parse_state_url

if TYPE_CHECKING:
    from bot.state.redis import RedisConnection, shared_redis

__all__ = [
    "SCHEMA_VERSION",
    "Backend",
    "RedisConnection",
    "SchemaTooNew",
    "SqliteDatabase",
    "StateLocation",
    "StateUnavailable",
    "is_outage",
    "open_backend",
    "open_state",
    "parse_state_url",
    "probe_state",
    "shared_redis",
    "shared_sqlite",
    "state_connection",
]


def __getattr__(name: str) -> object:
    # The Redis backend imports `redis`, an optional extra: loaded only when asked for, so
    # that a bot on SQLite runs without it (STATE_URL=redis://... is refused at start).
    if name == "RedisConnection":
        from bot.state.redis import RedisConnection

        return RedisConnection
    if name == "shared_redis":
        from bot.state.redis import shared_redis

        return shared_redis
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
