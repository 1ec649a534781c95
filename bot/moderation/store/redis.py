"""Server settings in the quotas' Redis database, one string key per server under the prefix.

A change is an optimistic transaction: WATCH the key, read, change, then MULTI/SET/EXEC, and
start again (after a short random pause) if another client wrote the key in between. Changes
from this process queue on a lock, so only other processes can cause a conflict; settings
change rarely (admins), so conflicts are rare and the retries cheap. Keys have no expiry:
settings last until reset.

Every change is announced on the channel `<prefix>:server-settings:changed` (Redis pub/sub:
the server's id and the writer's id); every other process drops that server from its cache,
so a change is in force everywhere within a round trip, not a cache TTL. While the listener
is cut off (Redis lost), the cache TTL still bounds what a process may miss, and the whole
cache is dropped when it listens again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError, WatchError

from bot.moderation.store.base import DEFAULT_CACHE_TTL, RawChange, ServerSettingsStore
from bot.resource import Lease, OnShared
from bot.state.redis import RedisConnection

log = logging.getLogger(__name__)

MAX_CONFLICTS = 50
LISTEN_RETRY_SECONDS = 1.0


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
        self._writer_id = uuid.uuid4().hex  # this process's changes are not news to it
        self._listener: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()  # subscribed (tests wait for it)

    @property
    def channel(self) -> str:
        """Where changes are announced."""
        return f"{self._prefix}:server-settings:changed"

    async def open(self) -> None:
        await super().open()
        if self._listener is None:
            self._listener = asyncio.create_task(self._listen(), name="server-settings-changes")

    async def close(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            listener.cancel()
            await asyncio.gather(listener, return_exceptions=True)
        await super().close()

    async def _listen(self) -> None:
        while True:
            try:
                await self._listen_once()
            except (OSError, TimeoutError, RedisError) as exc:
                self.listening.clear()
                log.warning("not hearing server settings changes (%s); listening again", exc)
            await asyncio.sleep(LISTEN_RETRY_SECONDS)

    async def _listen_once(self) -> None:
        pubsub = self._connection().pubsub()
        try:
            await pubsub.subscribe(self.channel)
            # Anything may have changed while nobody listened.
            self._forget(None)
            self.listening.set()
            while True:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                if message is not None:
                    guild, _, writer = str(message["data"]).partition(":")
                    if writer != self._writer_id and guild.isdigit():
                        self._forget(int(guild))
        finally:
            with contextlib.suppress(Exception):
                await pubsub.aclose()

    async def _announce(self, guild_id: int) -> None:
        message = f"{guild_id}:{self._writer_id}"
        try:
            await self._connection().publish(self.channel, message)
        except (OSError, TimeoutError, RedisError) as exc:
            # Saved, not announced: the others see it within the cache TTL.
            log.warning("could not announce a settings change of server %s (%s)", guild_id, exc)

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
                    await self._announce(guild_id)
                    return
                except WatchError:
                    log.debug("Settings of server %s changed meanwhile; trying again", guild_id)
                await asyncio.sleep(random.uniform(0, 0.02))
        raise RuntimeError(f"the settings of server {guild_id} kept changing; gave up")
