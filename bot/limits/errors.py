"""Why a request can't go ahead now, as data: each refusal holds its numbers and a `Problem`.

The words are the catalogue's (`limits.*`, `queue.*` in `locales/`); the front renders them in
the member's language. Times are passed as epoch seconds (`when`), which the catalogue shows
with Discord's timestamp markup (`<t:EPOCH:R>`): each member's client renders it in their own
language and time zone, e.g. "in 12 minutes". Parts that are themselves worded (an image
count, a period, "today") are nested `Problem`s.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from bot.errors import Problem, UserFacingError
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
        super().__init__(self._problem())

    @property
    def remaining(self) -> int:
        """Images still allowed in this window (0 when it is used up)."""
        return max(0, self.limit - self.used)

    @property
    def resets_at_datetime(self) -> datetime:
        """`resets_at` as an aware UTC datetime."""
        return datetime.fromtimestamp(self.resets_at, UTC)

    def _problem(self) -> Problem:
        when = math.ceil(self.resets_at)
        allowance = images(self.limit)
        if self.remaining == 0:
            return self.of(
                "limits.reached",
                limit=self.limit,
                allowance=allowance,
                during=during(self.window, self.window_seconds),
                more=self.of("limits.more", count=self.requested),
                when=when,
            )
        return self.of(
            "limits.partial",
            asked=images(self.requested),
            count=self.remaining,
            allowance=allowance,
            per=_per(self.window, self.window_seconds),
            when=when,
        )


class RequestTooLarge(LimitError):
    """The request asks for more images than a whole window allows: it can never succeed."""

    def __init__(self, *, window: Window, window_seconds: int, requested: int, limit: int) -> None:
        self.window = window
        self.window_seconds = window_seconds
        self.requested = requested
        self.limit = limit
        whose = "global" if window is Window.GLOBAL else "member"
        super().__init__(
            self.of(
                f"limits.too_large.{whose}",
                asked=images(requested),
                allowance=images(limit),
                period=period(window_seconds),
                limit=limit,
            )
        )


class QueueFull(LimitError):
    """Too many requests are already waiting for the image service."""

    def __init__(self, *, waiting: int, limit: int) -> None:
        self.waiting = waiting
        self.limit = limit
        super().__init__(self.of("queue.full"))


class TooManyWaiting(LimitError):
    """The member already has as many requests waiting as one member may."""

    def __init__(self, *, waiting: int, limit: int) -> None:
        self.waiting = waiting
        self.limit = limit
        super().__init__(self.of("queue.too_many_waiting", count=waiting))


def images(count: int) -> Problem:
    """'1 image', '3 images'."""
    return UserFacingError.of("limits.images", count=count)


def period(seconds: int) -> Problem:
    """'hour', '2 hours', '90 minutes', '45 seconds', 'day'... as in 'per <period>'."""
    count, name = _length(seconds)
    if count == 1:
        return UserFacingError.of(f"limits.unit.{name}")
    return UserFacingError.of(f"limits.period.{name}", count=count)


def _length(seconds: int) -> tuple[int, str]:
    if seconds == DAY_SECONDS:
        return 1, "day"
    if seconds % 3600 == 0:
        return seconds // 3600, "hour"
    if seconds % 60 == 0:
        return seconds // 60, "minute"
    return seconds, "second"


def during(window: Window, seconds: int) -> Problem:
    """'in the last hour', 'today': when the used images were made."""
    if window is Window.DAILY:
        return UserFacingError.of("limits.during.today")
    if seconds == DAY_SECONDS:  # a rolling day reads "in the last 24 hours"
        hours = UserFacingError.of("limits.period.hour", count=24)
        return UserFacingError.of("limits.during.last", period=hours)
    # One unit has its own message: Chinese says "the last one hour" (过去一小时).
    one = _length(seconds)[0] == 1
    return UserFacingError.of(
        f"limits.during.{'last_one' if one else 'last'}", period=period(seconds)
    )


def _per(window: Window, seconds: int) -> Problem:
    """'per hour', 'for today': which allowance the numbers belong to."""
    if window is Window.DAILY:
        return UserFacingError.of("limits.per.today")
    return UserFacingError.of("limits.per.period", period=period(seconds))
