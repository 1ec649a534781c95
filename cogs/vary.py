"""/vary image [n] [size]: variations of a picture (POST /images/variations).

Models without a variations endpoint (the GPT image models) get an edit of the picture that
asks for a variation, and the reply says so.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any, Literal

import discord
from discord.ext import commands

from bot import validation
from cogs._common import (
    Option,
    build_command,
    check_inputs,
    image_options,
    member_of,
    position_reporter,
    post_result,
    start_job,
    upload_of,
)

if TYPE_CHECKING:
    from bot.front.client import ImagineBot


class Vary(commands.Cog):
    """The /vary command."""

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        profile = bot.profile
        operation: Literal["variation", "edit"] = (
            "variation" if profile.supports_variations else "edit"
        )
        self.operation = operation
        self.command = build_command(
            "vary",
            "Make variations of a picture",
            self.vary,
            [
                Option("image", discord.Attachment, "The picture to vary (PNG, JPEG or WebP)"),
                *(
                    o
                    for o in image_options(profile, operation)
                    if o.name in ("n", "size", "quality", "output_format")
                ),
            ],
            allow_dms=bot.settings.allow_dms,
        )

    async def cog_load(self) -> None:
        if self.bot.profile.supports_variations or self.bot.profile.supports_edits:
            self.bot.tree.add_command(self.command)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.command.name)

    async def vary(
        self, interaction: discord.Interaction, *, image: discord.Attachment, **values: Any
    ) -> None:
        service = self.bot.service
        upload = upload_of("image", image)
        options = check_inputs(
            self.bot,
            functools.partial(
                validation.check_variation, self.bot.profile, operation=self.operation, **values
            ),
            [upload],
        )
        member = member_of(self.bot, interaction)
        held = await start_job(self.bot, interaction, member, options.n)
        started = time.monotonic()
        variation = await service.create_variation(
            member, held, upload, options, on_position=position_reporter(interaction)
        )
        await post_result(
            self.bot,
            interaction,
            variation.result,
            command="vary",
            prompt=None,
            size=options.size,
            started=started,
            note=variation.note,
        )


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Vary(bot))
