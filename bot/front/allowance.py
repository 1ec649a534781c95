"""A member's allowance in words (/quota, /help): one line per window, in their language."""

from __future__ import annotations

import math

from bot.errors import Problem
from bot.front.explain import say
from bot.limits import Usage, Window, WindowUsage
from bot.limits.errors import during, images


def describe_usage(locale: str | None, usage: Usage) -> str:
    """A few lines for the member: what each window has used and left, and when it frees up."""
    if usage.exempt:
        return say(locale, Problem("quota.exempt"))
    return "\n".join(_window_line(locale, window) for window in usage.windows)


def _window_line(locale: str | None, usage: WindowUsage) -> str:
    when = say(locale, during(usage.window, usage.window_seconds))
    fields = {
        # The line starts with it: "Today: ...", "In the last hour: ..." (no case in Chinese).
        "during": when[:1].upper() + when[1:],
        "used": usage.used,
        "allowance": images(usage.limit),
        "pending": usage.pending,
        "remaining": usage.remaining,
    }
    line = say(locale, Problem("quota.window.pending" if usage.pending else "quota.window", fields))
    if usage.resets_at is not None:
        which = "daily" if usage.window is Window.DAILY else "rolling"
        line += say(locale, Problem(f"quota.resets.{which}", {"when": math.ceil(usage.resets_at)}))
    return line
