"""Server settings in the quotas' Redis database, one string key per server under the prefix.

A change is an optimistic transaction: WATCH the key, read, change, then MULTI/SET/EXEC, and
start again (after a short random pause) if another client wrote the key in between. Changes
from this process queue on a lock, so only other processes can cause a conflict; settings
change rarely (admins), so conflicts are rare and the retries cheap. Keys have no expiry:
settings last until reset. Other processes see a change within the cache TTL (see
`bot.moderation.store.base`).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import WatchError

from bot.moderation.store.base import DEFAULT_CACHE_TTL, RawChange, ServerSettingsStore
from bot.resource import Lease, OnShared
from bot.state.redis import RedisConnection

log = logging.getLogger(__name__)

MAX_CONFLICTS = 50


class RedisServerSettings(OnShared[RedisConnection], ServerSettingsStore):
    """Server settings in Redis (standalone server; keys `<prefix>:server-settings:<guild>`),
    through the server's shared `RedisConnection`, the quotas' client."""

    def __init__(
        self,
        redis: RedisConnection,
        *,
        prefix: str = "imagine-bot",
        cache_ttl: float = DEFAULT_CACHE_TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(cache_ttl=cache_ttl, monotonic=monotonic)
        self._lease = Lease(redis, "Redis settings store")
        self._prefix = prefix
        self._write_lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"RedisServerSettings(prefix={self._prefix!r})"

    def key(self, guild_id: int) -> str:
        """The Redis key holding a server's settings."""
        return f"{self._prefix}:server-settings:{guild_id}"

    def _connection(self) -> Redis:
        return self._lease.held.client

    async def _read(self, guild_id: int) -> str | None:
        value = await self._connection().get(self.key(guild_id))
        return None if value is None else str(value)

    async def _modify(self, guild_id: int, change: RawChange) -> None:
        key = self.key(guild_id)
        async with self._write_lock, self._connection().pipeline(transaction=True) as pipe:
            for _attempt in range(MAX_CONFLICTS):
                try:
                    await pipe.watch(key)
                    current = await pipe.get(key)
                    document = change(None if current is None else str(current))
                    pipe.multi()  # type: ignore[no-untyped-call]
                    if document is None:
                        pipe.delete(key)
                    else:
                        pipe.set(key, document)
                    await pipe.execute()
                    return
                except WatchError:
                    log.debug("Settings of server %s changed meanwhile; trying again", guild_id)
                await asyncio.sleep(random.uniform(0, 0.02))
        raise RuntimeError(f"the settings of server {guild_id} kept changing; gave up")
