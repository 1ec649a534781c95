"""Whether a member may use the image commands where they are: one pure function, no Discord.

The rules are checked in the order that gives the most useful answer: direct messages, then a
member block (no point pointing a blocked member at another channel), then roles, then the
channel, then age restriction. Each refusal says where the commands *do* work, with Discord's
mention syntax (<#channel>, <@&role>, <t:epoch:f>), which renders in an ephemeral reply
without pinging anyone.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from bot.moderation.errors import AccessDenied
from bot.moderation.settings import ServerSettings

MAX_LISTED = 10  # channels or roles named in one message; the rest are counted

DMS_OFF_MESSAGE = (
    "Image commands don't work in direct messages with this bot. Use them on a server."
)
BLOCKED_MESSAGE = "You're blocked from using the bot on this server."
NSFW_ONLY_MESSAGE = "Image commands work only in age-restricted channels on this server."


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
            raise AccessDenied(DMS_OFF_MESSAGE, rule="dms")
        return
    if settings is None:
        return
    until = settings.blocked_until(member_key, now=now)
    if until is not None:
        raise AccessDenied(_blocked_message(until), rule="blocked", until=until)
    # The @everyone role has the server's id: allowing it means allowing everyone.
    roles = settings.allowed_roles
    if roles and settings.guild_id not in roles and roles.isdisjoint(role_ids):
        mentions = [f"<@&{role}>" for role in sorted(roles)]
        who = (
            f"the {mentions[0]} role"
            if len(mentions) == 1
            else "one of these roles: " + _listed(mentions, "or")
        )
        raise AccessDenied(
            f"Image commands on this server are only for members with {who}.", rule="role"
        )
    channels = settings.allowed_channels
    here = {channel_id, parent_channel_id} - {None}
    if channels and channels.isdisjoint(here):
        listed = _listed([f"<#{channel}>" for channel in sorted(channels)], "and")
        raise AccessDenied(f"Image commands work in {listed} on this server.", rule="channel")
    if settings.nsfw_only and not channel_is_nsfw:
        raise AccessDenied(NSFW_ONLY_MESSAGE, rule="nsfw")


def block_ends(until: float | None) -> str:
    """When a block ends, in Discord's time markup (shown in each reader's time zone):
    "until <t:...:f> (<t:...:R>)", or "until unblocked" for a block without an end (None or
    `FOREVER`)."""
    if until is None or math.isinf(until):
        return "until unblocked"
    # Round up: "until 12:00:01" must not read as a block that already ended at 12:00:00.
    epoch = math.ceil(until)
    return f"until <t:{epoch}:f> (<t:{epoch}:R>)"


def _blocked_message(until: float) -> str:
    if math.isinf(until):
        return BLOCKED_MESSAGE
    return f"{BLOCKED_MESSAGE[:-1]} {block_ends(until)}."


def _listed(names: Sequence[str], conjunction: str) -> str:
    """ "a", "a and b", "a, b and c"; past `MAX_LISTED` names, "a, ..., j and 3 more"."""
    items = list(names[:MAX_LISTED])
    hidden = len(names) - len(items)
    if hidden:
        items.append(f"{hidden} more")
    if len(items) == 1:
        return items[0]
    return ", ".join(items[:-1]) + f" {conjunction} " + items[-1]
