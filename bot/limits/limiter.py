"""One object for the Discord layer: member quotas, the global budget and the fair queue.

    async with limiter.slot(member_key, images=n, policy=policy, on_position=show) as held:
        result = await client.generate(...)
        await held.commit()  # the images are paid for, whatever happens next

`slot` reserves the member's images first (so a refusal comes at once, before any waiting),
then waits in the fair queue for a running place and for the shared budget, and at the end
frees the place and commits the reservation, or refunds it if the block raised or was
cancelled.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from bot.limits.budget import DEFAULT_IMAGES_PER_MINUTE, GlobalBudget
from bot.limits.policy import DAY_SECONDS, Policy
from bot.limits.queue import FairQueue, PositionCallback
from bot.limits.quota import MemberQuotas, Reservation, Usage
from bot.limits.store import Store
from bot.limits.timing import Clock, Sleep


class Limiter:
    """Per-member limits, the shared images-per-minute budget and a per-process fair queue.

    Exempt members skip the per-member limits but still wait for the budget and the queue.
    """

    def __init__(
        self,
        store: Store,
        *,
        images_per_minute: int = DEFAULT_IMAGES_PER_MINUTE,
        max_concurrent: int = 4,
        max_waiting: int = 20,
        max_waiting_per_member: int = 3,
        reservation_ttl: float = DAY_SECONDS,
        clock: Clock = time.time,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self.quotas = MemberQuotas(store, reservation_ttl=reservation_ttl, clock=clock)
        self.budget = GlobalBudget(store, images_per_minute=images_per_minute, clock=clock)
        self.queue = FairQueue(
            max_concurrent=max_concurrent,
            max_waiting=max_waiting,
            max_waiting_per_member=max_waiting_per_member,
            clock=clock,
            sleep=sleep,
        )

    async def reserve(self, member_key: str, *, images: int, policy: Policy) -> Reservation:
        """Hold the member's images without queueing (see `MemberQuotas.reserve`)."""
        return await self.quotas.reserve(member_key, images=images, policy=policy)

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

    def check_room(self, member_key: str, *, images: int) -> None:
        """Raise at once if this job could never start or could not even join the queue, so
        the member hears it before any work is deferred (the queue checks again on entry)."""
        self.budget.check_fits(images)
        self.queue.check_room(member_key)

    @asynccontextmanager
    async def turn(
        self, member_key: str, *, images: int, on_position: PositionCallback | None = None
    ) -> AsyncIterator[None]:
        """Wait in the fair queue for a running place and the budget for `images`, then hold
        the place until the block ends (the reservation is the caller's to settle)."""
        async with self.queue.turn(
            member_key, admit=partial(self.budget.try_take, images), on_position=on_position
        ):
            yield

    async def pause_until(self, epoch: float) -> None:
        """Start no upstream call before `epoch` (epoch seconds), in every process sharing the
        store, e.g. after a 429 that is not `insufficient_quota`. Never shortens a pause."""
        await self.budget.pause_until(epoch)
        self.queue.wake()

    async def pause_for(self, seconds: float) -> None:
        """`pause_until` now plus `seconds`."""
        await self.pause_until(self._clock() + seconds)
