"""/imagine-settings: server admins choose where the bot works, for whom, and how much.

The group needs Manage Server by default (Discord hides it from everyone else) and checks
the permission again on every use, since a server can re-grant the command in its
Integrations settings. Every answer is private to the admin.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserFacingError
from bot.moderation import ServerSettings

if TYPE_CHECKING:
    from bot.app import ImagineBot

NOT_ADMIN = "Only members with the Manage Server permission can change the bot's settings."
BLOCK_DURATIONS = {
    "1 hour": 3600,
    "1 day": 86400,
    "1 week": 7 * 86400,
    "30 days": 30 * 86400,
    "until unblocked": 0,
}


def describe(settings: ServerSettings, *, now: float) -> str:
    """The server's settings as the admin reads them."""
    channels = ", ".join(f"<#{c}>" for c in sorted(settings.allowed_channels)) or "every channel"
    roles = ", ".join(f"<@&{r}>" for r in sorted(settings.allowed_roles)) or "everyone"
    limits = []
    if settings.window_images is not None:
        limits.append(f"{settings.window_images} images per window")
    if settings.window_seconds is not None:
        limits.append(f"a window of {settings.window_seconds // 60} minutes")
    if settings.daily_images is not None:
        limits.append(f"{settings.daily_images} images per day")
    terms = len(settings.blocked_terms)
    blocked = sum(1 for until in settings.blocked_members.values() if until > now)
    lines = [
        "**Image bot settings for this server**",
        f"Works in: {channels}",
        f"Who may use it: {roles}",
        f"Only in age-restricted channels: {'yes' if settings.nsfw_only else 'no'}",
        "Per-member limits: " + (", ".join(limits) if limits else "the bot's defaults"),
        f"Blocked terms: {terms}" + (" (see `/imagine-settings terms list`)" if terms else ""),
        "Mod-log: " + (f"<#{settings.modlog_channel}>" if settings.modlog_channel else "off"),
        f"Members blocked now: {blocked}",
    ]
    return "\n".join(lines)


def _guild_id(interaction: discord.Interaction) -> int:
    if interaction.guild_id is None:
        raise UserFacingError("These settings belong to a server; use them on one.")
    return interaction.guild_id


async def _admins_only(interaction: discord.Interaction) -> bool:
    if interaction.guild_id is None or not interaction.permissions.manage_guild:
        raise app_commands.CheckFailure(NOT_ADMIN)
    return True


