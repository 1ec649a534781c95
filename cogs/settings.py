"""/imagine-settings: server admins choose where the bot works, for whom, and how much.

The group needs Manage Server by default (Discord hides it from everyone else) and checks
the permission again on every use, since a server can re-grant the command to anyone in its
Integrations settings. Every answer is private to the admin, in the admin's language. Blocks
and unblocks are also reported to the mod-log (a `member_blocked` / `member_unblocked` event).
"""

from __future__ import annotations

import io
import time
from typing import TYPE_CHECKING, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import Listed, Problem, UserFacingError
from bot.front.explain import listed, say
from bot.front.i18n import Words, member_locale, text
from bot.limits.errors import period
from bot.limits.policy import LimitPolicy
from bot.moderation import InvalidSetting, ServerSettings, normalise_term
from bot.moderation.events import Unblocked
from cogs.cancel import queue_message, waiting_here
from cogs.modlog import BLOCK_DURATIONS, block_member, unblocked_text

if TYPE_CHECKING:
    from bot.front.client import ImagineBot

# What the bot needs in the mod-log channel: to see it, to post, to show the entry's embed and
# to attach the thumbnails.
# Their names are the catalogue's `settings.permission.<flag>` (Discord's own words).
MODLOG_PERMISSIONS = ("view_channel", "send_messages", "embed_links", "attach_files")
# Channels the commands can be allowed in: text and announcement channels, and forums (for the
# posts in them, which are threads).
Allowable = discord.TextChannel | discord.ForumChannel
LIST_LIMIT = 2000  # a message's characters; a longer term list is sent as a file
QUEUE_COMMAND = "imagine-settings queue"  # i18n: not for members
MAX_LISTED = 20  # channels or roles named by `show`; the rest are counted


def window(seconds: int) -> Problem:
    """'hour', '3 hours', '18 minutes', 'day': the window as in 'per <period>'."""
    if seconds > 60 and seconds % 60 and seconds % 3600:
        # A window lengthened to keep the default rate (see ServerSettings.limit_policy).
        return Problem("settings.period.about", {"count": round(seconds / 60)})
    return period(seconds)


def describe_limits(words: Words, policy: LimitPolicy) -> str:
    """'10 images per hour and 30 per day (UTC)'."""
    return say(
        words.locale,
        UserFacingError.of(
            "settings.limits",
            count=policy.window_images,
            period=window(policy.window_seconds),
            daily=policy.daily_images,
        ),
    )


def describe(words: Words, settings: ServerSettings, *, now: float, limits: LimitPolicy) -> str:
    """The server's settings as the admin reads them; `limits` are the ones members get."""
    channels = _listed(words, [f"<#{c}>" for c in sorted(settings.allowed_channels)])
    # The @everyone role has the server's id, and its mention renders as "@@everyone".
    roles = _listed(
        words,
        [
            "@everyone" if r == settings.guild_id else f"<@&{r}>"
            for r in sorted(settings.allowed_roles)
        ],
    )
    whose = "settings.show.own" if settings.has_limits else "settings.show.defaults"
    terms = len(settings.blocked_terms)
    blocked = sum(1 for until in settings.blocked_members.values() if until > now)
    modlog = settings.modlog_channel
    lines = [
        words("settings.show.title"),
        words("settings.show.works_in", channels=channels or words("settings.show.everywhere")),
        words("settings.show.who", roles=roles or words("settings.show.everyone")),
        words(
            "settings.show.nsfw_only.yes" if settings.nsfw_only else "settings.show.nsfw_only.no"
        ),
        words(f"actions.settings.show.{'owner' if settings.clicks_owner_only else 'anyone'}"),
        words("settings.show.limits", limits=describe_limits(words, limits), whose=words(whose)),
        words("settings.show.terms" if terms else "settings.show.no_terms", count=terms),
        words("settings.show.modlog", channel=f"<#{modlog}>")
        if modlog
        else words("settings.show.modlog_off"),
        words("settings.show.blocked", count=blocked),
    ]
    return "\n".join(lines)


def _listed(words: Words, mentions: list[str]) -> str:
    """Mentions separated by commas; past `MAX_LISTED`, counted (a message holds 2000 characters,
    and 50 channels with 25 roles would not fit)."""
    shown = tuple(mentions[:MAX_LISTED])
    return listed(words.locale, Listed(shown, None, hidden=len(mentions) - len(shown)))


