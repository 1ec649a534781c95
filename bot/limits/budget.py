"""The upstream account's images-per-minute budget and its shared pause, kept in the store.

Every bot process sharing the store draws from the same budget, so together they stay under the
account's rate limit. Images are taken when a call starts and never given back: the upstream
counts a call that failed too.
"""

from __future__ import annotations

import time
import uuid

from bot.limits.errors import RequestTooLarge
from bot.limits.policy import Window
from bot.limits.store import Store
from bot.limits.timing import Clock, to_ms

BUDGET_WINDOW_SECONDS = 60

# The Images API's documented default rate limit for an account.
DEFAULT_IMAGES_PER_MINUTE = 50


class GlobalBudget:
    """Hands out images from the shared per-minute budget, unless the budget is paused."""

    def __init__(
        self,
        store: Store,
        *,
        images_per_minute: int = DEFAULT_IMAGES_PER_MINUTE,
        clock: Clock = time.time,
    ) -> None:
        if images_per_minute < 1:
            raise ValueError("images_per_minute must be 1 or more")
        self._store = store
        self._clock = clock
        self.images_per_minute = images_per_minute

    def check_fits(self, images: int) -> None:
        """Raise `RequestTooLarge` if `images` exceeds the whole budget (it could never start)."""
        if images > self.images_per_minute:
            raise RequestTooLarge(
                window=Window.GLOBAL,
                window_seconds=BUDGET_WINDOW_SECONDS,
                requested=images,
                limit=self.images_per_minute,
            )

    async def try_take(self, images: int) -> float | None:
        """Take `images` now and return None, or return when to try again (epoch seconds)."""
        retry_at_ms = await self._store.take_budget(
            uuid.uuid4().hex,
            images=images,
            limit=self.images_per_minute,
            window_ms=BUDGET_WINDOW_SECONDS * 1000,
            now_ms=to_ms(self._clock()),
        )
        return None if retry_at_ms is None else retry_at_ms / 1000

    async def pause_until(self, epoch: float) -> None:
        """Hand out nothing before `epoch` (epoch seconds, not monotonic: it is shared between
        processes). An earlier end than the current pause's changes nothing."""
        await self._store.pause_until(to_ms(epoch), now_ms=to_ms(self._clock()))

    async def paused_until(self) -> float | None:
        """When the current pause ends (epoch seconds), or None."""
        paused_ms = await self._store.paused_until(now_ms=to_ms(self._clock()))
        return None if paused_ms is None else paused_ms / 1000
