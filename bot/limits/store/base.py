"""The interface of limit state: what every backend does, and the values it passes.

Every time here is an integer number of milliseconds since the epoch, passed in by the caller
(never read from the store's own clock), so tests can move time and processes agree on windows.
Each method is atomic on its own: two concurrent `reserve` calls never both take the last image.
Imports no backend: the backends import this, and the package's `__init__` chooses one.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass

from bot.resource import AsyncResource

# Records older than this are dropped. Windows are at most a day long (a rolling window of up
# to 24 h, or the UTC day so far), so two days keeps every record a window can still count.
RETENTION_MS = 2 * 86_400_000


@dataclass(frozen=True, slots=True)
class WindowCheck:
    """One window of a reservation: records made at or after `start_ms` count against `limit`."""

    start_ms: int
    limit: int


@dataclass(frozen=True, slots=True)
class ReserveOutcome:
    """Whether the reservation was made, and each window's use before it (same order as checks)."""

    admitted: bool
    used: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Entry:
    """One reservation as stored: when it was made, how many images, and if it is still pending."""

    reservation_id: str
    at_ms: int
    images: int
    pending: bool


class Store(AsyncResource):
    """Limit state. Use as `async with open_store(url) as store:`, or `open()` then `close()`."""

    @abstractmethod
    async def reserve(
        self,
        key: str,
        reservation_id: str,
        *,
        images: int,
        checks: Sequence[WindowCheck],
        now_ms: int,
        expires_ms: int,
    ) -> ReserveOutcome:
        """Record `images` for `key` at `now_ms` if every check still has room, atomically.

        The record counts at once and stays pending (refundable) until `expires_ms`.
        """

    @abstractmethod
    async def commit(self, key: str, reservation_id: str, *, now_ms: int) -> bool:
        """Settle a pending reservation as used; False if it was not pending (idempotent)."""

    @abstractmethod
    async def refund(self, key: str, reservation_id: str, *, now_ms: int) -> bool:
        """Delete a pending reservation; False if it was committed, expired or gone."""

    @abstractmethod
    async def history(self, key: str, *, since_ms: int, now_ms: int) -> list[Entry]:
        """The records of `key` made at or after `since_ms`, oldest first."""

    @abstractmethod
    async def take_budget(
        self, entry_id: str, *, images: int, limit: int, window_ms: int, now_ms: int
    ) -> int | None:
        """Take `images` from the shared budget (`limit` per `window_ms`), atomically.

        Returns None when taken, else the epoch ms at which to try again: the end of a pause,
        or when enough of the budget frees up.
        """

    @abstractmethod
    async def pause_until(self, until_ms: int, *, now_ms: int) -> None:
        """Stop the shared budget from handing out images before `until_ms` (never shortens)."""

    @abstractmethod
    async def paused_until(self, *, now_ms: int) -> int | None:
        """The end of the current pause, or None when not paused."""

    # Turns across processes. A store that one process alone uses (memory, SQLite) has none
    # to share: that process's own FairQueue is the whole queue, and these are no-ops.
    shares_turns = False

    async def take_turn(self, turn: Turn, *, limit: int, now_ms: int) -> bool:
        """Start `turn` if fewer than `limit` turns run in all the processes and it is the
        first of every process's waiting fronts; else it waits there (see `Turn`)."""
        return True

    async def end_turn(self, turn: Turn) -> None:
        """The turn ended, or stopped waiting: free its place (idempotent)."""

    async def renew_turns(self, job_ids: Sequence[str], *, now_ms: int, lease_ms: int) -> None:
        """Keep running turns alive; a crashed process's turns lapse `lease_ms` after its last
        renewal."""


@dataclass(frozen=True, slots=True)
class Turn:
    """One job asking for a running place in the whole service. Fronts wait in order of
    (when the member was last served, anywhere; when the job arrived), as FairQueue ranks them.
    """

    job_id: str
    member_key: str
    arrival_ms: int
    lease_ms: int  # a running turn lapses this long after its last renewal
    seen_ms: int  # a waiting front that stops asking for this long is dropped

    @property
    def entry(self) -> str:
        """Its name among the waiting fronts, sorting by arrival within one rank."""
        return f"{self.arrival_ms:015d}:{self.job_id}"


def fits_at(entries: Sequence[tuple[int, int]], *, need: int, window_ms: int) -> int:
    """When `need` images will have left a rolling window of (at_ms, images), oldest first."""
    freed = 0
    for at_ms, count in entries:
        freed += count
        if freed >= need:
            return at_ms + window_ms
    # Only when the caller asks for more than the window can ever hold, which it checks first.
    raise ValueError("the request can never fit in this window")
