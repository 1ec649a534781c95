"""Where server settings live: the same state as the quotas, chosen by the same STATE_URL.

- `memory://` (memory.py): in this process only (tests).
- `sqlite:///data/bot.db` (sqlite.py): the same SQLite file as the quotas, in its own table.
- `redis://host:6379/0` (redis.py): the same Redis database as the quotas, under its own keys.

Laid out like `bot.limits.store`: the interface in base.py imports no backend, and this package
is the one place that picks a backend for a URL (parsed by `bot.state`, as the quotas' is).
"""

from typing import TYPE_CHECKING

from bot.moderation.store.base import DEFAULT_CACHE_TTL, ServerSettingsStore
from bot.moderation.store.memory import MemoryServerSettings
from bot.moderation.store.sqlite import SqliteServerSettings
from bot.state import parse_state_url, shared_sqlite

if TYPE_CHECKING:
    from bot.moderation.store.redis import RedisServerSettings

__all__ = [
    "DEFAULT_CACHE_TTL",
    "MemoryServerSettings",
    "RedisServerSettings",
    "ServerSettingsStore",
    "SqliteServerSettings",
    "open_server_settings",
]


def open_server_settings(url: str, *, cache_ttl: float = DEFAULT_CACHE_TTL) -> ServerSettingsStore:
    """The settings store for a `STATE_URL` (nothing is opened yet); ValueError if unusable."""
    location = parse_state_url(url)
    if location.backend == "sqlite" and location.path is not None:
        return SqliteServerSettings(shared_sqlite(location.path), cache_ttl=cache_ttl)
    if location.backend == "redis":
        from bot.moderation.store.redis import RedisServerSettings
        from bot.state.redis import shared_redis

        return RedisServerSettings(shared_redis(location.url), cache_ttl=cache_ttl)
    return MemoryServerSettings()


def __getattr__(name: str) -> object:
    # The Redis backend imports `redis`, an optional extra: loaded only when asked for, so
    # that a bot on SQLite runs without it (STATE_URL=redis://... is refused at start).
    if name == "RedisServerSettings":
        from bot.moderation.store.redis import RedisServerSettings

        return RedisServerSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
