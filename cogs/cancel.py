"""Cancel: the button on a waiting job's "thinking" message (bot.front.progress shows it).

A `DynamicItem`, so a click is understood from its custom_id alone, after a restart too (when
the job is long gone, and the member is told so). The member who asked, or a moderator (Manage
Messages), may cancel while the job waits its turn: it leaves the queue, its quota is refunded,
and the message says who cancelled it. Once the request is sent to the Images API the button
goes away: those images are being paid for, whatever the member does.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any

import discord

from bot.front import progress
from bot.front.i18n import text

if TYPE_CHECKING:
    from bot.front.client import ImagineBot

log = logging.getLogger(__name__)


class CancelJob(discord.ui.DynamicItem[discord.ui.Button[Any]], template=progress.CANCEL_TEMPLATE):
    """The Cancel button of a waiting job."""

    def __init__(self, job_id: int, owner_id: int) -> None:
        super().__init__(
            discord.ui.Button(
                label=text(None, "cancel.button"),
                custom_id=progress.cancel_id(job_id, owner_id),
            )
        )
        self.job_id = job_id
        self.owner_id = owner_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CancelJob:
        return cls(int(match["job"]), int(match["owner"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        locale = str(interaction.locale.value)
        clicker = interaction.user.id
        if clicker != self.owner_id and not interaction.permissions.manage_messages:
            await interaction.response.send_message(
                text(locale, "cancel.not_yours"), ephemeral=True
            )
            return
        running = progress.find(interaction.client, self.job_id)
        if running is None:
            await interaction.response.send_message(text(locale, "cancel.gone"), ephemeral=True)
            return
        if not await running.cancel(clicker):
            await interaction.response.send_message(text(locale, "cancel.too_late"), ephemeral=True)
            return
        log.info(
            "job %s cancelled while it waited (by its member: %s)",
            self.job_id,
            clicker == self.owner_id,
        )
        await interaction.response.edit_message(
            content=running.cancelled_text(clicker), view=None, attachments=[]
        )


async def setup(bot: ImagineBot) -> None:
    bot.add_dynamic_items(CancelJob)
