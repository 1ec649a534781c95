"""Statistics over measured samples: percentiles, spreads, CPU time and the event loop's lag."""

from __future__ import annotations

import asyncio
import contextlib
import math
import resource
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.world import BotProcess


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), interpolating between the closest ranks; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(values: Sequence[float]) -> dict[str, float | int | None]:
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
    }


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Window:
    """A stretch of load: its wall time and the CPU both processes used in it."""

    bot: BotProcess
    start: float = field(default_factory=time.monotonic)
    end: float = 0.0
    bot_cpu: float = 0.0
    fakes_cpu: float = 0.0

    def __post_init__(self) -> None:
        self._bot_cpu0 = self.bot.cpu_seconds()
        self._fakes_cpu0 = cpu_self()

    def close(self) -> Window:
        self.end = time.monotonic()
        self.bot_cpu = self.bot.cpu_seconds() - self._bot_cpu0
        self.fakes_cpu = cpu_self() - self._fakes_cpu0
        return self

    def figures(self) -> dict[str, Any]:
        """Wall time, CPU use and the bot's event-loop lag (once the bot has exited)."""
        wall = self.end - self.start
        lag = self.bot.stats.lag_between(self.start, self.end)
        return {
            "wall_seconds": wall,
            "bot_cpu_percent": 100 * self.bot_cpu / wall if wall else None,
            "fakes_cpu_percent": 100 * self.fakes_cpu / wall if wall else None,
            "lag": spread(lag),
        }


@contextlib.asynccontextmanager
async def rss_samples(
    bot: BotProcess, every: float = 0.02
) -> AsyncIterator[list[tuple[float, int]]]:
    """The bot's VmRSS (KiB) every `every` seconds while the block runs, as (monotonic, KiB)."""
    samples: list[tuple[float, int]] = []

    async def sample() -> None:
        while True:
            samples.append((time.monotonic(), bot.status_kib("VmRSS")))
            await asyncio.sleep(every)

    sampler = asyncio.create_task(sample())
    try:
        yield samples
    finally:
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler


def rss_timeline(samples: Sequence[tuple[float, int]], start: float) -> list[tuple[float, float]]:
    """(seconds since `start`, MiB), thinned to at most 300 points."""
    return [
        (round(at - start, 3), round(kib / 1024, 1))
        for at, kib in samples[:: max(1, len(samples) // 300)]
    ]