def _guild_id(interaction: discord.Interaction) -> int:
    if interaction.guild_id is None:
        raise UserFacingError(UserFacingError.of("settings.server_only"))
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
        if interaction.guild_id is None:
            raise app_commands.CheckFailure(Words.of(interaction)("settings.not_admin"))
        command = interaction.command
        if command is not None and command.qualified_name == QUEUE_COMMAND:
            # The list's only use is its Cancel buttons: the same rule as theirs.
            if not interaction.permissions.manage_messages:
                raise app_commands.CheckFailure(Words.of(interaction)("queue.not_moderator"))
            return True
        if not interaction.permissions.manage_guild:
            raise app_commands.CheckFailure(Words.of(interaction)("settings.not_admin"))
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
        words = Words.of(interaction)
        shown = describe(words, settings, now=time.time(), limits=self._limits(settings))
        await self._reply(interaction, done + "\n\n" + shown)

    async def _remove(
        self,
        interaction: discord.Interaction,
        kind: Literal["channel", "role"],
        id_: int,
        name: str,
    ) -> None:
        """Take a channel or role off its allowed list, or say it was not on it."""
        store, guild_id, words = (
            self.bot.server_settings,
            _guild_id(interaction),
            Words.of(interaction),
        )
        before = await store.get(guild_id)
        if id_ not in (before.allowed_channels if kind == "channel" else before.allowed_roles):
            await self._reply(interaction, words("settings.not_listed", name=name))
            return
        if kind == "channel":
            settings = await store.disallow_channel(guild_id, id_)
            left = settings.allowed_channels
        else:
            settings = await store.disallow_role(guild_id, id_)
            left = settings.allowed_roles
        key = "settings.removed" if left else f"settings.{kind}.removed_last"
        await self._show(interaction, settings, words(key, name=name))

    @app_commands.command(name="show", description="Show this server's image bot settings")
    async def show(self, interaction: discord.Interaction) -> None:
        settings = await self.bot.server_settings.get(_guild_id(interaction))
        words = Words.of(interaction)
        shown = describe(words, settings, now=time.time(), limits=self._limits(settings))
        await self._reply(interaction, shown)

    @app_commands.command(
        name="queue", description="See this server's waiting requests and cancel them"
    )
    async def queue(self, interaction: discord.Interaction) -> None:
        words = Words.of(interaction)
        content, view = queue_message(words, waiting_here(self.bot, _guild_id(interaction)))
        await interaction.response.send_message(
            content,
            view=view or discord.utils.MISSING,
            ephemeral=True,
            allowed_mentions=discord.AllowedMentions.none(),
        )

    # --- channels and roles ---

    @channels.command(name="add", description="Let the image commands work in a channel")
    @app_commands.describe(channel="The channel or forum to allow (its threads and posts too)")
    async def channel_add(self, interaction: discord.Interaction, channel: Allowable) -> None:
        settings = await self.bot.server_settings.allow_channel(_guild_id(interaction), channel.id)
        only = len(settings.allowed_channels) == 1
        key = "settings.channel.added_only" if only else "settings.channel.added"
        await self._show(interaction, settings, Words.of(interaction)(key, channel=channel.mention))

    @channels.command(name="remove", description="Take a channel off the allowed list")
    @app_commands.describe(channel="The channel to take off the allowed list")
    async def channel_remove(self, interaction: discord.Interaction, channel: Allowable) -> None:
        await self._remove(interaction, "channel", channel.id, channel.mention)

    @roles.command(name="add", description="Let members with a role use the image commands")
    @app_commands.describe(role="The role to allow")
    async def role_add(self, interaction: discord.Interaction, role: discord.Role) -> None:
        settings = await self.bot.server_settings.allow_role(_guild_id(interaction), role.id)
        only = len(settings.allowed_roles) == 1 and not role.is_default()
        key = "settings.role.added_only" if only else "settings.role.added"
        await self._show(interaction, settings, Words.of(interaction)(key, role=role.mention))

    @roles.command(name="remove", description="Take a role off the allowed list")
    @app_commands.describe(role="The role to take off the allowed list")
    async def role_remove(self, interaction: discord.Interaction, role: discord.Role) -> None:
        await self._remove(interaction, "role", role.id, role.mention)

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
        await self._show(interaction, settings, Words.of(interaction)("settings.term.added"))

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
            await self._reply(interaction, Words.of(interaction)("settings.term.not_listed"))
            return
        settings = await store.remove_blocked_term(guild_id, term)
        await self._show(interaction, settings, Words.of(interaction)("settings.term.removed"))

    @terms.command(name="list", description="List the blocked words and phrases (only you see it)")
    async def term_list(self, interaction: discord.Interaction) -> None:
        settings = await self.bot.server_settings.get(_guild_id(interaction))
        terms, words = settings.blocked_terms, Words.of(interaction)
        if not terms:
            await self._reply(interaction, words("settings.terms.none"))
            return
        title = words("settings.terms.title", count=len(terms))
        text = title + "\n" + words("list.separator").join(f"`{term}`" for term in terms)
        if len(text) <= LIST_LIMIT:
            await self._reply(interaction, text)
            return
        listing = discord.File(io.BytesIO("\n".join(terms).encode()), filename="blocked-terms.txt")
        await interaction.response.send_message(
            words("settings.terms.as_file", title=title), file=listing, ephemeral=True
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
            raise UserFacingError(UserFacingError.of("settings.limits.none_given"))
        settings = await self.bot.server_settings.set_limits(
            _guild_id(interaction),
            window_images=per_window,
            daily_images=per_day,
            window_seconds=window_minutes * 60 if window_minutes else None,
        )
        limits, words = self._limits(settings), Words.of(interaction)
        done = words("settings.limits.set", limits=describe_limits(words, limits))
        asked = (
            settings.window_images or limits.window_images,
            settings.window_seconds or limits.window_seconds,
            settings.daily_images or limits.daily_images,
        )
        if asked != (limits.window_images, limits.window_seconds, limits.daily_images):
            default = self.bot.settings.role_policies.default
            done += words("settings.limits.capped", limits=describe_limits(words, default))
        await self._show(interaction, settings, done)

    @limits.command(name="clear", description="Go back to the bot's default limits")
    async def limits_clear(self, interaction: discord.Interaction) -> None:
        settings = await self.bot.server_settings.clear_limits(_guild_id(interaction))
        await self._show(interaction, settings, Words.of(interaction)("settings.limits.cleared"))

    # --- mod-log and age restriction ---

    @app_commands.command(
        name="modlog", description="Choose the channel that logs every image and refusal"
    )
    @app_commands.describe(channel="The mod-log channel; leave it out to turn the mod-log off")
    async def modlog(
        self, interaction: discord.Interaction, channel: discord.TextChannel | None = None
    ) -> None:
        guild_id, words = _guild_id(interaction), Words.of(interaction)
        if channel is not None:
            mine = channel.permissions_for(channel.guild.me)
            missing = [flag for flag in MODLOG_PERMISSIONS if not getattr(mine, flag)]
            if missing:
                names = tuple(UserFacingError.of(f"settings.permission.{f}") for f in missing)
                raise UserFacingError(
                    UserFacingError.of(
                        "settings.modlog.missing",
                        channel=channel.mention,
                        permissions=Listed(names, None),
                    )
                )
        settings = await self.bot.server_settings.set_modlog(
            guild_id, channel.id if channel else None
        )
        if channel is None:
            await self._show(interaction, settings, words("settings.modlog.off"))
            return
        done = words("settings.modlog.set", channel=channel.mention)
        if channel.permissions_for(channel.guild.default_role).view_channel:
            done += words("settings.modlog.public", channel=channel.mention)
        await self._show(interaction, settings, done)

    @app_commands.command(
        name="nsfw-only", description="Allow images only in age-restricted channels"
    )
    @app_commands.describe(enabled="True: only age-restricted channels; false: any allowed channel")
    async def nsfw_only(self, interaction: discord.Interaction, enabled: bool) -> None:
        settings = await self.bot.server_settings.set_nsfw_only(_guild_id(interaction), enabled)
        key = "settings.nsfw_only.on" if enabled else "settings.nsfw_only.off"
        await self._show(interaction, settings, Words.of(interaction)(key))

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
            words=Words.of(interaction),
        )
        await self._reply(interaction, text)

    @app_commands.command(name="unblock", description="Let a blocked member use the commands again")
    @app_commands.describe(member="Who to unblock")
    async def unblock(self, interaction: discord.Interaction, member: discord.Member) -> None:
        guild_id, key = _guild_id(interaction), self.bot.member_ids(member.id)
        store = self.bot.server_settings
        if await store.blocked_until(guild_id, key) is None:
            words = Words.of(interaction)
            await self._reply(interaction, words("settings.not_blocked", member=member.mention))
            return
        await store.unblock_member(guild_id, key)
        self.bot.dispatch(
            "member_unblocked",
            Unblocked(guild_id=guild_id, member_id=member.id, moderator_id=interaction.user.id),
        )
        await self._reply(interaction, unblocked_text(Words.of(interaction), member.id))


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(ServerSettingsGroup(bot))
