"""/imagine-settings: server admins choose where the bot works, for whom, and how much.

The group needs Manage Server by default (Discord hides it from everyone else) and checks
the permission again on every use, since a server can re-grant the command to anyone in its
Integrations settings. Every answer is private to the admin. Blocks and unblocks are also
reported to the mod-log (a `member_blocked` / `member_unblocked` event).
"""

from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserFacingError
from bot.front.i18n import member_locale, text
from bot.limits.policy import DAY_SECONDS, LimitPolicy
from bot.moderation import InvalidSetting, ServerSettings, normalise_term
from bot.moderation.events import Unblocked
from cogs.modlog import BLOCK_DURATIONS, block_member, unblocked_text

if TYPE_CHECKING:
    from bot.front.client import ImagineBot

NOT_ADMIN = (
    "Only members with the Manage Server permission can see or change the image bot's settings."
)
# What the bot needs in the mod-log channel: to see it, to post, to show the entry's embed and
# to attach the thumbnails.
MODLOG_PERMISSIONS = {
    "view_channel": "View Channel",
    "send_messages": "Send Messages",
    "embed_links": "Embed Links",
    "attach_files": "Attach Files",
}
# Channels the commands can be allowed in: text and announcement channels, and forums (for the
# posts in them, which are threads).
Allowable = discord.TextChannel | discord.ForumChannel
LIST_LIMIT = 2000  # a message's characters; a longer term list is sent as a file
MAX_LISTED = 20  # channels or roles named by `show`; the rest are counted


def period(seconds: int) -> str:
    """'hour', '3 hours', '18 minutes', 'day': the window as in 'per <period>'."""
    if seconds == DAY_SECONDS:
        return "day"
    if seconds % 3600 == 0:
        count, unit = seconds // 3600, "hour"
    elif seconds % 60 == 0:
        count, unit = seconds // 60, "minute"
    elif seconds > 60:
        # A window lengthened to keep the default rate (see ServerSettings.limit_policy).
        return f"about {round(seconds / 60)} minutes"
    else:
        count, unit = seconds, "second"
    return unit if count == 1 else f"{count} {unit}s"


def describe_limits(policy: LimitPolicy) -> str:
    """'10 images per hour and 30 per day (UTC)'."""
    return (
        f"{policy.window_images} images per {period(policy.window_seconds)} "
        f"and {policy.daily_images} per day (UTC)"
    )


def describe(settings: ServerSettings, *, now: float, limits: LimitPolicy) -> str:
    """The server's settings as the admin reads them; `limits` are the ones members get."""
    channels = _listed([f"<#{c}>" for c in sorted(settings.allowed_channels)]) or "every channel"
    # The @everyone role has the server's id, and its mention renders as "@@everyone".
    roles = _listed(
        [
            "@everyone" if r == settings.guild_id else f"<@&{r}>"
            for r in sorted(settings.allowed_roles)
        ]
    )
    roles = roles or "everyone"
    whose = "this server's own" if settings.has_limits else "the bot's defaults"
    terms = len(settings.blocked_terms)
    blocked = sum(1 for until in settings.blocked_members.values() if until > now)
    lines = [
        "**Image bot settings for this server**",
        f"Works in: {channels}",
        f"Who may use it: {roles}",
        f"Only in age-restricted channels: {'yes' if settings.nsfw_only else 'no'}",
        text(None, f"actions.settings.show.{'owner' if settings.clicks_owner_only else 'anyone'}"),
        f"Per-member limits: {describe_limits(limits)} ({whose})",
        f"Blocked terms: {terms}" + (" (see `/imagine-settings terms list`)" if terms else ""),
        "Mod-log: " + (f"<#{settings.modlog_channel}>" if settings.modlog_channel else "off"),
        f"Members blocked now: {blocked}",
    ]
    return "\n".join(lines)


def _listed(mentions: list[str]) -> str:
    """Mentions separated by commas; past `MAX_LISTED`, counted (a message holds 2000 characters,
    and 50 channels with 25 roles would not fit)."""
    shown = ", ".join(mentions[:MAX_LISTED])
    hidden = len(mentions) - MAX_LISTED
    return shown + (f" and {hidden} more" if hidden > 0 else "")


