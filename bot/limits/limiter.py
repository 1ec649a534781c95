"""One object for the Discord layer: member quotas, the global budget and the fair queue.

    async with limiter.slot(member_key, images=n, policy=policy, on_position=show) as held:
        result = await client.generate(...)
        await held.commit()  # the images are paid for, whatever happens next

`slot` reserves the member's images first (so a refusal comes at once, before any waiting),
then waits in the fair queue for a running place and for the shared budget, and at the end
frees the place and commits the reservation, or refunds it if the block raised or was
cancelled.

A request is the task that runs it: `arrived` notes its arrival number (call it before the
command awaits anything), `check_room` takes its place in line, and the same task's `turn`
uses that place later. So the checks of a burst see each other (all refusals come before
anything is deferred) and a member's requests go in the order they came, whichever gets
through reading settings, deferring and screening first. A place never used is given back
when the request's task ends.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

from bot.limits.budget import BUDGET_WINDOW_SECONDS, DEFAULT_IMAGES_PER_MINUTE, GlobalBudget
from bot.limits.errors import QueueFull
from bot.limits.policy import DAY_SECONDS, Policy
from bot.limits.queue import FairQueue, Place, PositionCallback, Withdrawal
from bot.limits.quota import MemberQuotas, Reservation, Usage
from bot.limits.shared import SharedTurns
from bot.limits.store import Store
from bot.limits.store.base import Turn
from bot.limits.timing import Clock, Sleep
from bot.limits.withdrawal import WaitingJob

# How long Discord lets a bot answer an interaction after deferring it.
INTERACTION_WINDOW_SECONDS = 15 * 60
# What a job may take once it started (IMAGES_TIMEOUT_SECONDS's default), for the default
# number of images that may wait.
DEFAULT_JOB_SECONDS = 300.0


def queue_capacity(images_per_minute: int, *, job_seconds: float) -> int:
    """Requests of one image that the budget starts within Discord's 15-minute window while
    leaving the last one `job_seconds` to run and be posted: QUEUE_MAX's default."""
    minutes = max(0.0, INTERACTION_WINDOW_SECONDS - job_seconds) / BUDGET_WINDOW_SECONDS
    return max(1, math.floor(minutes * images_per_minute))


@dataclass(slots=True)
class _Request:
    """What the limiter knows of a request (the task running it) before its turn."""

    ticket: int | None = None  # its arrival number, from `arrived`
    place: Place | None = None  # its place in line, from `check_room`


