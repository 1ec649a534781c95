"""/edit image mask prompt [n] [size] ...: change part of a picture (POST /images/edits)."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Unpack

import discord
from discord.app_commands import locale_str

from bot import validation
from bot.images.profiles import ModelProfile, Operation
from bot.service import Upload
from bot.validation import EditFields
from cogs._common import (
    ImageCommandCog,
    Option,
    check_inputs,
    model_options,
    prompt_option,
    run_job,
    upload_of,
)
from cogs.actions_record import replay_of

if TYPE_CHECKING:
    from bot.front.client import ImagineBot

# Two texts for one option: each has its own key in the catalogue (bot/front/translator.py).
MASK_HELP_REQUIRED = locale_str(
    "PNG, same size: transparent (or white) areas are what changes",
    key="command.edit.option.mask.required",
)
MASK_HELP_OPTIONAL = locale_str(
    "Optional PNG, same size: transparent (or white) areas are what changes",
    key="command.edit.option.mask.optional",
)


def mask_option(profile: ModelProfile, _operation: Operation) -> Option:
    """The mask: required where the model can't edit without one (DALL-E 2)."""
    if profile.mask_required:
        return Option("mask", discord.Attachment, MASK_HELP_REQUIRED)
    return Option("mask", discord.Attachment, MASK_HELP_OPTIONAL, None)


class Edit(ImageCommandCog):
    """The /edit command, offered only where the model can edit images."""

    def __init__(self, bot: ImagineBot) -> None:
        super().__init__(
            bot,
            "edit",
            "Change part of a picture: upload it, mark the area with a mask, describe the change",
            self.edit,
            operation="edit",
            offered=bot.profile.supports_edits,
            options=[
                Option("image", discord.Attachment, "The picture to edit (PNG, JPEG or WebP)"),
                mask_option,
                prompt_option("Describe the whole picture you want after the edit"),
                # Offered where the model takes them, with its choices (cogs/_common.py).
                *model_options(
                    "n",
                    "size",
                    "quality",
                    "background",
                    "output_format",
                    "input_fidelity",
                    "output_compression",
                ),
            ],
        )

    async def edit(
        self,
        interaction: discord.Interaction,
        *,
        image: discord.Attachment,
        prompt: str,
        mask: discord.Attachment | None = None,
        **fields: Unpack[EditFields],
    ) -> None:
        mask_upload = upload_of("mask", mask) if mask is not None else None
        await self.edit_uploads(interaction, upload_of("image", image), mask_upload, prompt, fields)

    async def edit_uploads(
        self,
        interaction: discord.Interaction,
        image_upload: Upload,
        mask_upload: Upload | None,
        prompt: str,
        fields: EditFields,
    ) -> None:
        """/edit of pictures already found (options, a result's image and a modal's mask)."""
        checked, options = check_inputs(
            self.bot,
            functools.partial(validation.check_edit, self.bot.profile, prompt=prompt, **fields),
            [image_upload, mask_upload],
        )
        make = functools.partial(
            self.bot.service.edit,
            image=image_upload,
            mask=mask_upload,
            prompt=checked,
            options=options,
        )
        replay = replay_of("edit", prompt, fields, [image_upload, mask_upload])
        await run_job(self.bot, interaction, "edit", checked, options, make, replay)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Edit(bot))
