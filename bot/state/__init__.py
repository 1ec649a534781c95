"""Where state lives: `STATE_URL` parsing, and the connections the stores share.

A leaf: it knows files and servers, not quotas or server settings. The stores in
`bot.limits.store` and `bot.moderation.store` are built on it: one `SqliteDatabase` (one
connection, one thread) per file, and one Redis client per server, for both stores.
"""

from bot.state.backends import open_backend
from bot.state.redis import RedisConnection, shared_redis
from bot.state.schema import SCHEMA_VERSION, SchemaTooNew
from bot.state.sqlite import SqliteDatabase, shared_sqlite
from bot.state.url import Backend, StateLocation, parse_state_url

__all__ = [
    "SCHEMA_VERSION",
    "Backend",
    "RedisConnection",
    "SchemaTooNew",
    "SqliteDatabase",
    "StateLocation",
    "open_backend",
    "parse_state_url",
    "shared_redis",
    "shared_sqlite",
]
