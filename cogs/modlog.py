"""The mod-log, and the buttons that let members and moderators act on results.

Every generation and every refusal on a server with a mod-log channel is posted there, with
buttons for moderators: delete the result, or block the member from the bot for a while.
Result messages carry a Delete button that works for the member who asked and for
moderators, and for nobody else. The buttons keep their state in their custom ids
(`DynamicItem`), so they keep working after a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
import time
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot import imaging
from bot.moderation.events import Generated, Refused

if TYPE_CHECKING:
    from bot.app import ImagineBot

log = logging.getLogger(__name__)

LAYER_NAMES = {
    "blocked_terms": "the server's blocked terms",
    "moderation": "the moderation check",
    "provider": "the image provider's content policy",
}
BLOCK_CHOICES = {
    "3600": "1 hour",
    "86400": "1 day",
    "604800": "1 week",
    "2592000": "30 days",
    "0": "Until unblocked",
}
ONLY_OWNER = "Only the member who asked for these images, or a moderator, can delete them."
ONLY_MODS = "Only moderators (Manage Messages) can do that."
ONLY_BLOCKERS = "Only moderators who can time out members (Moderate Members) can block them."


def message_link(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
        if interaction.message is not None:
            await interaction.message.delete()


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
        # Already gone is the outcome the moderator wanted.
        with contextlib.suppress(discord.NotFound):
            await channel.get_partial_message(self.message_id).delete()
        await interaction.response.send_message(
            f"Deleted the result. (by {interaction.user.mention})",
            allowed_mentions=discord.AllowedMentions.none(),
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
        seconds = int(self.item.values[0])
        until = time.time() + seconds if seconds else None
        await bot.server_settings.block_member(
            interaction.guild_id, bot.member_ids(self.member_id), until=until
        )
        when = f"until <t:{int(until)}:f>" if until else "until unblocked"
        await interaction.response.send_message(
            f"<@{self.member_id}> is blocked from the image commands {when}. "
            f"(by {interaction.user.mention})",
            allowed_mentions=discord.AllowedMentions.none(),
        )


def result_view(owner_id: int) -> discord.ui.View:
    """The buttons under a result message."""
    view = discord.ui.View(timeout=None)
    view.add_item(DeleteResult(owner_id))
    return view


class ModLog(commands.Cog):
    """Posts generations and refusals to the server's mod-log channel."""

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    async def _channel(self, guild_id: int) -> discord.PartialMessageable | None:
        settings = await self.bot.server_settings.get(guild_id)
        if settings.modlog_channel is None:
            return None
        return self.bot.get_partial_messageable(settings.modlog_channel, guild_id=guild_id)

    async def _post(self, channel: discord.PartialMessageable, **kwargs: Any) -> None:
        try:
            await channel.send(allowed_mentions=discord.AllowedMentions.none(), **kwargs)
        except discord.HTTPException as exc:
            log.warning("could not post to the mod-log channel %s: %s", channel.id, exc)

    @commands.Cog.listener()
    async def on_image_generated(self, event: Generated) -> None:
        channel = await self._channel(event.guild_id)
        if channel is None:
            return
        embed = discord.Embed(title=f"/{event.command}", color=discord.Color.blurple())
        embed.description = _shorten(event.prompt, 4000) if event.prompt else "(no prompt)"
        embed.add_field(name="Member", value=f"<@{event.member_id}>")
        if event.channel_id is not None:
            embed.add_field(name="Channel", value=f"<#{event.channel_id}>")
        embed.add_field(name="Model", value=event.model)
        embed.add_field(name="Size", value=event.size)
        embed.add_field(name="Images", value=str(event.n))
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
        channel = await self._channel(event.guild_id)
        if channel is None:
            return
        embed = discord.Embed(title=f"Refused /{event.command}", color=discord.Color.red())
        embed.description = _shorten(event.prompt, 4000)
        embed.add_field(name="Member", value=f"<@{event.member_id}>")
        if event.channel_id is not None:
            embed.add_field(name="Channel", value=f"<#{event.channel_id}>")
        embed.add_field(name="Refused by", value=LAYER_NAMES.get(event.layer, event.layer))
        embed.add_field(name="Reason", value=_shorten(event.reason, 1024), inline=False)
        view = discord.ui.View(timeout=None)
        view.add_item(BlockFromModLog(event.member_id))
        await self._post(channel, embed=embed, view=view)


async def setup(bot: ImagineBot) -> None:
    bot.add_dynamic_items(DeleteResult, DeleteFromModLog, BlockFromModLog)
    await bot.add_cog(ModLog(bot))
