"""The outbox: jobs a crash interrupted are resolved on start, owed images handed over later.

No command of its own: once the bot is ready, and then every few minutes, it resolves every
unfinished job no command of this process runs (`bot.front.handover`). What is still owed to a
member (images, or the news of a job a restart stopped) is also given privately once any
command of theirs has answered: every app command's completion here, and the image commands'
run (`cogs._common.run_job`, which also serves the result's buttons).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands, tasks

from bot.front.handover import offer_owed, resolve_interrupted
from bot.records import now_ms

if TYPE_CHECKING:
    from bot.front.client import ImagineBot

log = logging.getLogger(__name__)

# How often owed images are tried again (a DM that failed, a channel that was unreachable).
RETRY_MINUTES = 5.0


class Outbox(commands.Cog):
    """Resolves interrupted jobs on start and retries owed images in the background."""

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.resolve.start()

    async def cog_unload(self) -> None:
        self.resolve.cancel()

    @tasks.loop(minutes=RETRY_MINUTES)
    async def resolve(self) -> None:
        settled = await resolve_interrupted(self.bot)
        if settled:
            log.info(
                "resolved %d jobs that a restart or a failed delivery left unfinished", settled
            )
        days = self.bot.settings.result_actions_retention_days
        await self.bot.records.prune(now_ms=now_ms(), retention_ms=days * 86_400_000)

    @commands.Cog.listener()
    async def on_app_command_completion(
        self,
        interaction: discord.Interaction,
        _command: app_commands.Command[Any, ..., Any] | app_commands.ContextMenu,
    ) -> None:
        """Any command (/quota, /help, /imagine-settings, a context menu) answered: hand over
        what the member is owed, after that answer."""
        offer_owed(self.bot, interaction, self.bot.member_ids(interaction.user.id))

    @resolve.before_loop
    async def _when_ready(self) -> None:
        await self.bot.wait_until_ready()

    @resolve.error
    async def _failed(self, error: BaseException) -> None:
        log.error("the outbox's pass failed (%s); trying again later", type(error).__name__)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Outbox(bot))
