"""Command sync: push the slash commands to Discord only when they changed.

Restarts then do not spend Discord's daily command-create quota, and a sync that fails leaves
the commands Discord already has working.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import discord
from discord.ext import commands

log = logging.getLogger(__name__)


async def sync_commands(bot: commands.Bot, guild_id: int | None) -> None:
    """Push the slash commands to Discord, but only when they changed.

    A failure is logged, not raised: the commands Discord already has keep working.
    """
    assert bot.application_id is not None
    guild = discord.Object(guild_id) if guild_id else None
    where = f"to server {guild_id}" if guild_id else "globally (may take a while to appear)"
    try:
        if guild is not None:
            bot.tree.copy_global_to(guild=guild)
        remote = await _registered(bot, bot.application_id, guild_id)
        local = await _payload(bot.tree, guild)
        if not commands_differ(local, remote):
            log.info("slash commands are up to date; not syncing")
            return
        synced = await bot.tree.sync(guild=guild)
    except discord.HTTPException as exc:
        hint = (
            " Is the bot in that server, invited with the applications.commands scope?"
            if guild_id and exc.status == 403
            else ""
        )
        log.error("could not sync the slash commands %s: %s.%s", where, exc, hint)
        return
    log.info("synced %d slash commands %s", len(synced), where)


async def _registered(
    bot: commands.Bot, application_id: int, guild_id: int | None
) -> list[dict[str, Any]]:
    """The commands Discord has, with their full `*_localizations` (it leaves them out unless
    asked, and then a changed translation would never count as a change)."""
    if guild_id:
        route = discord.http.Route(
            "GET",
            "/applications/{application_id}/guilds/{guild_id}/commands",
            application_id=application_id,
            guild_id=guild_id,
        )
    else:
        route = discord.http.Route(
            "GET", "/applications/{application_id}/commands", application_id=application_id
        )
    found: list[dict[str, Any]] = await bot.http.request(
        route, params={"with_localizations": "true"}
    )
    return found


async def _payload(
    tree: discord.app_commands.CommandTree[Any], guild: discord.abc.Snowflake | None
) -> list[dict[str, Any]]:
    """What `tree.sync` would send: translated, as discord.py builds it."""
    translator = tree.translator
    commands_ = tree.get_commands(guild=guild)
    if translator is None:
        return [command.to_dict(tree) for command in commands_]
    return [await command.get_translated_payload(tree, translator) for command in commands_]


# Discord adds these; `*_localized` are the texts in the caller's own locale.
_REMOTE_ONLY = {
    "id",
    "application_id",
    "version",
    "guild_id",
    "dm_permission",
    "name_localized",
    "description_localized",
}
# A message command has no description: Discord sends it back as "".
_DEFAULTS: Mapping[str, Any] = {
    "nsfw": False,
    "required": False,
    "autocomplete": False,
    "description": "",
}


def _normalise(value: Any) -> Any:
    """Drop what Discord adds, and defaults that either side may leave out (an empty
    `*_localizations` is the same as none; a different one is a change to sync)."""
    if isinstance(value, Mapping):
        return {
            key: _normalise(item)
            for key, item in value.items()
            if key not in _REMOTE_ONLY
            and item not in (None, [], {})
            and not (key in _DEFAULTS and item == _DEFAULTS[key])
        }
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        # Permission bitsets go out as ints and come back as strings.
        return str(value)
    return value


def commands_differ(
    local: Sequence[Mapping[str, Any]], remote: Sequence[Mapping[str, Any]]
) -> bool:
    """Whether syncing would change anything. Fields Discord fills in with defaults that we
    leave out (contexts, integration types) count only where we set them ourselves."""
    if len(local) != len(remote):
        return True
    remote_by_name = {command["name"]: _normalise(command) for command in remote}
    for command in local:
        mine = _normalise(command)
        theirs = remote_by_name.get(mine["name"])
        if theirs is None:
            return True
        for key in ("contexts", "integration_types"):
            if key not in mine:
                theirs.pop(key, None)
        if mine != theirs:
            return True
    return False
