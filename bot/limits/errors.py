"""Why a request can't go ahead now, in words for the Discord member who made it.

Times are shown with Discord's timestamp markup (`<t:EPOCH:R>`), which each member's client
renders in their own language and time zone, e.g. "in 12 minutes".
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from bot.errors import UserFacingError
from bot.limits.policy import DAY_SECONDS, Window


class LimitError(UserFacingError):
    """Base of every refusal from bot.limits."""


class LimitReached(LimitError):
    """The member has no room left for `requested` images in one of their windows.

    `window` is the one with the least room left (so `remaining` is what the member can ask for
    now), `used` counts images already made or in progress in it, `limit` is its cap, and
    `resets_at` (epoch seconds) is the earliest time the whole request fits in every window.
    """

    def __init__(
        self,
        *,
        window: Window,
        window_seconds: int,
        used: int,
        limit: int,
        requested: int,
        resets_at: float,
    ) -> None:
        self.window = window
        self.window_seconds = window_seconds
        self.used = used
        self.limit = limit
        self.requested = requested
        self.resets_at = resets_at
        super().__init__(self._describe())

    @property
    def remaining(self) -> int:
        """Images still allowed in this window (0 when it is used up)."""
        return max(0, self.limit - self.used)

    @property
    def resets_at_datetime(self) -> datetime:
        """`resets_at` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.resets_at, UTC)

    def _describe(self) -> str:
        when = discord_relative_time(self.resets_at)
        if self.remaining == 0:
            more = "more" if self.requested == 1 else f"{self.requested} more"
            return (
                f"You've used {self.limit} of your {images(self.limit)} "
                f"{during(self.window, self.window_seconds)}. You can make {more} {when}."
            )
        verb = "is" if self.remaining == 1 else "are"
        return (
            f"You asked for {images(self.requested)}, but only {self.remaining} of your "
            f"{images(self.limit)} {_per(self.window, self.window_seconds)} {verb} left. "
            f"Ask for {self.remaining} or fewer, or try again {when}."
        )


class RequestTooLarge(LimitError):
    """The request asks for more images than a whole window allows: it can never succeed."""

    def __init__(self, *, window: Window, window_seconds: int, requested: int, limit: int) -> None:
        self.window = window
        self.window_seconds = window_seconds
        self.requested = requested
        self.limit = limit
        if window is Window.GLOBAL:
            cap = f"this bot can make at most {images(limit)} per {_period(window_seconds)}"
        else:
            cap = f"your limit is {images(limit)} per {_period(window_seconds)}"
        super().__init__(f"You asked for {images(requested)}, but {cap}. Ask for {limit} or fewer.")


class QueueFull(LimitError):
    """Too many requests are already waiting for the image service."""

    def __init__(self, *, waiting: int, limit: int) -> None:
        self.waiting = waiting
        self.limit = limit
        super().__init__(
            "The bot is busy right now: too many requests are waiting. "
            "Please try again in a minute."
        )


class TooManyWaiting(LimitError):
    """The member already has as many requests waiting as one member may."""

    def __init__(self, *, waiting: int, limit: int) -> None:
        self.waiting = waiting
        self.limit = limit
        requests = "1 request" if waiting == 1 else f"{waiting} requests"
        super().__init__(
            f"You already have {requests} waiting. "
            "Please wait for one to finish before asking for more."
        )


def queue_place(position: int, *, starts_at: float) -> str:
    """What a queued member sees: their place (1 = next) and when their job should start
    (epoch seconds, e.g. `time.time() + Limiter.estimated_wait(position)`)."""
    return (
        f"The bot is busy, so your request is queued: you're number {position} in line. "
        f"It should start {discord_relative_time(starts_at)}, by itself."
    )


def discord_relative_time(epoch: float) -> str:
    """Discord markup that shows `epoch` relative to now ("in 5 minutes"), rounded up."""
    return f"<t:{math.ceil(epoch)}:R>"


def images(count: int) -> str:
    """'1 image', '3 images'."""
    return "1 image" if count == 1 else f"{count} images"


def _period(seconds: int) -> str:
    """'hour', '2 hours', '90 minutes', '45 seconds', 'day'... as in 'per <period>'."""
    if seconds == DAY_SECONDS:
        return "day"
    count, name = seconds, "second"
    if seconds % 3600 == 0:
        count, name = seconds // 3600, "hour"
    elif seconds % 60 == 0:
        count, name = seconds // 60, "minute"
    return name if count == 1 else f"{count} {name}s"


def during(window: Window, seconds: int) -> str:
    """'in the last hour', 'today': when the used images were made."""
    if window is Window.DAILY:
        return "today"
    if seconds == DAY_SECONDS:
        return "in the last 24 hours"
    return f"in the last {_period(seconds)}"


def _per(window: Window, seconds: int) -> str:
    """'per hour', 'for today': which allowance the numbers belong to."""
    if window is Window.DAILY:
        return "for today"
    return f"per {_period(seconds)}"
