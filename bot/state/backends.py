"""The one place a `STATE_URL` picks a backend: each store's factory says what it builds on
the shared connection, and this chooses which one and hands over the connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from bot.state.redis import RedisConnection, shared_redis
from bot.state.sqlite import SqliteDatabase, shared_sqlite
from bot.state.url import parse_state_url

T = TypeVar("T")


def open_backend(
    url: str,
    *,
    memory: Callable[[], T],
    sqlite: Callable[[SqliteDatabase], T],
    redis: Callable[[RedisConnection], T],
) -> T:
    """The store `url` names, built on this process's shared connection for it; nothing is
    opened yet. ValueError (naming STATE_URL) if the URL is not usable."""
    location = parse_state_url(url)
    if location.backend == "sqlite" and location.path is not None:
        return sqlite(shared_sqlite(location.path))
    if location.backend == "redis":
        return redis(shared_redis(location.url))
    return memory()
