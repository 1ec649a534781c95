"""Time as the limits see it: an injectable clock (epoch seconds) and sleep, and UTC days."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]
"""Returns the time as epoch seconds; `time.time` unless a test passes its own."""

Sleep = Callable[[float], Awaitable[object]]
"""Waits that many seconds of the clock's time; `asyncio.sleep` unless a test passes its own."""

DAY_MS = 86_400_000


def to_ms(epoch: float) -> int:
    """Epoch seconds as whole epoch milliseconds (rounded down)."""
    return math.floor(epoch * 1000)


def utc_day_start_ms(now_ms: int) -> int:
    """00:00 UTC of the day `now_ms` falls in (POSIX days are exactly 86,400 s)."""
    return now_ms - now_ms % DAY_MS
