"""How many images a member may make: the numbers (a value object) and how roles pick them."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

DAY_SECONDS = 86_400


class Window(enum.StrEnum):
    """Which limit a number belongs to."""

    ROLLING = "rolling"
    """The member's rolling window, e.g. 10 images in any hour."""
    DAILY = "daily"
    """The member's daily cap, per UTC calendar day (resets at 00:00 UTC)."""
    GLOBAL = "global"
    """The bot's images-per-minute budget for the upstream account, shared by everyone."""


@dataclass(frozen=True, slots=True)
class LimitPolicy:
    """A member's limits: `window_images` per rolling `window_seconds`, `daily_images` per UTC day.

    The caller passes one per request, so per-server numbers can come later without changes here.
    """

    window_seconds: int = 3600
    window_images: int = 10
    daily_images: int = 30

    def __post_init__(self) -> None:
        # A rolling window longer than a day would outlive the stores' retention of records.
        if not 1 <= self.window_seconds <= DAY_SECONDS:
            raise ValueError("window_seconds must be between 1 and 86400 (one day)")
        if self.window_images < 1 or self.daily_images < 1:
            raise ValueError("window_images and daily_images must be 1 or more")

    def generosity(self) -> tuple[int, float, int]:
        """Sort key: a larger key is the more generous policy (daily cap, then rate, then burst)."""
        return (self.daily_images, self.window_images / self.window_seconds, self.window_images)


@dataclass(frozen=True, slots=True)
class Exempt:
    """The member has an exempt role: no per-member limits (the global budget still applies)."""


EXEMPT = Exempt()

Policy = LimitPolicy | Exempt


@dataclass(frozen=True, slots=True)
class RolePolicies:
    """The default policy, per-role overrides and exempt roles, keyed by Discord role id."""

    default: LimitPolicy = field(default_factory=LimitPolicy)
    overrides: Mapping[int, LimitPolicy] = field(default_factory=dict)
    exempt_roles: frozenset[int] = frozenset()

    def __post_init__(self) -> None:
        # Frozen all the way down: nobody can change the numbers after start-up.
        object.__setattr__(self, "overrides", MappingProxyType(dict(self.overrides)))
        object.__setattr__(self, "exempt_roles", frozenset(self.exempt_roles))

    def resolve(self, role_ids: Iterable[int]) -> Policy:
        """The policy of a member with these roles.

        `EXEMPT` if any role is exempt; else the most generous override among the roles (by
        daily cap, then images per second of the rolling window, then window size); else the
        default. An override applies whole: numbers from different roles are never mixed.
        """
        roles = set(role_ids)
        if roles & self.exempt_roles:
            return EXEMPT
        candidates = [self.overrides[role] for role in roles if role in self.overrides]
        if not candidates:
            return self.default
        return max(candidates, key=LimitPolicy.generosity)