class Limiter:
    """Per-member limits, the shared images-per-minute budget and a per-process fair queue.

    Exempt members skip the per-member limits but still wait for the budget and the queue.
    `max_waiting_images` (by default what the budget starts within Discord's 15-minute
    window, see `queue_capacity`) caps the images waiting, whatever `max_waiting` allows.
    """

    def __init__(
        self,
        store: Store,
        *,
        images_per_minute: int = DEFAULT_IMAGES_PER_MINUTE,
        max_concurrent: int = 4,
        max_waiting: int = 20,
        max_waiting_per_member: int = 3,
        max_waiting_images: int | None = None,
        reservation_ttl: float = DAY_SECONDS,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._clock = clock
        # Past this many images waiting, the budget could not start the last of them within
        # Discord's window: refused at once rather than answered after the window.
        self.max_waiting_images = (
            queue_capacity(images_per_minute, job_seconds=DEFAULT_JOB_SECONDS)
            if max_waiting_images is None
            else max_waiting_images
        )
        self.quotas = MemberQuotas(store, reservation_ttl=reservation_ttl, clock=clock)
        self.budget = GlobalBudget(store, images_per_minute=images_per_minute, clock=clock)
        self.queue = FairQueue(
            max_concurrent=max_concurrent,
            max_waiting=max_waiting,
            max_waiting_per_member=max_waiting_per_member,
            clock=clock,
            sleep=sleep,
        )
        self._requests: dict[asyncio.Task[Any], _Request] = {}
        # With a store several processes share, `max_concurrent` is the whole service's cap.
        self.turns = SharedTurns(store, limit=max_concurrent, clock=clock, sleep=sleep)

    async def reserve(self, member_key: str, *, images: int, policy: Policy) -> Reservation:
        """Hold the member's images without queueing (see `MemberQuotas.reserve`); a refusal
        also gives back the place in line that this request's `check_room` took."""
        try:
            return await self.quotas.reserve(member_key, images=images, policy=policy)
        except BaseException:
            request = self._request(create=False)
            if request is not None:
                self._give_back(request)
            raise

    async def usage(self, member_key: str, policy: Policy) -> Usage:
        """The member's quota now, for `/quota`."""
        return await self.quotas.usage(member_key, policy)

    @asynccontextmanager
    async def slot(
        self,
        member_key: str,
        *,
        images: int,
        policy: Policy,
        on_position: PositionCallback | None = None,
    ) -> AsyncIterator[Reservation]:
        """Reserve, wait for a turn and the budget, run the block, then settle.

        Raises `RequestTooLarge` or `LimitReached` (nothing reserved), or `TooManyWaiting` or
        `QueueFull` (reservation refunded), before the block runs.
        """
        self.budget.check_fits(images)
        reservation = await self.quotas.reserve(member_key, images=images, policy=policy)
        async with reservation, self.turn(member_key, images=images, on_position=on_position):
            yield reservation

    def arrived(self) -> None:
        """Note the calling request's arrival, for the order of its member's requests (the
        first thing a command does, before it awaits anything)."""
        request = self._request()
        if request is not None and request.ticket is None:
            request.ticket = self.queue.ticket()

    def check_room(self, member_key: str, *, images: int) -> None:
        """Raise at once if this job could never start or could not even join the queue, so
        the member hears it before any work is deferred; else take the request's place in
        line (see the module's docstring), which this task's `turn` then uses."""
        self.budget.check_fits(images)
        request = self._request()
        if request is not None:
            self._give_back(request)  # a second check replaces the first
        if self.queue.images_waiting + images > self.max_waiting_images:
            raise QueueFull(waiting=self.queue.waiting, limit=self.queue.max_waiting)
        if request is None:
            self.queue.check_room(member_key)
            return
        request.place = self.queue.join(member_key, images=images, ticket=request.ticket)

    def _request(self, *, create: bool = True) -> _Request | None:
        """The calling task's request, known until the task ends (None outside a task)."""
        task = asyncio.current_task()
        if task is None:
            return None
        request = self._requests.get(task)
        if request is None and create:
            request = self._requests[task] = _Request()
            task.add_done_callback(self._forget)
        return request

    def _forget(self, task: asyncio.Task[Any]) -> None:
        request = self._requests.pop(task, None)
        if request is not None:
            self._give_back(request)

    def _give_back(self, request: _Request) -> None:
        """Give back the request's place in line, if it holds one it has not used."""
        place, request.place = request.place, None
        if place is not None:
            self.queue.leave(place)

    def waiting_jobs(self) -> list[WaitingJob]:
        """This process's waiting jobs, next first (see `FairQueue.waiting_jobs`)."""
        return self.queue.waiting_jobs()

    def estimated_wait(self, position: int) -> float:
        """Seconds until the job told `position` (1 = next) starts, roughly: the longer of what
        the budget hands out meanwhile and the turns the running places take before it."""
        by_budget = self.queue.images_through(position) * 60 / self.budget.images_per_minute
        typical = self.queue.typical_run or 0.0
        by_places = math.ceil(position / self.queue.max_concurrent) * typical
        return max(by_budget, by_places)

    @asynccontextmanager
    async def turn(
        self,
        member_key: str,
        *,
        images: int,
        on_position: PositionCallback | None = None,
        withdrawal: Withdrawal | None = None,
    ) -> AsyncIterator[None]:
        """Wait in the fair queue for a running place and the budget for `images`, then hold
        the place until the block ends (the reservation is the caller's to settle). Uses the
        place this request's `check_room` took, if any. `withdrawal`: see `FairQueue.turn`."""
        request = self._request(create=False)
        place = None
        if request is not None:
            place, request.place = request.place, None
        if place is not None and (place.member != member_key or not place.waiting):
            self.queue.leave(place)
            place = None
        if not self.turns.shared:
            admit = partial(self.budget.try_take, images)
            async with self.queue.turn(
                member_key,
                admit=admit,
                on_position=on_position,
                place=place,
                images=images,
                withdrawal=withdrawal,
            ):
                yield
            return
        turn = self.turns.new_turn(member_key)
        async with (
            self.turns.held(turn),
            self.queue.turn(
                member_key,
                admit=partial(self._admit_shared, turn, images),
                on_position=on_position,
                place=place,
                images=images,
                withdrawal=withdrawal,
            ),
        ):
            yield

    async def _admit_shared(self, turn: Turn, images: int) -> float | None:
        """A place of the whole service first, then the budget (a refusal frees the place)."""
        retry_at = await self.turns.try_start(turn)
        if retry_at is not None:
            return retry_at
        retry_at = await self.budget.try_take(images)
        if retry_at is not None:
            await self.turns.give_back(turn)
        return retry_at

    async def pause_until(self, epoch: float) -> None:
        """Start no upstream call before `epoch` (epoch seconds), in every process sharing the
        store, e.g. after a 429 that is not `insufficient_quota`. Never shortens a pause."""
        await self.budget.pause_until(epoch)
        self.queue.wake()

    async def pause_for(self, seconds: float) -> None:
        """`pause_until` now plus `seconds`."""
        await self.pause_until(self._clock() + seconds)
