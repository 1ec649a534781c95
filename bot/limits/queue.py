"""The fair queue: jobs wait their turn for the image service, round-robin across members.

The next job to go is always the oldest waiting job of the member served least recently (a
member not served yet comes first), so one member with many jobs cannot starve the others:
with A's five jobs and then B's one waiting, B goes second. The queue lives in this process;
the budget that it waits on (`admit`) may be shared through the store.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bot.limits.errors import QueueFull, TooManyWaiting
from bot.limits.timing import Clock, Sleep

log = logging.getLogger(__name__)

PositionCallback = Callable[[int], Awaitable[object]]
"""Told a waiting job's place in the queue (1 = next) whenever it changes."""

Admit = Callable[[], Awaitable[float | None]]
"""Tries to let the job at the front go: None when it may, else when to try again (epoch s)."""


@dataclass(eq=False, slots=True)
class _Job:
    member: str
    seq: int
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)


class FairQueue:
    """Round-robin waiting room in front of at most `max_concurrent` running jobs."""

    def __init__(
        self,
        *,
        max_concurrent: int = 4,
        max_waiting: int = 20,
        max_waiting_per_member: int = 3,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if min(max_concurrent, max_waiting, max_waiting_per_member) < 1:
            raise ValueError("max_concurrent, max_waiting and max_waiting_per_member must be >= 1")
        self.max_concurrent = max_concurrent
        self.max_waiting = max_waiting
        self.max_waiting_per_member = max_waiting_per_member
        self._clock = clock
        self._sleep = sleep
        self._waiting: dict[str, deque[_Job]] = {}
        self._running: dict[str, int] = {}
        self._last_served: dict[str, int] = {}
        self._served = 0
        self._seq = itertools.count()
        self._order: list[_Job] = []
        self._positions: dict[_Job, int] = {}
        self._admitting = False
        # The last admission was refused (budget used up, or paused): nobody goes for now.
        self._held_back = False

    @property
    def waiting(self) -> int:
        """Jobs waiting, all members together."""
        return len(self._positions)

    @property
    def running(self) -> int:
        """Jobs that got their turn and have not finished."""
        return sum(self._running.values())

    def waiting_for(self, member_key: str) -> int:
        """Jobs of this member waiting."""
        return len(self._waiting.get(member_key, ()))

    def wake(self) -> None:
        """Make the job at the front check again now (e.g. after the budget's pause changed)."""
        if self._order:
            self._order[0].wakeup.set()

    def check_room(self, member_key: str) -> None:
        """Raise `TooManyWaiting` or `QueueFull` if a new job of this member could not wait.

        Jobs that are about to take a free running place (queued only for the moment the budget
        takes to answer) do not count as waiting, unless the budget is holding everyone back.
        """
        free = 0 if self._held_back else max(0, self.max_concurrent - self.running)
        stuck = self._order[free:]
        waiting_for_member = sum(1 for job in stuck if job.member == member_key)
        if waiting_for_member >= self.max_waiting_per_member:
            raise TooManyWaiting(waiting=waiting_for_member, limit=self.max_waiting_per_member)
        if len(stuck) >= self.max_waiting:
            raise QueueFull(waiting=len(stuck), limit=self.max_waiting)

    @asynccontextmanager
    async def turn(
        self,
        member_key: str,
        *,
        admit: Admit | None = None,
        on_position: PositionCallback | None = None,
    ) -> AsyncIterator[None]:
        """Wait for this job's turn, then hold one of the running places until the block ends.

        Raises `TooManyWaiting` or `QueueFull` at once when a cap is reached. `on_position` is
        awaited with the job's place (1 = next) each time it changes while it waits; it is not
        called at all for a job that can go at once. Cancelling the wait leaves the queue.
        """
        self.check_room(member_key)
        job = _Job(member_key, next(self._seq))
        self._waiting.setdefault(member_key, deque()).append(job)
        self._changed()
        try:
            await self._wait_for_turn(job, admit, on_position)
        except BaseException:
            if job in self._positions:
                self._remove(job)
                self._changed()
            raise
        try:
            yield
        finally:
            self._finish(member_key)

    async def _wait_for_turn(
        self, job: _Job, admit: Admit | None, on_position: PositionCallback | None
    ) -> None:
        reported: int | None = None
        while True:
            # Cleared before reading the state, so no change after this point is missed.
            job.wakeup.clear()
            retry_at: float | None = None
            if self._may_go(job):
                self._admitting = True
                try:
                    retry_at = await admit() if admit is not None else None
                finally:
                    self._admitting = False
                self._held_back = retry_at is not None
                if retry_at is None:
                    self._start(job)
                    return
                # Whoever became first while this one was asking may go now.
                if self._order and self._order[0] is not job:
                    self._order[0].wakeup.set()
            position = self._positions[job]
            if on_position is not None and position != reported:
                reported = position
                await _report(on_position, position)
            await self._wait(job, retry_at)

    def _may_go(self, job: _Job) -> bool:
        return (
            self._positions[job] == 1 and self.running < self.max_concurrent and not self._admitting
        )

    async def _wait(self, job: _Job, retry_at: float | None) -> None:
        """Until something changed for `job`, or (when given) until `retry_at`."""
        if retry_at is None:
            await job.wakeup.wait()
            return
        delay = retry_at - self._clock()
        if delay <= 0:
            return
        sleeper = asyncio.ensure_future(self._sleep(delay))
        woken = asyncio.ensure_future(job.wakeup.wait())
        try:
            await asyncio.wait((sleeper, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            woken.cancel()
            await asyncio.gather(sleeper, woken, return_exceptions=True)

    def _start(self, job: _Job) -> None:
        self._remove(job)
        self._running[job.member] = self._running.get(job.member, 0) + 1
        self._served += 1
        self._last_served[job.member] = self._served
        self._changed()

    def _finish(self, member: str) -> None:
        self._running[member] -= 1
        if not self._running[member]:
            del self._running[member]
            self._forget_if_idle(member)
        self._changed()

    def _remove(self, job: _Job) -> None:
        jobs = self._waiting[job.member]
        jobs.remove(job)
        if not jobs:
            del self._waiting[job.member]
            self._forget_if_idle(job.member)

    def _forget_if_idle(self, member: str) -> None:
        # A member with nothing waiting or running starts afresh next time.
        if member not in self._waiting and member not in self._running:
            self._last_served.pop(member, None)

    def _changed(self) -> None:
        """Recompute every waiting job's place and let each one look at it."""
        self._order = self._service_order()
        self._positions = {job: place for place, job in enumerate(self._order, start=1)}
        for job in self._order:
            job.wakeup.set()

    def _service_order(self) -> list[_Job]:
        """The order in which the waiting jobs will go if nothing else changes."""
        # (last served, first waiting job's arrival, member): the smallest goes next.
        heap = [
            (self._last_served.get(member, 0), jobs[0].seq, member)
            for member, jobs in self._waiting.items()
        ]
        heapq.heapify(heap)
        taken = dict.fromkeys(self._waiting, 0)
        served = self._served
        order = []
        while heap:
            _, _, member = heapq.heappop(heap)
            jobs = self._waiting[member]
            order.append(jobs[taken[member]])
            taken[member] += 1
            served += 1
            if taken[member] < len(jobs):
                heapq.heappush(heap, (served, jobs[taken[member]].seq, member))
        return order


async def _report(on_position: PositionCallback, position: int) -> None:
    try:
        await on_position(position)
    except Exception:
        # A failed message edit must not cost the member their place.
        log.warning("Could not report queue position %d", position, exc_info=True)
