"""A connection-holding object used as `async with`: `open()` on entry, `close()` on exit."""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


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
