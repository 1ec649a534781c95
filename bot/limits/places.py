"""Telling one waiting job's member its place in line, from a task of its own.

The queue decides which places are told and when (it caps the edits for the whole queue); a
`PlaceTeller` shows the latest place handed to it, one edit at a time, so a slow edit never
holds up the queue and a job that moved twice during one edit is shown only its last place.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)

PositionCallback = Callable[[int], Awaitable[object]]
"""Told a waiting job's place in the queue (1 = next) when it changes (see `FairQueue.turn`)."""


class PlaceTeller:
    """Shows one job's place through its `PositionCallback` while the job waits."""

    def __init__(self, on_position: PositionCallback, name: str) -> None:
        self._on_position = on_position
        self._name = name
        # The place last handed over (and when, on the loop's clock), and the place last shown.
        self.wanted: int | None = None
        self.wanted_at = -math.inf
        self._shown: int | None = None
        self._told: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._showing = False  # an edit is in progress
        self._waiting = True

    def tell(self, place: int, now: float) -> None:
        """Show `place` once the edit in progress (if any) is done."""
        self.wanted, self.wanted_at = place, now
        if self._told is None:
            self._told = asyncio.Event()
            self._task = asyncio.create_task(self._show(self._told), name=self._name)
        self._told.set()

    def close(self) -> None:
        """The job left the line (its turn came, or it left): show nothing more."""
        self._waiting = False

    async def finish(self) -> None:
        """Once the job's turn came: let an edit in progress finish (so that whatever the
        caller shows next comes after it), and tell nothing more."""
        task, self._task = self._task, None
        if task is None:
            return
        if not self._showing:
            task.cancel()
        try:
            await asyncio.wait((task,))
        except BaseException:
            task.cancel()
            raise

    def stop(self) -> None:
        """The job was cancelled while waiting: drop any edit in progress."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()

    async def _show(self, told: asyncio.Event) -> None:
        while self._waiting:
            await told.wait()
            told.clear()
            place = self.wanted
            if not self._waiting or place is None or place == self._shown:
                continue
            self._showing = True
            try:
                await _report(self._on_position, place)
            finally:
                self._showing = False
            self._shown = place


async def _report(on_position: PositionCallback, position: int) -> None:
    try:
        await on_position(position)
    except Exception:
        # A failed message edit must not cost the member their place.
        log.warning("Could not report queue position %d", position, exc_info=True)
