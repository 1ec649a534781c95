"""/help: what each command does and costs, how masks work, the member's allowance, the
server's rules that apply to them, and tips for prompts; private, with links to the README."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserFacingError
from bot.front.allowance import describe_usage
from bot.front.explain import explain
from bot.front.i18n import text
from bot.moderation import ServerSettings
from bot.service import Member
from cogs._common import member_of

if TYPE_CHECKING:
    from bot.front.client import ImagineBot

# The commands /help explains, in the order shown, and their lines (keys written out, so
# the catalogue checks find them); each has a README section of its name.
COMMANDS = {
    "imagine": "help.command.imagine",
    "edit": "help.command.edit",
    "vary": "help.command.vary",
    "quota": "help.command.quota",
}
# Discord's embed field value limit.
_FIELD_LIMIT = 1024


def help_links(base_url: str, commands: list[str]) -> discord.ui.View:
    """Link buttons to the README's section of each command (`#imagine`, ...)."""
    page = base_url.split("#", 1)[0]
    view = discord.ui.View(timeout=None)
    for name in commands:
        view.add_item(discord.ui.Button(label=f"/{name}", url=f"{page}#{name}"))
    return view


class Help(commands.Cog):
    """The /help command."""

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @app_commands.command(
        name="help", description="How to make images here: commands, masks, your allowance, tips"
    )
    @app_commands.guild_install()
    async def help(self, interaction: discord.Interaction) -> None:
        locale = str(interaction.locale)
        member = member_of(self.bot, interaction)
        offered = [name for name in COMMANDS if self.bot.tree.get_command(name) is not None]
        embed = discord.Embed(
            title=text(locale, "help.title"),
            description="\n".join(text(locale, COMMANDS[name]) for name in offered),
        )
        if "edit" in offered:
            masks = text(locale, "help.masks")
            if not self.bot.profile.mask_required:
                masks += "\n" + text(locale, "help.masks.optional")
            embed.add_field(name=text(locale, "help.masks.title"), value=masks, inline=False)
        usage = await self.bot.service.usage(member)
        allowance = text(locale, "help.allowance.cost") + "\n" + describe_usage(locale, usage)
        embed.add_field(
            name=text(locale, "help.allowance.title"), value=_fit(allowance), inline=False
        )
        embed.add_field(
            name=text(locale, "help.rules.title"),
            value=_fit(await self._rules(locale, member)),
            inline=False,
        )
        embed.add_field(
            name=text(locale, "help.tips.title"), value=text(locale, "help.tips"), inline=False
        )
        await interaction.response.send_message(
            embed=embed, view=help_links(self.bot.settings.help_base_url, offered), ephemeral=True
        )

    async def _rules(self, locale: str, member: Member) -> str:
        """The server's rules that apply to `member`, and whether they can use the commands
        where they asked."""
        settings = await self.bot.service.server_settings(member)
        lines = _server_rules(locale, settings) if member.guild_id is not None else []
        try:
            await self.bot.service.admit(member, None)
        except UserFacingError as refused:
            lines.append(text(locale, "help.rules.here_refused", reason=explain(locale, refused)))
        else:
            lines.append(text(locale, "help.rules.here_allowed"))
        return "\n".join(lines)


def _server_rules(locale: str, settings: ServerSettings | None) -> list[str]:
    """Where the commands work and for whom, on a server with `settings`."""
    if settings is None:
        settings = ServerSettings(0)
    channels = _mentions(settings.allowed_channels, "<#{}>")
    roles = _mentions(settings.allowed_roles, "<@&{}>")
    lines = [
        text(locale, "help.rules.channels", channels=channels)
        if channels
        else text(locale, "help.rules.every_channel"),
        text(locale, "help.rules.roles", roles=roles)
        if roles
        else text(locale, "help.rules.every_role"),
    ]
    if settings.nsfw_only:
        lines.insert(1, text(locale, "help.rules.nsfw_only"))
    if settings.blocked_terms:
        lines.append(text(locale, "help.rules.blocked_terms"))
    return lines


def _mentions(ids: frozenset[int], mention: str) -> str:
    """`ids` as Discord mentions (they render as names and never ping in a private reply)."""
    return ", ".join(mention.format(i) for i in sorted(ids))


def _fit(value: str) -> str:
    return value if len(value) <= _FIELD_LIMIT else value[: _FIELD_LIMIT - 1] + "…"


async def setup(bot: ImagineBot) -> None:
    cog = Help(bot)
    cog.help.allowed_contexts = app_commands.AppCommandContext(
        guild=True, dm_channel=bot.settings.allow_dms, private_channel=False
    )
    await bot.add_cog(cog)
