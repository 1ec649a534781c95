"""/edit image mask prompt [n] [size] ...: change part of a picture (POST /images/edits)."""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING, Any

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
    prompt_option,
    start_job,
    upload_of,
)

if TYPE_CHECKING:
    from bot.front.client import ImagineBot

MASK_HELP_REQUIRED = "PNG, same size: transparent (or white) areas are what changes"
MASK_HELP_OPTIONAL = "Optional PNG, same size: transparent (or white) areas are what changes"


class Edit(commands.Cog):
    """The /edit command, offered only where the model can edit images."""

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        profile = bot.profile
        mask = (
            Option("mask", discord.Attachment, MASK_HELP_REQUIRED)
            if profile.mask_required
            else Option("mask", discord.Attachment, MASK_HELP_OPTIONAL, None)
        )
        self.command = build_command(
            "edit",
            "Change part of a picture: upload it, mark the area with a mask, describe the change",
            self.edit,
            [
                Option("image", discord.Attachment, "The picture to edit (PNG, JPEG or WebP)"),
                mask,
                prompt_option(profile, "Describe the whole picture you want after the edit"),
                *image_options(profile, "edit"),
            ],
            allow_dms=bot.settings.allow_dms,
        )

    async def cog_load(self) -> None:
        if self.bot.profile.supports_edits:
            self.bot.tree.add_command(self.command)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.command.name)

    async def edit(
        self,
        interaction: discord.Interaction,
        *,
        image: discord.Attachment,
        mask: discord.Attachment | None = None,
        **values: Any,
    ) -> None:
        service = self.bot.service
        image_upload = upload_of("image", image)
        mask_upload = upload_of("mask", mask) if mask is not None else None
        prompt, options = check_inputs(
            self.bot,
            functools.partial(validation.check_edit, self.bot.profile, **values),
            [image_upload, mask_upload],
        )
        member = member_of(self.bot, interaction)
        held = await start_job(self.bot, interaction, member, options.n, prompt)
        started = time.monotonic()
        result = await service.edit(
            member,
            held,
            image_upload,
            mask_upload,
            prompt,
            options,
            on_position=position_reporter(interaction),
        )
        await post_result(
            self.bot,
            interaction,
            result,
            command="edit",
            prompt=prompt,
            size=options.size,
            started=started,
        )


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(Edit(bot))
