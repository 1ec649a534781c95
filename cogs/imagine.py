"""/imagine prompt [n] [size] ...: images from a text prompt (POST /images/generations)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Unpack

import discord

from bot import validation
from bot.validation import GenerationFields
from cogs._common import ImageCommandCog, model_options, prompt_option, run_job
from cogs.actions_record import replay_of

if TYPE_CHECKING:
    from bot.front.client import ImagineBot


class Imagine(ImageCommandCog):
    """The /imagine command."""

    def __init__(self, bot: ImagineBot) -> None:
        super().__init__(
            bot,
            "imagine",
            "Create images from a description",
            self.imagine,
            operation="generate",
            options=[
                prompt_option("What to draw: describe the picture you want"),
                # Offered where the model takes them, with its choices (cogs/_common.py).
                *model_options(
                    "n",
                    "size",
                    "quality",
                    "style",
                    "background",
                    "output_format",
                    "moderation",
                    "output_compression",
                ),
            ],
        )

    async def imagine(
        self, interaction: discord.Interaction, *, prompt: str, **fields: Unpack[GenerationFields]
    ) -> None:
        checked, options = validation.check_generation(self.bot.profile, prompt=prompt, **fields)
        make = functools.partial(self.bot.service.generate, prompt=checked, options=options)
        replay = replay_of("imagine", prompt, fields, ())
        await run_job(self.bot, interaction, "imagine", checked, options, make, replay)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Imagine(bot))
