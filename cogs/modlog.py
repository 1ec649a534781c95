"""The mod-log, and the buttons that let members and moderators act on results.

Every generation, refusal and member block on a server with a mod-log channel is posted
there; generations and refusals with buttons for moderators: delete the result, or block the
member from the bot for a while. Entries show the prompt and, for a blocked term, the term:
the mod-log is the moderators' channel, and nothing else the bot posts names a blocked term.
Result messages carry a Delete button that works for the member who asked and for
moderators, and for nobody else. The buttons keep their state in their custom ids
(`DynamicItem`), so they keep working after a restart.
"""

from __future__ import annotations

import asyncio
import io
import logging
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from discord.ext import commands

from bot import imaging
from bot.front.caption import escape_markdown, shorten
from bot.front.explain import explain
from bot.front.i18n import member_locale
from bot.moderation import InvalidSetting, block_ends
from bot.moderation.events import Blocked, Generated, Refused, Unblocked

if TYPE_CHECKING:
    from bot.front.client import ImagineBot

log = logging.getLogger(__name__)

LAYER_NAMES = {
    "blocked_terms": "the server's blocked terms",
    "moderation": "the moderation check",
    "provider": "the image provider's content policy",
}
# How long a member can be blocked for, here and in /imagine-settings block.
BLOCK_DURATIONS = {
    "1 hour": 3600,
    "1 day": 86400,
    "1 week": 7 * 86400,
    "30 days": 30 * 86400,
    "until unblocked": 0,
}
# The mod-log menu's options: seconds as the value, the label capitalised.
BLOCK_CHOICES = {str(seconds): label.capitalize() for label, seconds in BLOCK_DURATIONS.items()}
ONLY_OWNER = "Only the member who asked for these images, or a moderator, can delete them."
ONLY_MODS = "Only moderators with the Manage Messages permission can delete results."
COULD_NOT_DELETE = "I couldn't delete that result. Please try again, or delete it by hand."
ONLY_BLOCKERS = (
    "Only moderators with the Timeout Members (Moderate Members) or Manage Server permission "
    "can block members from the bot."
)


def blocked_text(member_id: int, until: float | None) -> str:
    return f"<@{member_id}> is blocked from the image commands {block_ends(until)}."


def unblocked_text(member_id: int) -> str:
    return f"<@{member_id}> may use the image commands again."


async def block_member(
    bot: ImagineBot, *, guild_id: int, member_id: int, moderator_id: int, seconds: int
) -> str:
    """Block a member from the commands for `seconds` (0: until unblocked) and tell the
    mod-log; returns what to tell the moderator. Raises `InvalidSetting` when the server has
    blocked too many members."""
    until = time.time() + seconds if seconds else None
    await bot.server_settings.block_member(guild_id, bot.member_ids(member_id), until=until)
    # The mod-log's record of it comes from its listener.
    bot.dispatch(
        "member_blocked",
        Blocked(guild_id=guild_id, member_id=member_id, moderator_id=moderator_id, until=until),
    )
    return blocked_text(member_id, until)