@app_commands.guild_only()
@app_commands.default_permissions(manage_guild=True)
@app_commands.check(_admins_only)
class ServerSettingsGroup(commands.GroupCog, group_name="imagine-settings"):
    """The /imagine-settings command group."""

    channels = app_commands.Group(name="channels", description="Where the image commands work")
    roles = app_commands.Group(name="roles", description="Who may use the image commands")
    terms = app_commands.Group(name="terms", description="Words that prompts may not contain")
    limits = app_commands.Group(name="limits", description="How many images each member gets")

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        super().__init__()

    async def _reply(self, interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True)

    async def _show(
        self, interaction: discord.Interaction, settings: ServerSettings, done: str
    ) -> None:
        await self._reply(interaction, done + "\n\n" + describe(settings, now=time.time()))

    @app_commands.command(name="show", description="Show this server's image bot settings")
    async def show(self, interaction: discord.Interaction) -> None:
        settings = await self.bot.server_settings.get(_guild_id(interaction))
        await self._reply(interaction, describe(settings, now=time.time()))

    @channels.command(name="add", description="Let the image commands work in a channel")
    @app_commands.describe(channel="The channel to allow")
    async def channel_add(
        self, interaction: discord.Interaction, channel: discord.TextChannel
    ) -> None:
        settings = await self.bot.server_settings.allow_channel(_guild_id(interaction), channel.id)
        await self._show(
            interaction, settings, f"The image commands now work in {channel.mention}."
        )

    @channels.command(name="remove", description="Stop the image commands in a channel")
    @app_commands.describe(channel="The channel to remove from the allowed list")
    async def channel_remove(
        self, interaction: discord.Interaction, channel: discord.TextChannel
    ) -> None:
        store = self.bot.server_settings
        settings = await store.disallow_channel(_guild_id(interaction), channel.id)
        note = (
            ""
            if settings.allowed_channels
            else " No channel is listed now, so they work everywhere."
        )
        await self._show(interaction, settings, f"Removed {channel.mention}.{note}")

    @roles.command(name="add", description="Let members with a role use the image commands")
    @app_commands.describe(role="The role to allow")
    async def role_add(self, interaction: discord.Interaction, role: discord.Role) -> None:
        settings = await self.bot.server_settings.allow_role(_guild_id(interaction), role.id)
        await self._show(interaction, settings, f"Members with {role.mention} may now use them.")

    @roles.command(name="remove", description="Remove a role from the allowed list")
    @app_commands.describe(role="The role to remove")
    async def role_remove(self, interaction: discord.Interaction, role: discord.Role) -> None:
        settings = await self.bot.server_settings.disallow_role(_guild_id(interaction), role.id)
        note = "" if settings.allowed_roles else " No role is listed now, so everyone may use them."
        await self._show(interaction, settings, f"Removed {role.mention}.{note}")

    @terms.command(name="add", description="Block prompts that contain a word or phrase")
    @app_commands.describe(term="A word or phrase; end it with * to match words starting so")
    async def term_add(
        self, interaction: discord.Interaction, term: app_commands.Range[str, 1, 60]
    ) -> None:
        settings = await self.bot.server_settings.add_blocked_term(_guild_id(interaction), term)
        await self._show(interaction, settings, "Added the term to the blocked list.")

    @terms.command(name="remove", description="Unblock a word or phrase")
    @app_commands.describe(term="The term to remove, as it was added")
    async def term_remove(
        self, interaction: discord.Interaction, term: app_commands.Range[str, 1, 60]
    ) -> None:
        store = self.bot.server_settings
        settings = await store.remove_blocked_term(_guild_id(interaction), term)
        await self._show(interaction, settings, "Removed the term from the blocked list.")

    @terms.command(name="list", description="List the blocked words and phrases (only you see it)")
    async def term_list(self, interaction: discord.Interaction) -> None:
        settings = await self.bot.server_settings.get(_guild_id(interaction))
        if not settings.blocked_terms:
            await self._reply(interaction, "No terms are blocked on this server.")
            return
        listed = ", ".join(f"`{t}`" for t in settings.blocked_terms)
        text = f"**Blocked terms ({len(settings.blocked_terms)})**\n{listed}"
        await self._reply(interaction, text if len(text) <= 2000 else text[:1999] + "…")

    @limits.command(name="set", description="Set this server's per-member image limits")
    @app_commands.describe(
        per_window="Images each member may make per window",
        window_minutes="The window's length in minutes",
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
        policy = settings.limit_policy(
            self.bot.settings.role_policies.default,
            may_exceed_default=self.bot.settings.server_limits_may_exceed_default,
        )
        await self._show(
            interaction,
            settings,
            f"Members now get {policy.window_images} images per "
            f"{policy.window_seconds // 60} minutes and {policy.daily_images} per day "
            "(never more than the bot's owner allows).",
        )

    @limits.command(name="clear", description="Go back to the bot's default limits")
    async def limits_clear(self, interaction: discord.Interaction) -> None:
        settings = await self.bot.server_settings.clear_limits(_guild_id(interaction))
        await self._show(interaction, settings, "Back to the bot's default limits.")

    @app_commands.command(name="modlog", description="Choose the channel that logs every image")
    @app_commands.describe(channel="The mod-log channel; leave empty to turn the mod-log off")
    async def modlog(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        guild_id = _guild_id(interaction)
        settings = await self.bot.server_settings.set_modlog(
            guild_id, channel.id if channel else None
        )
        done = f"The mod-log is now {channel.mention}." if channel else "The mod-log is off."
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
            else "The image commands work in any allowed channel."
        )
        await self._show(interaction, settings, done)

    @app_commands.command(name="block", description="Stop a member from using the image commands")
    @app_commands.describe(member="Who to block", duration="For how long")
    @app_commands.choices(duration=[app_commands.Choice(name=n, value=n) for n in BLOCK_DURATIONS])
    async def block(
        self, interaction: discord.Interaction, member: discord.Member, duration: str
    ) -> None:
        seconds = BLOCK_DURATIONS[duration]
        until = time.time() + seconds if seconds else None
        await self.bot.server_settings.block_member(
            _guild_id(interaction), self.bot.member_ids(member.id), until=until
        )
        when = f"until <t:{int(until)}:f>" if until else "until you unblock them"
        await self._reply(
            interaction, f"{member.mention} is blocked from the image commands {when}."
        )

    @app_commands.command(name="unblock", description="Let a blocked member use the commands again")
    @app_commands.describe(member="Who to unblock")
    async def unblock(self, interaction: discord.Interaction, member: discord.Member) -> None:
        await self.bot.server_settings.unblock_member(
            _guild_id(interaction), self.bot.member_ids(member.id)
        )
        await self._reply(interaction, f"{member.mention} may use the image commands again.")


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(ServerSettingsGroup(bot))
