"""The mod-log, and the buttons that let members and moderators act on results.

Every generation, refusal and member block on a server with a mod-log channel is posted
there; generations and refusals with buttons for moderators: delete the result, or block the
member from the bot for a while. Entries show the prompt and, for a blocked term, the term:
the mod-log is the moderators' channel, and nothing else the bot posts names a blocked term.
Result messages carry a Delete button that works for the member who asked and for
moderators, and for nobody else. The buttons keep their state in their custom ids
(`DynamicItem`), so they keep working after a restart.

Languages: the mod-log is written in the server's preferred language (its Community setting,
`Words.of_server`), as are the labels of buttons posted in a channel; what one person reads
privately (a button's refusal, the moderator's confirmation) is in that person's language.
"""

from __future__ import annotations

import asyncio
import io
import logging
import math
import re
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import aiohttp
import discord
from discord.ext import commands

from bot import imaging
from bot.front.caption import escape_markdown, shorten
from bot.front.explain import explain, say
from bot.front.i18n import Words, member_locale
from bot.moderation import InvalidSetting
from bot.moderation.events import Blocked, Generated, Refused, Unblocked

if TYPE_CHECKING:
    from bot.front.client import ImagineBot

log = logging.getLogger(__name__)

# How long a member can be blocked for, here and in /imagine-settings block (whose choices
# the command translator words as `choice.<key>`).
BLOCK_DURATIONS = {
    "1 hour": 3600,
    "1 day": 86400,
    "1 week": 7 * 86400,
    "30 days": 30 * 86400,
    "until unblocked": 0,
}


ENGLISH = Words(None)  # what a button says when no reader's language is known


def duration_key(label: str) -> str:
    """The catalogue id of a block duration: "1 hour" -> "choice.1_hour"."""
    return "choice." + label.replace(" ", "_")


def block_choices(words: Words) -> dict[str, str]:
    """The mod-log menu's options: seconds as the value, the label capitalised."""
    labels = {
        str(seconds): words(duration_key(label)) for label, seconds in BLOCK_DURATIONS.items()
    }
    return {value: label[:1].upper() + label[1:] for value, label in labels.items()}


def server_words(interaction: discord.Interaction) -> Words:
    """Words in the language of the server an interaction came from (for what all can read)."""
    return Words(str(interaction.guild_locale) if interaction.guild_locale else None)


def blocked_text(words: Words, member_id: int, until: float | None) -> str:
    """ "<@member> is blocked from the image commands until <when>." """
    if until is None or math.isinf(until):
        return words("modlog.blocked_forever", member=member_id)
    # Round up: "until 12:00:01" must not read as a block that already ended at 12:00:00.
    return words("modlog.blocked", member=member_id, until=math.ceil(until))


def unblocked_text(words: Words, member_id: int) -> str:
    return words("modlog.unblocked", member=member_id)


async def block_member(
    bot: ImagineBot,
    *,
    guild_id: int,
    member_id: int,
    moderator_id: int,
    seconds: int,
    words: Words,
) -> str:
    """Block a member from the commands for `seconds` (0: until unblocked) and tell the
    mod-log; returns what to tell the moderator, in `words`. Raises `InvalidSetting` when the
    server has blocked too many members."""
    until = time.time() + seconds if seconds else None
    await bot.server_settings.block_member(guild_id, bot.member_ids(member_id), until=until)
    # The mod-log's record of it comes from its listener.
    bot.dispatch(
        "member_blocked",
        Blocked(guild_id=guild_id, member_id=member_id, moderator_id=moderator_id, until=until),
    )
    return blocked_text(words, member_id, until)


def message_link(guild_id: int, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id}/{channel_id}/{message_id}"


def _prompt(prompt: str) -> str:
    """A prompt as an embed's description, shown as typed (markdown escaped)."""
    return shorten(escape_markdown(prompt), 4000)


