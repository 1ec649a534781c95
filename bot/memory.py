"""Keeping memory bounded: how many result images the bot holds at once, all jobs together.

A 1024x1024 result is ~2-3 MB as a PNG and a third more as base64, so fifty jobs of ten images
answered at once would need gigabytes if every answer were read at once. A job takes room for
its images when its answer arrives, before reading it, and keeps it until its task ends (its
images posted, or it failed); until there is room, its answer waits unread in the socket.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque

log = logging.getLogger(__name__)


class ImageRoom:
    """Room for `capacity` images, taken and given back per task, first come first served."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be 1 or more")
        self.capacity = capacity
        self._free = capacity
        self._holders: dict[asyncio.Task[object], int] = {}
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def free(self) -> int:
        """Images there is room for now."""
        return self._free

    async def take(self, images: int, *, timeout: float) -> None:
        """Wait until there is room for `images` (the whole room at most) and hold it until the
        current task ends. A task that holds room already keeps what it has. After `timeout`
        seconds it goes on without room, so a stuck job can't stall every other one for good.
        """
        task = asyncio.current_task()
        if task is None or task in self._holders:
            return
        need = min(images, self.capacity)
        if self._free >= need and not self._waiting:
            self._free -= need
        else:
            granted = asyncio.get_running_loop().create_future()
            entry = (need, granted)
            self._waiting.append(entry)
            try:
                await asyncio.wait_for(asyncio.shield(granted), timeout)
            except TimeoutError:
                if not granted.done():
                    self._waiting.remove(entry)
                    log.warning(
                        "no room for %d result images after %.0f s; reading them anyway",
                        need,
                        timeout,
                    )
                    return
            except BaseException:
                if granted.done() and not granted.cancelled():
                    self._give(need)  # granted as it was cancelled: pass the room on
                else:
                    granted.cancel()
                    self._waiting.remove(entry)
                    self._grant()  # those behind it may fit now
                raise
        self._holders[task] = need
        task.add_done_callback(self._task_ended)

    def _task_ended(self, task: asyncio.Task[object]) -> None:
        self._give(self._holders.pop(task, 0))

    def _give(self, images: int) -> None:
        self._free += images
        self._grant()

    def _grant(self) -> None:
        # First come first served: a large job at the head is not overtaken by small ones.
        while self._waiting and self._waiting[0][0] <= self._free:
            need, granted = self._waiting.popleft()
            self._free -= need
            granted.set_result(None)