def message_link(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def _prompt(prompt: str) -> str:
    """A prompt as an embed's description, shown as typed (markdown escaped)."""
    return shorten(escape_markdown(prompt), 4000)


class DeleteResult(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"imagine:del:(?P<owner>\d+)"
):
    """The Delete button on a result message."""

    def __init__(self, owner_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Delete",
                style=discord.ButtonStyle.secondary,
                custom_id=f"imagine:del:{owner_id}",
            )
        )
        self.owner_id = owner_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> DeleteResult:
        return cls(int(match["owner"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        if interaction.user.id != self.owner_id and not interaction.permissions.manage_messages:
            await interaction.response.send_message(ONLY_OWNER, ephemeral=True)
            return
        await interaction.response.defer()
        if interaction.message is None:
            return
        try:
            await interaction.message.delete()
        except discord.NotFound:
            pass  # deleted already: a double click, or a moderator was quicker
        except discord.HTTPException as exc:
            log.warning("could not delete result %s: %s", interaction.message.id, exc)
            await interaction.followup.send(COULD_NOT_DELETE, ephemeral=True)


class DeleteFromModLog(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"imagine:mdel:(?P<channel>\d+):(?P<message>\d+)",
):
    """The mod-log's button that deletes the result message it describes."""

    def __init__(self, channel_id: int, message_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label="Delete result",
                style=discord.ButtonStyle.danger,
                custom_id=f"imagine:mdel:{channel_id}:{message_id}",
            )
        )
        self.channel_id = channel_id
        self.message_id = message_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> DeleteFromModLog:
        return cls(int(match["channel"]), int(match["message"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        if not interaction.permissions.manage_messages:
            await interaction.response.send_message(ONLY_MODS, ephemeral=True)
            return
        channel = interaction.client.get_partial_messageable(self.channel_id)
        try:
            await channel.get_partial_message(self.message_id).delete()
        except discord.NotFound:
            # Already gone (its member deleted it): the outcome the moderator wanted.
            text = f"The result was already deleted. (checked by {interaction.user.mention})"
        except discord.HTTPException as exc:
            log.warning("could not delete result %s: %s", self.message_id, exc)
            await interaction.response.send_message(COULD_NOT_DELETE, ephemeral=True)
            return
        else:
            text = f"Deleted the result. (by {interaction.user.mention})"
        # In the mod-log, for the other moderators to see.
        await interaction.response.send_message(
            text, allowed_mentions=discord.AllowedMentions.none()
        )


class BlockFromModLog(
    discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"imagine:block:(?P<member>\d+)"
):
    """The mod-log's menu that blocks the member from the bot for a chosen time."""

    def __init__(self, member_id: int) -> None:
        super().__init__(
            discord.ui.Select(
                placeholder="Block this member from the bot for…",
                custom_id=f"imagine:block:{member_id}",
                options=[
                    discord.SelectOption(label=label, value=value)
                    for value, label in BLOCK_CHOICES.items()
                ],
            )
        )
        self.member_id = member_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> BlockFromModLog:
        return cls(int(match["member"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        permissions = interaction.permissions
        if interaction.guild_id is None or not (
            permissions.moderate_members or permissions.manage_guild
        ):
            await interaction.response.send_message(ONLY_BLOCKERS, ephemeral=True)
            return
        bot: ImagineBot = interaction.client  # type: ignore[assignment]
        try:
            text = await block_member(
                bot,
                guild_id=interaction.guild_id,
                member_id=self.member_id,
                moderator_id=interaction.user.id,
                seconds=int(self.item.values[0]),
            )
        except InvalidSetting as exc:  # too many members blocked at once
            await interaction.response.send_message(
                explain(member_locale(interaction), exc), ephemeral=True
            )
            return
        await interaction.response.send_message(text, ephemeral=True)


def result_view(owner_id: int, controls: Iterable[discord.ui.Item[Any]] = ()) -> discord.ui.View:
    """The buttons under a result message: `controls` (cogs/actions_items.py), then Delete."""
    view = discord.ui.View(timeout=None)
    for item in controls:
        view.add_item(item)
    view.add_item(DeleteResult(owner_id))
    return view


class ModLog(commands.Cog):
    """Posts generations, refusals and blocks to the server's mod-log channel.

    Each event is posted by its own listener task; on shutdown (the cog is unloaded before the
    connection closes) the entries still being posted get `SHUTDOWN_GRACE` seconds to finish,
    so the last images made before a restart are logged too.
    """

    SHUTDOWN_GRACE = 10.0

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        self._posting: set[asyncio.Task[Any]] = set()

    async def cog_unload(self) -> None:
        if self._posting:
            await asyncio.wait(self._posting, timeout=self.SHUTDOWN_GRACE)

    async def _modlog_of(self, guild_id: int) -> discord.PartialMessageable | None:
        """The server's mod-log channel (None: it has none). Every listener starts here, which
        also makes shutdown wait for it."""
        task = asyncio.current_task()
        if task is not None:
            self._posting.add(task)
            task.add_done_callback(self._posting.discard)
        settings = await self.bot.server_settings.get(guild_id)
        if settings.modlog_channel is None:
            return None
        return self.bot.get_partial_messageable(settings.modlog_channel, guild_id=guild_id)

    async def _post(self, channel: discord.PartialMessageable, **kwargs: Any) -> None:
        try:
            await channel.send(allowed_mentions=discord.AllowedMentions.none(), **kwargs)
        except discord.HTTPException as exc:
            log.warning("could not post to the mod-log channel %s: %s", channel.id, exc)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning(
                "could not post to the mod-log channel %s (%s)", channel.id, type(exc).__name__
            )

    @commands.Cog.listener()
    async def on_image_generated(self, event: Generated) -> None:
        channel = await self._modlog_of(event.guild_id)
        if channel is None:
            return
        embed = discord.Embed(title=f"/{event.command}", color=discord.Color.blurple())
        embed.description = _prompt(event.prompt) if event.prompt else "(no prompt)"
        embed.add_field(name="Member", value=f"<@{event.member_id}>")
        if event.channel_id is not None:
            embed.add_field(name="Channel", value=f"<#{event.channel_id}>")
        embed.add_field(name="Model", value=event.model)
        embed.add_field(name="Size", value=event.size)
        embed.add_field(name="Images", value=str(len(event.images)))
        view = discord.ui.View(timeout=None)
        if event.message_channel_id is not None and event.message_id is not None:
            link = message_link(event.guild_id, event.message_channel_id, event.message_id)
            embed.add_field(name="Result", value=f"[Jump to it]({link})")
            view.add_item(DeleteFromModLog(event.message_channel_id, event.message_id))
        view.add_item(BlockFromModLog(event.member_id))
        sheet = await asyncio.to_thread(imaging.contact_sheet, event.images)
        embed.set_image(url="attachment://thumbnails.jpg")
        file = discord.File(io.BytesIO(sheet), filename="thumbnails.jpg")
        await self._post(channel, embed=embed, file=file, view=view)

    @commands.Cog.listener()
    async def on_prompt_refused(self, event: Refused) -> None:
        channel = await self._modlog_of(event.guild_id)
        if channel is None:
            return
        embed = discord.Embed(title=f"Refused /{event.command}", color=discord.Color.red())
        embed.description = _prompt(event.prompt)
        embed.add_field(name="Member", value=f"<@{event.member_id}>")
        if event.channel_id is not None:
            embed.add_field(name="Channel", value=f"<#{event.channel_id}>")
        embed.add_field(name="Refused by", value=LAYER_NAMES.get(event.layer, event.layer))
        embed.add_field(name="Reason", value=shorten(event.reason, 1024), inline=False)
        view = discord.ui.View(timeout=None)
        view.add_item(BlockFromModLog(event.member_id))
        await self._post(channel, embed=embed, view=view)

    @commands.Cog.listener()
    async def on_member_blocked(self, event: Blocked) -> None:
        channel = await self._modlog_of(event.guild_id)
        if channel is not None:
            await self._post(
                channel,
                content=f"{blocked_text(event.member_id, event.until)} "
                f"(by <@{event.moderator_id}>)",
            )

    @commands.Cog.listener()
    async def on_member_unblocked(self, event: Unblocked) -> None:
        channel = await self._modlog_of(event.guild_id)
        if channel is not None:
            await self._post(
                channel,
                content=f"{unblocked_text(event.member_id)} (unblocked by <@{event.moderator_id}>)",
            )


async def setup(bot: ImagineBot) -> None:
    bot.add_dynamic_items(DeleteResult, DeleteFromModLog, BlockFromModLog)
    await bot.add_cog(ModLog(bot))
