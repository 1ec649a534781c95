"""/vary image [n] [size]: variations of a picture (POST /images/variations).

Models without a variations endpoint (the GPT image models) get an edit of the picture that
asks for a variation, and the reply says so.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Literal, Unpack

import discord

from bot import validation
from bot.service import Upload
from bot.validation import EditFields
from cogs._common import (
    ImageCommandCog,
    Option,
    check_inputs,
    model_options,
    run_job,
    upload_of,
)
from cogs.actions_record import replay_of

if TYPE_CHECKING:
    from bot.front.client import ImagineBot


class Vary(ImageCommandCog):
    """The /vary command: variations, or an edit asking for one where the model has none."""

    def __init__(self, bot: ImagineBot) -> None:
        self.operation: Literal["variation", "edit"] = (
            "variation" if bot.profile.supports_variations else "edit"
        )
        super().__init__(
            bot,
            "vary",
            "Make variations of a picture",
            self.vary,
            operation=self.operation,
            offered=bot.profile.supports_variations or bot.profile.supports_edits,
            options=[
                Option("image", discord.Attachment, "The picture to vary (PNG, JPEG or WebP)"),
                # Offered where the model takes them, with its choices (cogs/_common.py).
                *model_options("n", "size", "quality", "output_format"),
            ],
        )

    async def vary(
        self,
        interaction: discord.Interaction,
        *,
        image: discord.Attachment,
        **fields: Unpack[EditFields],
    ) -> None:
        await self.vary_upload(interaction, upload_of("image", image), fields)

    async def vary_upload(
        self, interaction: discord.Interaction, upload: Upload, fields: EditFields
    ) -> None:
        """/vary of a picture already found (an option, a result's image, a message's)."""
        options = check_inputs(
            self.bot,
            functools.partial(
                validation.check_variation, self.bot.profile, operation=self.operation, **fields
            ),
            [upload],
        )
        make = functools.partial(self.bot.service.create_variation, image=upload, options=options)
        replay = replay_of("vary", None, fields, [upload])
        await run_job(self.bot, interaction, "vary", None, options, make, replay)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Vary(bot))
