"""Turns across processes: the running places and the order of the waiting fronts, shared.

Several bot processes (each on its own shards) keep one FairQueue each; the store joins them
("per-process queues taking global turns"). When a process's front job may go by its own
queue, it asks the store for a turn: the turn starts only if fewer than MAX_CONCURRENT_REQUESTS
turns run in the whole service and it is the first of every process's waiting fronts, ranked
as FairQueue ranks members (the member served least recently, anywhere; then the oldest job).
A front that must wait asks again every `ASK_EVERY` seconds (its process's queue holds back
meanwhile). A running turn is a lease renewed every `RENEW_EVERY` s: a process killed during a
job frees its places `LEASE` s later; a front that stops asking is dropped after `SEEN` s.

With a store only one process uses (memory, SQLite) there is nothing to share and nothing here
costs anything: that process's FairQueue already is the whole queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.limits.store import Store
from bot.limits.store.base import Turn
from bot.limits.timing import Clock, Sleep, to_ms

log = logging.getLogger(__name__)

ASK_EVERY = 0.05
RENEW_EVERY = 10.0
LEASE = 30.0
SEEN = 3.0


class SharedTurns:
    """The running places of the whole service (`limit` of them) and its waiting fronts."""

    def __init__(self, store: Store, *, limit: int, clock: Clock, sleep: Sleep) -> None:
        self._store = store
        self.limit = limit
        self._clock = clock
        self._sleep = sleep
        self._running: set[str] = set()
        self._renewer: asyncio.Task[None] | None = None

    @property
    def shared(self) -> bool:
        return self._store.shares_turns

    def new_turn(self, member_key: str) -> Turn:
        return Turn(
            uuid.uuid4().hex,
            member_key,
            to_ms(self._clock()),
            lease_ms=int(LEASE * 1000),
            seen_ms=int(SEEN * 1000),
        )

    async def try_start(self, turn: Turn) -> float | None:
        """None when `turn` started (it holds a place), else when to ask again (epoch s)."""
        if await self._store.take_turn(turn, limit=self.limit, now_ms=to_ms(self._clock())):
            self._running.add(turn.job_id)
            self._keep_renewing()
            return None
        return self._clock() + ASK_EVERY

    async def give_back(self, turn: Turn) -> None:
        """Free the turn's place, or its waiting entry (it ended, failed or was cancelled)."""
        self._running.discard(turn.job_id)
        if not self._running and self._renewer is not None:
            self._renewer.cancel()
            self._renewer = None
        await self._store.end_turn(turn)

    @asynccontextmanager
    async def held(self, turn: Turn) -> AsyncIterator[None]:
        """Give the turn back when the block ends, however it ends (cancellation included)."""
        try:
            yield
        finally:
            # Shielded: a cancelled job must not keep a place of the whole service. If the
            # store is unreachable, the place lapses with its lease.
            try:
                await asyncio.shield(self.give_back(turn))
            except Exception as exc:  # noqa: BLE001 - logged; the lease ends it anyway
                log.warning("could not free a running place (%s); it lapses in %d s", exc, LEASE)

    def _keep_renewing(self) -> None:
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew(), name="renew-shared-turns")

    async def _renew(self) -> None:
        while self._running:
            await self._sleep(RENEW_EVERY)
            with contextlib.suppress(Exception):  # a Redis outage: the next round retries
                await self._store.renew_turns(
                    sorted(self._running), now_ms=to_ms(self._clock()), lease_ms=int(LEASE * 1000)
                )
