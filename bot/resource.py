"""Connection-holding objects used as `async with`: `open()` on entry, `close()` on exit.

`Shared` is a connection several stores use (one SQLite file, one Redis server): opened by its
first user, closed by its last. Each store holds it through a `Lease`, so its own `open()` and
`close()` stay idempotent and a closed store refuses calls even while the other keeps it open.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Generic, Self, TypeVar


class AsyncResource(ABC):
    """Base of the state stores: `async with store:` or `open()` then `close()`."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abstractmethod
    async def open(self) -> None:
        """Connect (and create tables); idempotent."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections; idempotent."""


class Shared(AsyncResource):
    """A connection opened by its first user and closed by its last (each `open()` counts)."""

    def __init__(self) -> None:
        self._users = 0
        self._opening: asyncio.Future[None] | None = None

    @abstractmethod
    async def _connect(self) -> None:
        """Open the connection (for the first user)."""

    @abstractmethod
    async def _disconnect(self) -> None:
        """Close the connection (after the last user), if it is open."""

    async def open(self) -> None:
        self._users += 1
        try:
            if self._opening is None:
                self._opening = asyncio.ensure_future(self._connect_for_users())
            # Shielded: users opening together share the one start, whoever gives up first.
            await asyncio.shield(self._opening)
        except BaseException:
            self._users -= 1
            if self._users == 0 and self._opening is not None and self._opening.done():
                self._opening = None
            raise

    async def _connect_for_users(self) -> None:
        await self._connect()
        if self._users == 0:  # every user gave up while it connected
            self._opening = None
            await self._disconnect()

    async def close(self) -> None:
        if self._users == 0:
            return
        self._users -= 1
        if self._users:
            return
        opening, self._opening = self._opening, None
        if opening is not None and not opening.done():
            await asyncio.wait([opening])  # a start still on its way: close what it opens
        await self._disconnect()


S = TypeVar("S", bound=Shared)


class Lease(AsyncResource, Generic[S]):
    """One user's hold on a `Shared` connection: `open()` and `close()` count once each."""

    def __init__(self, shared: S, user: str) -> None:
        self.shared = shared
        self._user = user
        self._held = False

    async def open(self) -> None:
        if not self._held:
            await self.shared.open()
            self._held = True

    async def close(self) -> None:
        if self._held:
            self._held = False
            await self.shared.close()

    @property
    def held(self) -> S:
        """The connection, while this lease is open; RuntimeError otherwise."""
        if not self._held:
            raise RuntimeError(f"the {self._user} is not open; use `async with` or open()")
        return self.shared


class OnShared(AsyncResource, Generic[S]):
    """A store that reaches its state through `_lease`, a lease on a shared connection."""

    _lease: Lease[S]

    @property
    def connection(self) -> S:
        """The shared connection this store uses (open or not)."""
        return self._lease.shared

    async def open(self) -> None:
        await self._lease.open()

    async def close(self) -> None:
        await self._lease.close()
