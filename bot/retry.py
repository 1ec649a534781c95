"""One retry policy for every outbound call: attempts, a deadline, full-jitter backoff, the
server's own wait (`Retry-After`, `retry-after-ms`), and a cool-down shared by concurrent calls.

Both OpenAI clients use it through `bot.transport`; posting results on Discord uses the same
`RetryPolicy` (`bot.front.delivery`).
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many attempts, within how long, and how long to wait between them.

    `deadline` is in seconds from the first attempt; the waits are capped exponential backoff
    with full jitter, never shorter than a wait the server asked for.
    """

    max_attempts: int = 3
    deadline: float = 300.0
    backoff_base: float = 0.5
    backoff_cap: float = 20.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be 1 or more")

    def deadline_from(self, start: float) -> float:
        """The `time.monotonic()` value past which no attempt starts."""
        return start + self.deadline

    def backoff(self, attempt: int) -> float:
        """Full jitter: a random wait up to the capped exponential step after `attempt`."""
        step = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        return random.uniform(0.0, step)

    def next_wait(
        self, attempt: int, *, deadline_at: float, server_wait: float | None = None
    ) -> float | None:
        """The wait before the attempt after `attempt`, or None when the policy gives up:
        the attempts are used up, or the wait would end past `deadline_at`."""
        wait = max(server_wait or 0.0, self.backoff(attempt))
        if attempt >= self.max_attempts or time.monotonic() + wait > deadline_at:
            return None
        return wait


class CoolDown:
    """A pause shared by every call of one transport: nobody sends before it ends."""

    def __init__(self) -> None:
        self._until = 0.0  # time.monotonic() value

    def extend(self, seconds: float) -> None:
        self._until = max(self._until, time.monotonic() + seconds)

    def remaining(self) -> float:
        return max(0.0, self._until - time.monotonic())

    async def wait(self, deadline: float) -> bool:
        """Sleep until the pause is over; False at once if it lasts past `deadline`."""
        # A loop, because another call may extend the pause while this one sleeps.
        while (until := self._until) > (now := time.monotonic()):
            if until > deadline:
                return False
            await asyncio.sleep(until - now)
        return True


def server_wait(headers: Mapping[str, str]) -> float | None:
    """The wait the server asked for: `retry-after-ms`, else `Retry-After` (seconds or a date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            seconds = float(raw_ms) / 1000
        except ValueError:
            pass
        else:
            if math.isfinite(seconds) and seconds >= 0:
                return seconds
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())
    return seconds if math.isfinite(seconds) and seconds >= 0 else None
