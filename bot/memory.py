"""Keeping memory bounded: one byte budget for every picture the bot holds, all jobs together.

Two kinds of work draw on it. Decoding an attachment reserves the bytes its pixels will take
(width x height x bands, from the header, before a pixel is decoded) and gives them back when
the decode thread ends: a 6300x6300 palette PNG of 39 KB costs hundreds of MiB once decoded and
converted, so sixteen at once would not fit in any small host. A job's result images take their
share when the API's answer arrives, before it is read, and keep it until the job's task ends
(its images posted, or it failed); until there is room, the answer waits unread in the socket.

What the budget does not count: the bot itself (~65 MiB), and each answer waiting for room,
which aiohttp has read ahead into its buffers (~0.25 MiB each, measured: 250 waiting 2.4 MB
answers added 57 MiB), so at most MAX_CONCURRENT_REQUESTS of them.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
from collections import deque
from collections.abc import Callable
from typing import ParamSpec, TypeVar

log = logging.getLogger(__name__)

MiB = 1024 * 1024
# Every picture in memory at once, decodes and results together: with the bot's own ~65 MiB
# and a few hundred answers waiting (see above), under 400 MiB of resident memory. One
# near-cap decode may take all of it (and waits alone). A 300-member burst drained in about the
# same time with 51 results held at once (4.1-4.6 s, 485 MiB) as with 27 (4.4-4.8 s, 361-393
# MiB) on a shared 2-core machine: past a few dozen, the event loop's thread and Discord set
# the pace, and more results held mostly add memory (bench/README.md).
BUDGET_BYTES = 192 * MiB
# A result image while its answer is read, decoded and posted, per pixel, as measured (RSS
# added per result held in a 300-member burst: 6.6 MB at 1024x1024): the answer's base64
# text (~2.4 bytes a pixel for a detailed PNG, plus the growing buffer's slack), the decoded
# PNG (~1.8) and the upload's copies on their way out.
_RESULT_BYTES_PER_PIXEL = 7
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)
_LARGEST_RESULT_PIXELS = 1536 * 1024  # what "auto" and unknown sizes are counted as
# The longest a job waits for memory for its results before reading its answer anyway: well
# within the request's timeout, which would have the API asked (and paid) again.
RESULT_WAIT_MAX = 30.0

_P = ParamSpec("_P")
_T = TypeVar("_T")


def result_bytes(images: int, size: str | None) -> int:
    """What `images` results of `size` ("1024x1024", "auto" or None) take while held."""
    width, _, height = (size or "").partition("x")
    pixels = _LARGEST_RESULT_PIXELS
    if width.isdigit() and height.isdigit():
        pixels = int(width) * int(height)
    return images * pixels * _RESULT_BYTES_PER_PIXEL


def release_freed_blocks() -> bool:
    """Have the C allocator (glibc) map every block of 1 MiB or more on its own and unmap it
    when freed; False where that can't be set (another libc).

    glibc raises that threshold each time such a block is freed, up to 32 MiB, so Pillow's
    16 MiB image blocks and a result's base64 text then stay in each thread's arena after
    use: sixteen one-at-a-time edits of 5000x5000 pictures ended at 662 MiB instead of 264.
    The budget counts what is in use; this makes what is freed leave the process.
    """
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(_M_MMAP_THRESHOLD, MiB))


class MemoryBudget:
    """`capacity` bytes for pictures, reserved and given back first come first served."""

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError("capacity must be 1 or more")
        self.capacity = capacity
        self._free = capacity
        self._holders: dict[asyncio.Task[object], int] = {}
        self._waiting: deque[tuple[int, asyncio.Future[None]]] = deque()

    @property
    def free(self) -> int:
        """Bytes free now."""
        return self._free

    async def run_in_thread(
        self, cost: int, work: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs
    ) -> _T:
        """Wait for `cost` bytes (the whole budget at most), then run `work` in a thread.

        The bytes come back when the thread ends, not when the caller stops waiting: a thread
        can't be stopped, so a cancelled job's decode still holds its memory until it is done.
        """
        need = min(max(cost, 1), self.capacity)
        await self._reserve(need)
        try:
            running = asyncio.ensure_future(asyncio.to_thread(work, *args, **kwargs))
        except BaseException:
            self._give(need)
            raise
        running.add_done_callback(lambda done: self._thread_ended(done, need))
        return await asyncio.shield(running)

    def _thread_ended(self, done: asyncio.Future[_T], nbytes: int) -> None:
        self._give(nbytes)
        if not done.cancelled():
            done.exception()  # seen: a cancelled caller's failed decode is not logged as lost

    async def take(self, nbytes: int, *, timeout: float) -> None:
        """Wait until `nbytes` are free (the whole budget at most) and hold them until the
        current task ends. A task that holds bytes already keeps what it has. After `timeout`
        seconds it goes on without them, so a stuck job can't stall every other one for good.
        """
        task = asyncio.current_task()
        if task is None or task in self._holders:
            return
        need = min(nbytes, self.capacity)
        if not await self._reserve(need, timeout=timeout):
            log.warning(
                "no room for %d bytes of result images after %.0f s; reading them anyway",
                need,
                timeout,
            )
            return
        self._holders[task] = need
        task.add_done_callback(self._task_ended)

    async def _reserve(self, need: int, *, timeout: float | None = None) -> bool:
        """Take `need` bytes, waiting in line; False if `timeout` passed first."""
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
                    return False
            except BaseException:
                if granted.done() and not granted.cancelled():
                    self._give(need)  # granted as it was cancelled: pass the room on
                else:
                    granted.cancel()
                    self._waiting.remove(entry)
                    self._grant()  # those behind it may fit now
                raise
        return True

    def _task_ended(self, task: asyncio.Task[object]) -> None:
        self._give(self._holders.pop(task, 0))

    def _give(self, nbytes: int) -> None:
        self._free += nbytes
        self._grant()

    def _grant(self) -> None:
        # First come first served: a large job at the head is not overtaken by small ones.
        while self._waiting and self._waiting[0][0] <= self._free:
            need, granted = self._waiting.popleft()
            self._free -= need
            granted.set_result(None)
