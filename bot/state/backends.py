"""The one place a `STATE_URL` picks a backend: each store's factory says what it builds on
the shared connection, and this chooses which one and hands over the connection."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from bot.state.sqlite import SqliteDatabase, shared_sqlite
from bot.state.url import parse_state_url

if TYPE_CHECKING:
    from bot.state.redis import RedisConnection

T = TypeVar("T")


def open_backend(
    url: str,
    *,
    memory: Callable[[], T],
    sqlite: Callable[[SqliteDatabase], T],
    redis: Callable[[RedisConnection], T],
) -> T:
    """The store `url` names, built on this process's shared connection for it; nothing is
    opened yet. ValueError (naming STATE_URL) if the URL is not usable. `redis` is called only
    for a redis:// URL, so a factory may import its backend (the optional extra) inside it."""
    location = parse_state_url(url)
    if location.backend == "sqlite" and location.path is not None:
        return sqlite(shared_sqlite(location.path))
    if location.backend == "redis":
        from bot.state.redis import shared_redis  # `redis` is an optional extra

        return redis(shared_redis(location.url))
    return memory()
