"""Private replies to a member, by whatever route still reaches them, and the apology.

A reply goes through the interaction while its token lives, else to the member's DMs, else to
the channel with a mention. Commands that may still refuse after answering Discord defer
privately (cogs/_common.start_job): a followup sent right after a deferral replaces the
"thinking..." message and keeps its visibility, so a private deferral keeps the refusal private
from the first moment, with nothing public to take down.
"""

from __future__ import annotations

import logging

import aiohttp
import discord

from bot.front.i18n import Words
from bot.front.interactions import TOKEN_GONE, command_name

log = logging.getLogger(__name__)


def apology(locale: str | None, error_id: str) -> str:
    """The member's message (in `locale`) for a failure that is ours, not theirs."""
    words = Words(locale)
    return words("front.apology", error_id=error_id)


async def reply_privately(interaction: discord.Interaction, text: str) -> None:
    """Tell the member something only they see, whatever state the interaction is in.

    Never raises: when the interaction can't carry the message (its token expired), it goes
    to the member's DMs, and failing that to the channel with a mention.
    """
    try:
        if await _reply_through_interaction(interaction, text):
            return
    except discord.HTTPException as exc:
        if exc.code not in TOKEN_GONE:
            log.warning("could not answer interaction %s (%s)", interaction.id, exc)
    except (discord.DiscordException, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("could not answer interaction %s (%s)", interaction.id, type(exc).__name__)
    await _reply_elsewhere(interaction, text)


async def _reply_through_interaction(interaction: discord.Interaction, text: str) -> bool:
    """Answer through the interaction's own routes; False if its token has expired."""
    if interaction.is_expired():
        return False
    if not interaction.response.is_done():
        try:
            await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException as exc:
            # 40060: acknowledged already (by an earlier attempt whose answer was lost).
            if exc.code != 40060:
                raise
        else:
            return True
    await interaction.followup.send(text, ephemeral=True)
    return True


async def _reply_elsewhere(interaction: discord.Interaction, text: str) -> None:
    """The member's DMs, else the channel with a mention: for when the token has expired."""
    member = interaction.user
    command = command_name(interaction)
    if command != "?":
        words = Words.of(interaction)
        text = words("front.about_request", command=command, text=text)
    mentions = discord.AllowedMentions(users=[member], everyone=False, roles=False)
    try:
        dm = await member.create_dm()
        await dm.send(text, allowed_mentions=mentions)
    except (discord.DiscordException, aiohttp.ClientError, TimeoutError):
        log.info("could not DM member %s; trying the channel", member.id)
    else:
        return
    channel_id = interaction.channel_id
    if channel_id is not None:
        channel = interaction.client.get_partial_messageable(channel_id)
        try:
            await channel.send(f"{member.mention} {text}", allowed_mentions=mentions)
        except (discord.DiscordException, aiohttp.ClientError, TimeoutError):
            log.warning("could not reach member %s in the channel either", member.id)
        else:
            return
    log.warning("member %s was not told: %s", member.id, text)
