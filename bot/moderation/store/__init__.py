"""Where server settings live: the same state as the quotas, chosen by the same STATE_URL.

- `memory://` (memory.py): in this process only (tests).
- `sqlite:///data/bot.db` (sqlite.py): the same SQLite file as the quotas, in its own table.
- `redis://host:6379/0` (redis.py): the same Redis database as the quotas, under its own keys.

Laid out like `bot.limits.store`: the interface in base.py imports no backend, and this package
is the one place that picks a backend for a URL (parsed by `bot.state`, as the quotas' is).
"""

from bot.moderation.store.base import DEFAULT_CACHE_TTL, ServerSettingsStore
from bot.moderation.store.memory import MemoryServerSettings
from bot.moderation.store.redis import RedisServerSettings
from bot.moderation.store.sqlite import SqliteServerSettings
from bot.state import parse_state_url, shared_redis, shared_sqlite

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
        return RedisServerSettings(shared_redis(location.url), cache_ttl=cache_ttl)
    return MemoryServerSettings()
