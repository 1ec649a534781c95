"""The doctor's per-server check: in each server with allowed channels or a mod-log set, may
the bot read and post there? Computed from Discord's REST answers the way Discord does it:
the roles' permissions, then the channel's overwrites (@everyone, the roles, the bot itself).
"""

from __future__ import annotations

from typing import Any

import aiohttp
import discord
from discord.http import Route

from bot.front.doctor_check import Check, get_json
from bot.moderation import ServerSettingsStore

# What each kind of channel needs: results and notes are posted there (with files and embeds).
NEEDED = {
    "allowed channel": ("view_channel", "send_messages", "attach_files", "embed_links"),
    "mod-log": ("view_channel", "send_messages", "embed_links"),
}


async def check_servers(
    token: str, session: aiohttp.ClientSession, servers: ServerSettingsStore
) -> list[Check]:
    """One line per configured channel of each server the bot is in."""
    headers = {"Authorization": f"Bot {token}"}
    _, me = await get_json(session, f"{Route.BASE}/users/@me", headers)
    _, guilds = await get_json(session, f"{Route.BASE}/users/@me/guilds", headers)
    if not isinstance(me, dict) or not isinstance(guilds, list):
        return []
    checks: list[Check] = []
    for guild in guilds:
        guild_id = int(guild["id"])
        configured = await servers.get(guild_id)
        channels = [(cid, "allowed channel") for cid in sorted(configured.allowed_channels)]
        if configured.modlog_channel is not None:
            channels.append((configured.modlog_channel, "mod-log"))
        if not channels:
            continue
        base, roles = await _server_permissions(session, headers, guild_id, int(me["id"]))
        for channel_id, kind in channels:
            status, channel = await get_json(
                session, f"{Route.BASE}/channels/{channel_id}", headers
            )
            name = f"server {guild.get('name', guild_id)}"
            if status != 200 or not isinstance(channel, dict):
                checks.append(
                    Check(
                        name,
                        False,
                        f"{kind} {channel_id} is gone or hidden",
                        ("choose another channel with /imagine-settings"),
                    )
                )
                continue
            allowed = _in_channel(base, roles, guild_id, int(me["id"]), channel)
            missing = [p for p in NEEDED[kind] if not getattr(allowed, p)]
            where = f"{kind} #{channel.get('name', channel_id)}"
            if missing:
                fix = "give the bot's role " + ", ".join(missing) + f" in #{channel.get('name')}"
                checks.append(Check(name, False, f"{where}: missing {', '.join(missing)}", fix))
            else:
                checks.append(Check(name, True, f"{where}: the bot may read and post"))
    return checks


async def _server_permissions(
    session: aiohttp.ClientSession, headers: dict[str, str], guild_id: int, bot_id: int
) -> tuple[discord.Permissions, list[int]]:
    """The bot's server-wide permissions (@everyone and its roles), and its role ids."""
    _, roles = await get_json(session, f"{Route.BASE}/guilds/{guild_id}/roles", headers)
    _, member = await get_json(session, f"{Route.BASE}/guilds/{guild_id}/members/{bot_id}", headers)
    mine = [int(r) for r in member.get("roles", [])] if isinstance(member, dict) else []
    value = 0
    for role in roles if isinstance(roles, list) else []:
        if int(role["id"]) in (guild_id, *mine):
            value |= int(role["permissions"])
    permissions = discord.Permissions(value)
    if permissions.administrator:
        return discord.Permissions.all(), mine
    return permissions, mine


def _in_channel(
    base: discord.Permissions,
    roles: list[int],
    guild_id: int,
    bot_id: int,
    channel: dict[str, Any],
) -> discord.Permissions:
    """Discord's order: @everyone's overwrite, then the roles' together, then the member's."""
    if base.administrator:
        return base
    value = base.value
    overwrites = {int(o["id"]): o for o in channel.get("permission_overwrites", [])}
    layers = [[overwrites.get(guild_id)], [overwrites.get(r) for r in roles]]
    layers.append([overwrites.get(bot_id)])
    for layer in layers:
        allow = deny = 0
        for overwrite in filter(None, layer):
            allow |= int(overwrite["allow"])
            deny |= int(overwrite["deny"])
        value = (value & ~deny) | allow
    return discord.Permissions(value)
