"""Per-member limits, the global budget, the fair queue, and their storage backends.

No Discord code here: the caller passes the member's pseudonymous id, the policy resolved from
their roles, and an optional callback for queue positions. See `Limiter` for the one-call API.
"""

from bot.limits.budget import DEFAULT_IMAGES_PER_MINUTE, GlobalBudget
from bot.limits.errors import (
    LimitError,
    LimitReached,
    QueueFull,
    RequestTooLarge,
    TooManyWaiting,
)
from bot.limits.limiter import INTERACTION_WINDOW_SECONDS, Limiter, queue_capacity
from bot.limits.policy import EXEMPT, Exempt, LimitPolicy, Policy, RolePolicies, Window
from bot.limits.queue import FairQueue, Place, PositionCallback, Withdrawal, Withdrawn
from bot.limits.quota import MemberQuotas, Reservation, Usage, WindowUsage
from bot.limits.store import Store, open_store
from bot.limits.withdrawal import WaitingJob

__all__ = [
    "DEFAULT_IMAGES_PER_MINUTE",
    "EXEMPT",
    "INTERACTION_WINDOW_SECONDS",
    "Exempt",
    "FairQueue",
    "GlobalBudget",
    "LimitError",
    "LimitPolicy",
    "LimitReached",
    "Limiter",
    "MemberQuotas",
    "Place",
    "Policy",
    "PositionCallback",
    "QueueFull",
    "RequestTooLarge",
    "Reservation",
    "RolePolicies",
    "Store",
    "TooManyWaiting",
    "Usage",
    "WaitingJob",
    "Window",
    "WindowUsage",
    "Withdrawal",
    "Withdrawn",
    "open_store",
    "queue_capacity",
]