class DeleteResult(
    discord.ui.DynamicItem[discord.ui.Button[Any]], template=r"imagine:del:(?P<owner>\d+)"
):
    """The Delete button on a result message."""

    def __init__(self, owner_id: int, words: Words = ENGLISH) -> None:
        super().__init__(
            discord.ui.Button(
                label=words("modlog.button.delete"),
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
            await interaction.response.send_message(
                Words.of(interaction)("modlog.only_owner"), ephemeral=True
            )
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
            await interaction.followup.send(
                Words.of(interaction)("modlog.could_not_delete"), ephemeral=True
            )


class DeleteFromModLog(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"imagine:mdel:(?P<channel>\d+):(?P<message>\d+)",
):
    """The mod-log's button that deletes the result message it describes."""

    def __init__(self, channel_id: int, message_id: int, words: Words = ENGLISH) -> None:
        super().__init__(
            discord.ui.Button(
                label=words("modlog.button.delete_result"),
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
            await interaction.response.send_message(
                Words.of(interaction)("modlog.only_mods"), ephemeral=True
            )
            return
        channel = interaction.client.get_partial_messageable(self.channel_id)
        words = server_words(interaction)  # the mod-log's language
        try:
            await channel.get_partial_message(self.message_id).delete()
        except discord.NotFound:
            # Already gone (its member deleted it): the outcome the moderator wanted.
            text = words("modlog.already_deleted", moderator=interaction.user.id)
        except discord.HTTPException as exc:
            log.warning("could not delete result %s: %s", self.message_id, exc)
            await interaction.response.send_message(
                Words.of(interaction)("modlog.could_not_delete"), ephemeral=True
            )
            return
        else:
            text = words("modlog.deleted", moderator=interaction.user.id)
        # In the mod-log, for the other moderators to see.
        await interaction.response.send_message(
            text, allowed_mentions=discord.AllowedMentions.none()
        )


class BlockFromModLog(
    discord.ui.DynamicItem[discord.ui.Select[Any]], template=r"imagine:block:(?P<member>\d+)"
):
    """The mod-log's menu that blocks the member from the bot for a chosen time."""

    def __init__(self, member_id: int, words: Words = ENGLISH) -> None:
        super().__init__(
            discord.ui.Select(
                placeholder=words("modlog.block.placeholder"),
                custom_id=f"imagine:block:{member_id}",
                options=[
                    discord.SelectOption(label=label, value=value)
                    for value, label in block_choices(words).items()
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
            await interaction.response.send_message(
                Words.of(interaction)("modlog.only_blockers"), ephemeral=True
            )
            return
        bot: ImagineBot = interaction.client  # type: ignore[assignment]
        try:
            text = await block_member(
                bot,
                guild_id=interaction.guild_id,
                member_id=self.member_id,
                moderator_id=interaction.user.id,
                seconds=int(self.item.values[0]),
                words=Words.of(interaction),
            )
        except InvalidSetting as exc:  # too many members blocked at once
            await interaction.response.send_message(
                explain(member_locale(interaction), exc), ephemeral=True
            )
            return
        await interaction.response.send_message(text, ephemeral=True)


def result_view(
    owner_id: int, words: Words = ENGLISH, controls: Iterable[discord.ui.Item[Any]] = ()
) -> discord.ui.View:
    """The buttons under a result message: `controls` (cogs/actions_items.py), then Delete
    (labelled in `words`: the channel's readers')."""
    view = discord.ui.View(timeout=None)
    for item in controls:
        view.add_item(item)
    view.add_item(DeleteResult(owner_id, words))
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

    def _words(self, guild_id: int) -> Words:
        """The mod-log's language: the server's preferred one (English when not known)."""
        return Words.of_server(self.bot.get_guild(guild_id))

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
        words = self._words(event.guild_id)
        embed = discord.Embed(title=f"/{event.command}", color=discord.Color.blurple())
        embed.description = _prompt(event.prompt) if event.prompt else words("modlog.no_prompt")
        embed.add_field(name=words("modlog.field.member"), value=f"<@{event.member_id}>")
        if event.channel_id is not None:
            embed.add_field(name=words("modlog.field.channel"), value=f"<#{event.channel_id}>")
        embed.add_field(name=words("modlog.field.model"), value=event.model)
        embed.add_field(name=words("modlog.field.size"), value=event.size)
        embed.add_field(name=words("modlog.field.images"), value=words.number(len(event.images)))
        view = discord.ui.View(timeout=None)
        if event.message_channel_id is not None and event.message_id is not None:
            link = message_link(event.guild_id, event.message_channel_id, event.message_id)
            embed.add_field(
                name=words("modlog.field.result"), value=words("modlog.jump", link=link)
            )
            view.add_item(DeleteFromModLog(event.message_channel_id, event.message_id, words))
        view.add_item(BlockFromModLog(event.member_id, words))
        sheet = await asyncio.to_thread(imaging.contact_sheet, event.images)
        embed.set_image(url="attachment://thumbnails.jpg")
        file = discord.File(io.BytesIO(sheet), filename="thumbnails.jpg")
        await self._post(channel, embed=embed, file=file, view=view)

    @commands.Cog.listener()
    async def on_prompt_refused(self, event: Refused) -> None:
        channel = await self._modlog_of(event.guild_id)
        if channel is None:
            return
        words = self._words(event.guild_id)
        title = words("modlog.refused", command=event.command)
        embed = discord.Embed(title=title, color=discord.Color.red())
        embed.description = _prompt(event.prompt)
        embed.add_field(name=words("modlog.field.member"), value=f"<@{event.member_id}>")
        if event.channel_id is not None:
            embed.add_field(name=words("modlog.field.channel"), value=f"<#{event.channel_id}>")
        layer = words(f"modlog.layer.{event.layer}")
        embed.add_field(name=words("modlog.field.refused_by"), value=layer)
        reason = shorten(say(words.locale, event.reason), 1024)
        embed.add_field(name=words("modlog.field.reason"), value=reason, inline=False)
        view = discord.ui.View(timeout=None)
        view.add_item(BlockFromModLog(event.member_id, words))
        await self._post(channel, embed=embed, view=view)

    @commands.Cog.listener()
    async def on_member_blocked(self, event: Blocked) -> None:
        channel = await self._modlog_of(event.guild_id)
        if channel is not None:
            words = self._words(event.guild_id)
            entry = blocked_text(words, event.member_id, event.until)
            by = words("modlog.blocked_by", entry=entry, moderator=event.moderator_id)
            await self._post(channel, content=by)

    @commands.Cog.listener()
    async def on_member_unblocked(self, event: Unblocked) -> None:
        channel = await self._modlog_of(event.guild_id)
        if channel is not None:
            words = self._words(event.guild_id)
            entry = unblocked_text(words, event.member_id)
            by = words("modlog.unblocked_by", entry=entry, moderator=event.moderator_id)
            await self._post(channel, content=by)


async def setup(bot: ImagineBot) -> None:
    bot.add_dynamic_items(DeleteResult, DeleteFromModLog, BlockFromModLog)
    await bot.add_cog(ModLog(bot))
