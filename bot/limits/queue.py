"""The fair queue: jobs wait their turn for the image service, round-robin across members.

The next job to go is always the oldest waiting job of the member served least recently (a
member not served yet comes first), so one member with many jobs cannot starve the others:
with A's five jobs and then B's one waiting, B goes second. The queue lives in this process;
the budget that it waits on (`admit`) may be shared through the store.

A request may take its place in line when it arrives (`join`), before the slow steps that
come before its turn (deferring, screening, downloading): a burst's checks then see each
other, and a member's requests go in the order they arrived, whichever reaches its turn
first. A member whose oldest request is not ready yet waits for it; the others go meanwhile.

Only the job at the front is woken when a running place frees up, so a change costs the same
however many jobs wait. A waiting job hears its place in line only when it really waits (it is
beyond the free running places, or the budget holds everyone back), and the edits that tell
members their places are capped for the whole queue (`reports_per_second`): each is a message
edit on Discord, and without a cap a queue of n jobs moving n times makes n² of them.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bot.limits.errors import QueueFull, TooManyWaiting
from bot.limits.places import PlaceTeller, PositionCallback
from bot.limits.timing import Clock, Sleep
from bot.limits.withdrawal import WaitingJob, Withdrawal, Withdrawn

__all__ = ["Admit", "FairQueue", "Place", "PositionCallback", "Withdrawal", "Withdrawn"]

Admit = Callable[[], Awaitable[float | None]]
"""Tries to let the job at the front go: None when it may, else when to try again (epoch s)."""

# Places told to members, all jobs together. Up to the burst every change is shown at once;
# past it, changes merge and each job shows its latest place when its update comes round (the
# job told longest ago first). With 20 jobs waiting, one update a second each.
REPORTS_PER_SECOND = 20.0
REPORT_BURST = 20
# The whole queue's order (for telling places) is worked out at most this often.
_REPORT_PASS_SECONDS = 0.02


@dataclass(eq=False, slots=True)
class _Job:
    member: str
    seq: int
    images: int = 1
    teller: PlaceTeller | None = None  # when the member is told the job's place
    # False from `join` until the request asks for its turn: it holds its place, but only
    # the member's jobs before it may go meanwhile.
    ready: bool = True
    wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    queued: bool = True  # waiting; False once it started or left
    withdrawal: Withdrawal | None = None
    admitting: bool = False  # the budget is being asked for this job now


class Place:
    """A request's place in line, taken when it arrived (see `FairQueue.join`)."""

    __slots__ = ("_job",)

    def __init__(self, job: _Job) -> None:
        self._job = job

    @property
    def member(self) -> str:
        """Whose place it is."""
        return self._job.member

    @property
    def waiting(self) -> bool:
        """Still held for a turn not asked for yet (not left, not used)."""
        return self._job.queued and not self._job.ready


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
        reports_per_second: float = REPORTS_PER_SECOND,
        report_burst: int = REPORT_BURST,
    ) -> None:
        if min(max_concurrent, max_waiting, max_waiting_per_member) < 1:
            raise ValueError("max_concurrent, max_waiting and max_waiting_per_member must be >= 1")
        if reports_per_second <= 0 or report_burst < 1:
            raise ValueError("reports_per_second must be above 0 and report_burst at least 1")
        self.max_concurrent = max_concurrent
        self.max_waiting = max_waiting
        self.max_waiting_per_member = max_waiting_per_member
        self._clock = clock
        self._sleep = sleep
        self._waiting: dict[str, deque[_Job]] = {}
        self._waiting_count = 0  # joined or waiting, not started yet
        self._ready_count = 0  # of those, the ones that asked for their turn
        self._waiting_images = 0  # what all of them ask for
        self._listening = 0  # waiting jobs with an on_position
        self._running: dict[str, int] = {}
        self._running_count = 0
        self._last_served: dict[str, int] = {}
        self._served = 0
        self._seq = itertools.count()
        # (last served, seq of the member's first waiting job, member) for each member with
        # jobs waiting: the smallest is the front. Entries go stale as jobs leave and are
        # dropped when they reach the top.
        self._fronts: list[tuple[int, int, str]] = []
        self._order: list[_Job] | None = None  # the whole service order, until the next change
        self._admitting = False
        # The last admission was refused (budget used up, or paused): nobody goes for now.
        self._held_back = False
        self._reports_per_second = reports_per_second
        self._report_burst = report_burst
        self._tokens = float(report_burst)
        self._tokens_at = -math.inf
        self._next_pass = -math.inf
        self._pass_timer: asyncio.TimerHandle | None = None
        self._typical_run: float | None = None  # seconds a turn lasts, a moving average
        # Told how long each job waited for its turn (metrics).
        self.on_waited: Callable[[float], None] | None = None

    @property
    def waiting(self) -> int:
        """Jobs waiting, all members together."""
        return self._waiting_count

    @property
    def running(self) -> int:
        """Jobs that got their turn and have not finished."""
        return self._running_count

    @property
    def images_waiting(self) -> int:
        """Images the waiting jobs ask for, all members together."""
        return self._waiting_images

    def waiting_for(self, member_key: str) -> int:
        """Jobs of this member waiting."""
        return len(self._waiting.get(member_key, ()))

    def waiting_jobs(self) -> list[WaitingJob]:
        """The jobs that asked for their turn, next first (copies: reading changes nothing)."""
        order = enumerate(self._service_order(), start=1)
        return [WaitingJob(place, job.member, job.images, job.withdrawal) for place, job in order]

    @property
    def typical_run(self) -> float | None:
        """How long a turn lasts (a moving average, seconds), or None before the first ends."""
        return self._typical_run

    def images_through(self, position: int) -> int:
        """Images of the jobs in line up to and including the one at `position` (1 = next,
        as told to `on_position`): what the budget must hand out before that job starts."""
        return sum(job.images for job in self._service_order()[: max(0, position)])

    def wake(self) -> None:
        """Make the job at the front check again now (e.g. after the budget's pause changed)."""
        front = self._front()
        if front is not None:
            front.wakeup.set()

    def check_room(self, member_key: str) -> None:
        """Raise `TooManyWaiting` or `QueueFull` if a new job of this member could not wait.

        Places taken by `join` count as waiting. Jobs that are about to take a free running
        place (queued only for the moment the budget takes to answer) do not, unless the budget
        is holding everyone back.
        """
        free = self._free_places()
        stuck = self._waiting_count - free
        if stuck <= 0:
            return
        waiting_for_member = self.waiting_for(member_key)
        if free and waiting_for_member:
            going = self._service_order(limit=free, unready=True)
            waiting_for_member -= sum(1 for job in going if job.member == member_key)
        if waiting_for_member >= self.max_waiting_per_member:
            raise TooManyWaiting(waiting=waiting_for_member, limit=self.max_waiting_per_member)
        if stuck >= self.max_waiting:
            raise QueueFull(waiting=stuck, limit=self.max_waiting)

    def ticket(self) -> int:
        """The next arrival number: a request that takes one on arrival and passes it to
        `join` keeps its rank among its member's requests, whenever it joins."""
        return next(self._seq)

    def join(self, member_key: str, *, images: int = 1, ticket: int | None = None) -> Place:
        """Take a place in line now, for a turn asked for later (`turn(place=...)`).

        Raises `TooManyWaiting` or `QueueFull` at once when a cap is reached, counting the
        places already taken. Give the place back with `leave` if the turn is never asked for.
        """
        self.check_room(member_key)
        job = _Job(member_key, next(self._seq) if ticket is None else ticket, images, ready=False)
        self._add(job)
        return Place(job)

    def leave(self, place: Place) -> None:
        """Give back a place whose turn was not asked for (nothing happens after the turn)."""
        job = place._job
        if job.queued and not job.ready:
            self._remove(job)
            self._changed()

    @asynccontextmanager
    async def turn(
        self,
        member_key: str,
        *,
        admit: Admit | None = None,
        on_position: PositionCallback | None = None,
        place: Place | None = None,
        images: int = 1,
        withdrawal: Withdrawal | None = None,
    ) -> AsyncIterator[None]:
        """Wait for this job's turn, then hold one of the running places until the block ends.

        Raises `TooManyWaiting` or `QueueFull` at once when a cap is reached. `on_position` is
        awaited with the job's place (1 = next) when the job really waits (it is beyond the
        free running places, or the budget holds everyone back) and its place changed, within
        the queue's cap on such reports; never for a job that goes without waiting. It runs in
        a task of its own; an edit in progress when the turn comes is finished before the block
        starts. Cancelling the wait leaves the queue. With a `place` from `join`, the job keeps
        it (no check again); `images` weighs the job in the wait estimates. `withdrawal`: the
        job leaves the line when it is withdrawn, and the block raises `Withdrawn`.
        """
        if place is None:
            self.check_room(member_key)
            job = _Job(member_key, next(self._seq), images)
            self._add(job)
        else:
            job = place._job
            if job.member != member_key or not job.queued or job.ready:
                raise ValueError("that place is not this member's, or was already used")
        job.withdrawal = withdrawal
        if withdrawal is not None:
            withdrawal.attach(job)
        self._ready(job, on_position)
        asked = self._clock()
        try:
            await self._wait_for_turn(job, admit)
        except BaseException:
            if job.queued:
                self._remove(job)
                self._changed()
            if job.teller is not None:
                job.teller.stop()
            raise
        started = self._clock()
        if self.on_waited is not None:
            self.on_waited(started - asked)
        try:
            if job.teller is not None:
                await job.teller.finish()
            yield
        finally:
            self._finish(member_key, self._clock() - started)

    async def _wait_for_turn(self, job: _Job, admit: Admit | None) -> None:
        while True:
            # Cleared before reading the state, so no change after this point is missed.
            job.wakeup.clear()
            if job.withdrawal is not None and job.withdrawal.withdrawn:
                raise Withdrawn(job.withdrawal.by)
            retry_at: float | None = None
            if self._may_go(job):
                self._admitting = job.admitting = True
                try:
                    retry_at = await admit() if admit is not None else None
                finally:
                    self._admitting = job.admitting = False
                self._held_back = retry_at is not None
                if retry_at is None:
                    self._start(job)
                    return
                # Nobody goes for now, so every waiting job's place counts; and whoever became
                # first while this one was asking may go (or ask) now.
                self._changed(wake_front=False)
                front = self._front()
                if front is not None and front is not job:
                    front.wakeup.set()
            await self._wait(job, retry_at)

    def _may_go(self, job: _Job) -> bool:
        return (
            not self._admitting
            and self._running_count < self.max_concurrent
            and self._front() is job
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

    # --- the queue's state ---------------------------------------------------------------------

    def _add(self, job: _Job) -> None:
        """Add a job that is not ready yet, among its member's by arrival; `_ready` puts it
        in line. (A member's first job in the ranking heap, if displaced, goes stale there.)"""
        job.ready = False
        jobs = self._waiting.setdefault(job.member, deque())
        at = len(jobs)
        while at and jobs[at - 1].seq > job.seq:
            at -= 1
        jobs.insert(at, job)
        self._waiting_count += 1
        self._waiting_images += job.images

    def _ready(self, job: _Job, on_position: PositionCallback | None) -> None:
        job.ready = True
        self._ready_count += 1
        if on_position is not None:
            job.teller = PlaceTeller(on_position, name=f"queue-place-{job.seq}")
            self._listening += 1
        if self._waiting[job.member][0] is job:
            self._push_front(job.member)
        # Only the new job itself can have become the front, and it looks by itself; but
        # when it was its member's first, the member's later jobs may have a new place.
        self._changed(wake_front=False)

    def _start(self, job: _Job) -> None:
        if job.withdrawal is not None:
            job.withdrawal.started = True
        # Served first, so that the member's next job is ranked once, by this turn.
        self._running[job.member] = self._running.get(job.member, 0) + 1
        self._running_count += 1
        self._served += 1
        self._last_served[job.member] = self._served
        self._remove(job)
        self._changed()

    def _finish(self, member: str, seconds: float) -> None:
        self._typical_run = (
            seconds if self._typical_run is None else 0.8 * self._typical_run + 0.2 * seconds
        )
        self._running[member] -= 1
        self._running_count -= 1
        if not self._running[member]:
            del self._running[member]
            self._forget_if_idle(member)
        self._changed()

    def _remove(self, job: _Job) -> None:
        jobs = self._waiting[job.member]
        was_first = jobs[0] is job
        jobs.remove(job)
        job.queued = False
        self._waiting_count -= 1
        self._waiting_images -= job.images
        if job.ready:
            self._ready_count -= 1
        if job.teller is not None:
            job.teller.close()
            self._listening -= 1
        if not jobs:
            del self._waiting[job.member]
            self._forget_if_idle(job.member)
            if not self._waiting:
                self._fronts.clear()
        elif was_first:
            self._push_front(job.member)

    def _forget_if_idle(self, member: str) -> None:
        # A member with nothing waiting or running starts afresh next time.
        if member not in self._waiting and member not in self._running:
            self._last_served.pop(member, None)

    def _changed(self, *, wake_front: bool = True) -> None:
        """After any change: the order is worked out again when needed, the front looks at
        whether it may go now, and the places shown are brought up to date."""
        self._order = None
        if wake_front:
            self.wake()
        self._tell_places()

    def _free_places(self) -> int:
        return 0 if self._held_back else max(0, self.max_concurrent - self._running_count)

    def _push_front(self, member: str) -> None:
        """Rank the member by its first waiting job (after it changed), if it is ready."""
        jobs = self._waiting.get(member)
        if jobs and jobs[0].ready:
            heapq.heappush(self._fronts, self._rank(member, jobs))

    def _rank(self, member: str, jobs: deque[_Job]) -> tuple[int, int, str]:
        """(last served, first waiting job's arrival, member): the smallest goes next."""
        return (self._last_served.get(member, 0), jobs[0].seq, member)

    def _front(self) -> _Job | None:
        """The job that goes next if nothing else changes (the first of `_service_order`)."""
        fronts = self._fronts
        while fronts:
            member = fronts[0][2]
            jobs = self._waiting.get(member)
            if jobs and jobs[0].ready and self._rank(member, jobs) == fronts[0]:
                return jobs[0]
            heapq.heappop(fronts)
        return None

    def _service_order(self, *, limit: int | None = None, unready: bool = False) -> list[_Job]:
        """The order in which the ready jobs will go if nothing else changes (the first
        `limit` of them when given). A member's jobs after one not ready yet wait for it;
        with `unready`, as if every job were ready (for what a new job will find)."""
        if self._order is not None and not unready:
            return self._order if limit is None else self._order[:limit]
        heap = [
            self._rank(member, jobs)
            for member, jobs in self._waiting.items()
            if unready or jobs[0].ready
        ]
        heapq.heapify(heap)
        taken = dict.fromkeys(self._waiting, 0)
        served = self._served
        total = self._waiting_count if unready else self._ready_count
        wanted = total if limit is None else min(limit, total)
        order: list[_Job] = []
        while heap and len(order) < wanted:
            _, _, member = heapq.heappop(heap)
            jobs = self._waiting[member]
            order.append(jobs[taken[member]])
            taken[member] += 1
            served += 1
            if taken[member] < len(jobs) and (unready or jobs[taken[member]].ready):
                heapq.heappush(heap, (served, jobs[taken[member]].seq, member))
        if limit is None and not unready:
            self._order = order
        return order

    # --- telling members their places ----------------------------------------------------------

    def _tell_places(self) -> None:
        """Hand each really waiting job whose place changed its new place, within the cap."""
        if not self._listening:
            return
        free = self._free_places()
        if self._ready_count <= free:
            return  # every job in line is about to go: nobody is told a place
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now < self._next_pass:
            self._tell_places_at(self._next_pass)
            return
        self._next_pass = now + _REPORT_PASS_SECONDS
        self._tokens = min(
            float(self._report_burst),
            self._tokens + max(0.0, now - self._tokens_at) * self._reports_per_second,
        )
        self._tokens_at = now
        order = self._service_order()
        due = [
            (job.teller.wanted_at, place, job.teller)
            for place, job in enumerate(order[free:], start=free + 1)
            if job.teller is not None and job.teller.wanted != place
        ]
        if not due:
            return
        due.sort(key=lambda item: (item[0], item[1]))
        count = min(len(due), int(self._tokens))
        for _, place, teller in due[:count]:
            teller.tell(place, now)
        self._tokens -= count
        if count < len(due):
            self._tell_places_at(now + (1.0 - self._tokens) / self._reports_per_second)

    def _tell_places_at(self, when: float) -> None:
        if self._pass_timer is None:
            self._pass_timer = asyncio.get_running_loop().call_at(when, self._timed_pass)

    def _timed_pass(self) -> None:
        self._pass_timer = None
        self._tell_places()
