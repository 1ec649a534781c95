"""Whether a member may use the image commands where they are: one pure function, no Discord.

The rules are checked in the order that gives the most useful answer: direct messages, then a
member block (no point pointing a blocked member at another channel), then roles, then the
channel, then age restriction. Each refusal says where the commands *do* work: its problem
(`access.*` in the catalogue) lists channels and roles with Discord's mention syntax (<#channel>,
<@&role>), which renders in an ephemeral reply without pinging anyone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from bot.errors import Listed, Problem, UserFacingError
from bot.moderation.errors import AccessDenied
from bot.moderation.settings import ServerSettings

MAX_LISTED = 10  # channels or roles named in one message; the rest are counted


def check_access(
    settings: ServerSettings | None,
    *,
    channel_id: int | None,
    channel_is_nsfw: bool,
    role_ids: Iterable[int],
    is_dm: bool,
    dms_allowed: bool,
    member_key: str,
    now: float,
    parent_channel_id: int | None = None,
) -> None:
    """Raise `AccessDenied` with a message for the member unless they may use the commands here.

    `settings` is the server's (None in direct messages, or for "no settings": no limits).
    In a thread, pass the thread as `channel_id` and its channel as `parent_channel_id`: a
    thread of an allowed channel is allowed. `channel_is_nsfw` is the channel's (for a thread,
    its parent's) age restriction. `now` is epoch seconds.
    """
    if is_dm:
        if not dms_allowed:
            raise AccessDenied(UserFacingError.of("access.dms_off"), rule="dms")
        return
    if settings is None:
        return
    until = settings.blocked_until(member_key, now=now)
    if until is not None:
        raise AccessDenied(_blocked(until), rule="blocked", until=until)
    # The @everyone role has the server's id: allowing it means allowing everyone.
    roles = settings.allowed_roles
    if roles and settings.guild_id not in roles and roles.isdisjoint(role_ids):
        mentions = [f"<@&{role}>" for role in sorted(roles)]
        if len(mentions) == 1:
            problem = UserFacingError.of("access.role", role=mentions[0])
        else:
            problem = UserFacingError.of("access.roles", roles=listed(mentions, "or"))
        raise AccessDenied(problem, rule="role")
    channels = settings.allowed_channels
    here = {channel_id, parent_channel_id} - {None}
    if channels and channels.isdisjoint(here):
        where = listed([f"<#{channel}>" for channel in sorted(channels)], "and")
        raise AccessDenied(UserFacingError.of("access.channels", channels=where), rule="channel")
    if settings.nsfw_only and not channel_is_nsfw:
        raise AccessDenied(UserFacingError.of("access.nsfw_only"), rule="nsfw")


def _blocked(until: float) -> Problem:
    if math.isinf(until):
        return UserFacingError.of("access.blocked")
    # Round up: "until 12:00:01" must not read as a block that already ended at 12:00:00.
    return UserFacingError.of("access.blocked_until", until=math.ceil(until))


def listed(names: Sequence[str], conjunction: str) -> Listed:
    """ "a", "a and b", "a, b and c"; past `MAX_LISTED` names, "a, ..., j and 3 more"."""
    shown = tuple(names[:MAX_LISTED])
    return Listed(shown, conjunction, hidden=len(names) - len(shown))
