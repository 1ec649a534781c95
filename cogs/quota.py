"""/quota: how many images the member has left, and when more free up."""

from __future__ import annotations

from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.front.allowance import describe_usage
from bot.front.i18n import member_locale, text
from cogs._common import member_of

if TYPE_CHECKING:
    from bot.front.client import ImagineBot


class Quota(commands.Cog):
    """The /quota command."""

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    @app_commands.command(name="quota", description="See how many images you have left")
    @app_commands.guild_install()
    async def quota(self, interaction: discord.Interaction) -> None:
        usage = await self.bot.service.usage(member_of(self.bot, interaction))
        locale = member_locale(interaction)
        await interaction.response.send_message(
            text(locale, "quota.title") + "\n" + describe_usage(locale, usage), ephemeral=True
        )


async def setup(bot: ImagineBot) -> None:
    cog = Quota(bot)
    cog.quota.allowed_contexts = app_commands.AppCommandContext(
        guild=True, dm_channel=bot.settings.allow_dms, private_channel=False
    )
    await bot.add_cog(cog)
