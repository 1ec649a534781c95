"""/imagine prompt [n] [size] ...: images from a text prompt (POST /images/generations)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import discord
from discord.ext import commands

from bot import validation
from cogs._common import (
    build_command,
    image_options,
    member_of,
    position_reporter,
    post_result,
    prompt_option,
    start_job,
)

if TYPE_CHECKING:
    from bot.front.client import ImagineBot


class Imagine(commands.Cog):
    """The /imagine command."""

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        profile = bot.profile
        self.command = build_command(
            "imagine",
            "Create images from a description",
            self.imagine,
            [
                prompt_option(profile, "What to draw: describe the picture you want"),
                *image_options(profile, "generate"),
            ],
            allow_dms=bot.settings.allow_dms,
        )

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.command)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.command.name)

    async def imagine(self, interaction: discord.Interaction, **values: Any) -> None:
        prompt, options = validation.check_generation(self.bot.profile, **values)
        member = member_of(self.bot, interaction)
        held = await start_job(self.bot, interaction, member, options.n, prompt)
        started = time.monotonic()
        result = await self.bot.service.generate(
            member, held, prompt, options, on_position=position_reporter(interaction)
        )
        await post_result(
            self.bot,
            interaction,
            result,
            command="imagine",
            prompt=prompt,
            size=options.size,
            started=started,
        )


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Imagine(bot))
