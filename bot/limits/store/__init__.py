"""Where limit state lives: one interface (base.py), three backends, chosen by one URL.

- `memory://` (memory.py): in this process only (tests; state is lost on restart).
- `sqlite:///data/bot.db` (sqlite.py): the embedded default; survives restarts; several
  processes on one host may share the file.
- `redis://host:6379/0` (redis.py): several bot processes or shards share one budget.

Laid out like Red-DiscordBot's `redbot/core/_drivers/`: the backends import the interface,
never this package, and this package is the one place that picks a backend for a URL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.limits.store.base import (
    RETENTION_MS,
    Entry,
    ReserveOutcome,
    Store,
    WindowCheck,
    fits_at,
)
from bot.limits.store.memory import MemoryStore
from bot.limits.store.sqlite import SqliteStore
from bot.state import open_backend

if TYPE_CHECKING:
    from bot.limits.store.redis import RedisStore
    from bot.state.redis import RedisConnection

__all__ = [
    "RETENTION_MS",
    "Entry",
    "MemoryStore",
    "RedisStore",
    "ReserveOutcome",
    "SqliteStore",
    "Store",
    "WindowCheck",
    "fits_at",
    "open_store",
]


def open_store(url: str) -> Store:
    """The store for a `STATE_URL`; nothing is opened yet. ValueError if the URL is not usable."""
    return open_backend(url, memory=MemoryStore, sqlite=SqliteStore, redis=_redis_store)


def _redis_store(connection: RedisConnection) -> Store:
    from bot.limits.store.redis import RedisStore  # `redis` is an optional extra

    return RedisStore(connection)


def __getattr__(name: str) -> object:
    # The Redis backend imports `redis`, an optional extra: loaded only when asked for, so
    # that a bot on SQLite runs without it (STATE_URL=redis://... is refused at start).
    if name == "RedisStore":
        from bot.limits.store.redis import RedisStore

        return RedisStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