def _guild_id(interaction: discord.Interaction) -> int:
    if interaction.guild_id is None:
        raise UserFacingError("These settings belong to a server; use them on one.")
    return interaction.guild_id


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
class ServerSettingsGroup(commands.GroupCog, group_name="imagine-settings"):
    """The /imagine-settings command group."""

    channels = app_commands.Group(name="channels", description="Where the image commands work")
    roles = app_commands.Group(name="roles", description="Who may use the image commands")
    terms = app_commands.Group(name="terms", description="Words and phrases prompts may not hold")
    limits = app_commands.Group(name="limits", description="How many images each member gets")

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        super().__init__()

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        # Runs before every command of the group (discord.py ignores `app_commands.check` on a
        # group). default_permissions only hides the group; a server can show it to anyone.
        if interaction.guild_id is None or not interaction.permissions.manage_guild:
            raise app_commands.CheckFailure(NOT_ADMIN)
        return True

    def _limits(self, settings: ServerSettings) -> LimitPolicy:
        """The per-member limits members get on this server."""
        configured = self.bot.settings
        return settings.limit_policy(
            configured.role_policies.default,
            may_exceed_default=configured.server_limits_may_exceed_default,
        )

    async def _reply(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True)

    async def _show(
        self, interaction: discord.Interaction, settings: ServerSettings, done: str
    ) -> None:
        shown = describe(settings, now=time.time(), limits=self._limits(settings))
        await self._reply(interaction, done + "\n\n" + shown)

    @app_commands.command(name="show", description="Show this server's image bot settings")
    async def show(self, interaction: discord.Interaction) -> None:
        settings = await self.bot.server_settings.get(_guild_id(interaction))
        shown = describe(settings, now=time.time(), limits=self._limits(settings))
        await self._reply(interaction, shown)

    # --- channels and roles ---

    @channels.command(name="add", description="Let the image commands work in a channel")
    @app_commands.describe(channel="The channel or forum to allow (its threads and posts too)")
    async def channel_add(self, interaction: discord.Interaction, channel: Allowable) -> None:
        settings = await self.bot.server_settings.allow_channel(_guild_id(interaction), channel.id)
        done = f"The image commands now work in {channel.mention}"
        if len(settings.allowed_channels) == 1:
            done += " (and only there, until you allow more channels)"
        await self._show(interaction, settings, done + ".")

    @channels.command(name="remove", description="Take a channel off the allowed list")
    @app_commands.describe(channel="The channel to take off the allowed list")
    async def channel_remove(self, interaction: discord.Interaction, channel: Allowable) -> None:
        store, guild_id = self.bot.server_settings, _guild_id(interaction)
        if channel.id not in (await store.get(guild_id)).allowed_channels:
            await self._reply(interaction, f"{channel.mention} isn't on the allowed list.")
            return
        settings = await store.disallow_channel(guild_id, channel.id)
        note = (
            "" if settings.allowed_channels else " No channel is listed now, so they work in all."
        )
        await self._show(interaction, settings, f"Removed {channel.mention}.{note}")

    @roles.command(name="add", description="Let members with a role use the image commands")
    @app_commands.describe(role="The role to allow")
    async def role_add(self, interaction: discord.Interaction, role: discord.Role) -> None:
        settings = await self.bot.server_settings.allow_role(_guild_id(interaction), role.id)
        done = f"Members with {role.mention} may now use the image commands"
        if len(settings.allowed_roles) == 1 and not role.is_default():
            done += " (and only they, until you allow more roles)"
        await self._show(interaction, settings, done + ".")

    @roles.command(name="remove", description="Take a role off the allowed list")
    @app_commands.describe(role="The role to take off the allowed list")
    async def role_remove(self, interaction: discord.Interaction, role: discord.Role) -> None:
        store, guild_id = self.bot.server_settings, _guild_id(interaction)
        if role.id not in (await store.get(guild_id)).allowed_roles:
            await self._reply(interaction, f"{role.mention} isn't on the allowed list.")
            return
        settings = await store.disallow_role(guild_id, role.id)
        note = "" if settings.allowed_roles else " No role is listed now, so everyone may use them."
        await self._show(interaction, settings, f"Removed {role.mention}.{note}")

    # --- blocked terms ---

    @terms.command(name="add", description="Refuse prompts that contain a word or phrase")
    @app_commands.describe(
        term="A word or phrase; bad* also catches words starting with bad, *bad those ending so"
    )
    async def term_add(
        self, interaction: discord.Interaction, term: app_commands.Range[str, 1, 100]
    ) -> None:
        settings = await self.bot.server_settings.add_blocked_term(_guild_id(interaction), term)
        # The term is not repeated: the admin typed it, and the answer may be screen-shared.
        await self._show(interaction, settings, "Added the term to the blocked list.")

    @terms.command(name="remove", description="Take a word or phrase off the blocked list")
    @app_commands.describe(term="The term to unblock, written as it was added")
    async def term_remove(
        self, interaction: discord.Interaction, term: app_commands.Range[str, 1, 100]
    ) -> None:
        store, guild_id = self.bot.server_settings, _guild_id(interaction)
        try:
            normal = normalise_term(term)
        except InvalidSetting:
            normal = None
        if normal is None or normal not in (await store.get(guild_id)).blocked_terms:
            await self._reply(
                interaction,
                "That term isn't on the blocked list (`/imagine-settings terms list` shows it).",
            )
            return
        settings = await store.remove_blocked_term(guild_id, term)
        await self._show(interaction, settings, "Removed the term from the blocked list.")

    @terms.command(name="list", description="List the blocked words and phrases (only you see it)")
    async def term_list(self, interaction: discord.Interaction) -> None:
        settings = await self.bot.server_settings.get(_guild_id(interaction))
        terms = settings.blocked_terms
        if not terms:
            await self._reply(interaction, "No terms are blocked on this server.")
            return
        title = f"**Blocked terms ({len(terms)})**, as saved (folded to plain lower case):"
        text = title + "\n" + ", ".join(f"`{term}`" for term in terms)
        if len(text) <= LIST_LIMIT:
            await self._reply(interaction, text)
            return
        listing = discord.File(io.BytesIO("\n".join(terms).encode()), filename="blocked-terms.txt")
        await interaction.response.send_message(
            title + " the list is long, so here it is as a file.", file=listing, ephemeral=True
        )

    # --- limits ---

    @limits.command(name="set", description="Set this server's per-member image limits")
    @app_commands.describe(
        per_window="Images each member may make per window",
        window_minutes="The window's length in minutes (up to a day)",
        per_day="Images each member may make per day (UTC)",
    )
    async def limits_set(
        self,
        interaction: discord.Interaction,
        per_window: app_commands.Range[int, 1, 10_000] | None = None,
        window_minutes: app_commands.Range[int, 1, 1440] | None = None,
        per_day: app_commands.Range[int, 1, 10_000] | None = None,
    ) -> None:
        if per_window is None and window_minutes is None and per_day is None:
            raise UserFacingError("Give at least one of per_window, window_minutes or per_day.")
        settings = await self.bot.server_settings.set_limits(
            _guild_id(interaction),
            window_images=per_window,
            daily_images=per_day,
            window_seconds=window_minutes * 60 if window_minutes else None,
        )
        limits = self._limits(settings)
        done = f"Members now get {describe_limits(limits)}."
        asked = (
            settings.window_images or limits.window_images,
            settings.window_seconds or limits.window_seconds,
            settings.daily_images or limits.daily_images,
        )
        if asked != (limits.window_images, limits.window_seconds, limits.daily_images):
            default = self.bot.settings.role_policies.default
            done += (
                " That is less than you asked for: a server can only tighten the bot's own "
                f"limits ({describe_limits(default)}), which its owner pays for."
            )
        await self._show(interaction, settings, done)

    @limits.command(name="clear", description="Go back to the bot's default limits")
    async def limits_clear(self, interaction: discord.Interaction) -> None:
        settings = await self.bot.server_settings.clear_limits(_guild_id(interaction))
        await self._show(interaction, settings, "Back to the bot's default limits.")

    # --- mod-log and age restriction ---

    @app_commands.command(
        name="modlog", description="Choose the channel that logs every image and refusal"
    )
    @app_commands.describe(channel="The mod-log channel; leave it out to turn the mod-log off")
    async def modlog(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        guild_id = _guild_id(interaction)
        if channel is not None:
            mine = channel.permissions_for(channel.guild.me)
            missing = [name for flag, name in MODLOG_PERMISSIONS.items() if not getattr(mine, flag)]
            if missing:
                raise UserFacingError(
                    f"I can't post the mod-log in {channel.mention}: I need "
                    + ", ".join(missing)
                    + " there. Give my role those permissions in the channel's settings, "
                    "then try again."
                )
        settings = await self.bot.server_settings.set_modlog(
            guild_id, channel.id if channel else None
        )
        done = f"The mod-log is now {channel.mention}." if channel else "The mod-log is off."
        if channel is not None and channel.permissions_for(channel.guild.default_role).view_channel:
            done += (
                f" Note: everyone on the server can see {channel.mention}, and its entries show "
                "refused prompts and the blocked terms they hit; a channel only moderators can "
                "see is better."
            )
        await self._show(interaction, settings, done)

    @app_commands.command(
        name="nsfw-only", description="Allow images only in age-restricted channels"
    )
    @app_commands.describe(enabled="True: only age-restricted channels; false: any allowed channel")
    async def nsfw_only(self, interaction: discord.Interaction, enabled: bool) -> None:
        settings = await self.bot.server_settings.set_nsfw_only(_guild_id(interaction), enabled)
        done = (
            "The image commands now work only in age-restricted channels."
            if enabled
            else "The image commands work in any allowed channel again."
        )
        await self._show(interaction, settings, done)

    @app_commands.command(
        name="result-buttons", description="Who may use a result's Re-roll, Vary and Edit buttons"
    )
    @app_commands.describe(owner_only="True: only the member who asked; false: anyone here")
    async def result_buttons(self, interaction: discord.Interaction, owner_only: bool) -> None:
        guild_id = _guild_id(interaction)
        settings = await self.bot.server_settings.set_clicks_owner_only(guild_id, owner_only)
        key = "actions.settings.owner_only" if owner_only else "actions.settings.anyone"
        await self._show(interaction, settings, text(member_locale(interaction), key))

    # --- member blocks ---

    @app_commands.command(name="block", description="Stop a member from using the image commands")
    @app_commands.describe(member="Who to block", duration="For how long")
    @app_commands.choices(duration=[app_commands.Choice(name=n, value=n) for n in BLOCK_DURATIONS])
    async def block(
        self, interaction: discord.Interaction, member: discord.Member, duration: str
    ) -> None:
        text = await block_member(
            self.bot,
            guild_id=_guild_id(interaction),
            member_id=member.id,
            moderator_id=interaction.user.id,
            seconds=BLOCK_DURATIONS[duration],
        )
        await self._reply(interaction, text)

    @app_commands.command(name="unblock", description="Let a blocked member use the commands again")
    @app_commands.describe(member="Who to unblock")
    async def unblock(self, interaction: discord.Interaction, member: discord.Member) -> None:
        guild_id, key = _guild_id(interaction), self.bot.member_ids(member.id)
        store = self.bot.server_settings
        if await store.blocked_until(guild_id, key) is None:
            await self._reply(interaction, f"{member.mention} isn't blocked.")
            return
        await store.unblock_member(guild_id, key)
        self.bot.dispatch(
            "member_unblocked",
            Unblocked(guild_id=guild_id, member_id=member.id, moderator_id=interaction.user.id),
        )
        await self._reply(interaction, unblocked_text(member.id))


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(ServerSettingsGroup(bot))
