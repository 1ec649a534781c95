"""One Redis client per server, shared by the quotas and the server settings.

Every command gives up after `timeout` seconds (socket_timeout and socket_connect_timeout): a
server that stops answering must fail a request (or leave a reservation counted as used),
never hang it with its images made.
"""

from __future__ import annotations

import logging
import weakref
from urllib.parse import urlsplit

from redis.asyncio import Redis

from bot.resource import Shared

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0


class RedisConnection(Shared):
    """A Redis client (its own connection pool), opened by its first user, closed by its last."""

    def __init__(self, url: str, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__()
        self._url = url
        self._timeout = timeout
        self._client: Redis | None = None

    def __repr__(self) -> str:
        # The URL may carry a password.
        return f"RedisConnection(timeout={self._timeout!r})"

    @property
    def address(self) -> str:
        """host:port of the server, for messages (the URL's password left out)."""
        parts = urlsplit(self._url)
        return f"{parts.hostname}:{parts.port or 6379}"

    @property
    def client(self) -> Redis:
        """The client, while open; RuntimeError otherwise."""
        if self._client is None:
            raise RuntimeError("the Redis connection is not open; use `async with` or open()")
        return self._client

    async def _connect(self) -> None:
        client = Redis.from_url(
            self._url,
            decode_responses=True,
            socket_timeout=self._timeout,
            socket_connect_timeout=self._timeout,
        )
        try:
            await client.ping()
        except BaseException:
            await client.aclose()
            raise
        self._client = client
        log.info("State is kept in Redis")

    async def _disconnect(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()


_shared: weakref.WeakValueDictionary[str, RedisConnection] = weakref.WeakValueDictionary()


def shared_redis(url: str) -> RedisConnection:
    """This process's one `RedisConnection` for the server at `url` (made on first ask)."""
    connection = _shared.get(url)
    if connection is None:
        connection = _shared[url] = RedisConnection(url)
    return connection
