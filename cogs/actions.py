"""Re-roll, Vary k and Edit k under a result (cogs/actions_items.py), and the Edit modal.

A click is a new request of the member who CLICKS, run by the same code as the typed command
(/imagine, /vary, /edit): the same access rules, screening, quota and `user` value, charged
to them, refused privately before anything is sent upstream. A server may limit the clicks to
the member who asked (`/imagine-settings result-buttons`). Vary k and Edit k take image k from
the clicked message itself (Discord sends it with the click, its links freshly signed); Re-roll
reads the job's record (`replay`, kept RESULT_ACTIONS_RETENTION_DAYS) and asks Discord for
fresh links to its input pictures (POST /attachments/refresh-urls): no picture is kept here.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, cast

import discord
from discord import app_commands
from discord.ext import commands

from bot.front.handover import offer_owed
from bot.front.i18n import member_locale, text
from bot.front.replies import reply_privately
from bot.records import now_ms
from bot.service import Upload
from cogs.actions_form import EditForm, EditModal, edit_form
from cogs.actions_items import Click, ResultButton, ResultSelect

if TYPE_CHECKING:
    from bot.front.client import ImagineBot
    from cogs.edit import Edit
    from cogs.imagine import Imagine
    from cogs.vary import Vary

log = logging.getLogger(__name__)

DAY_MS = 86_400_000
# Vary k makes as many images as the picture's message holds, at most this many (the clicker
# pays for them; Midjourney's grid is four).
VARY_AT_MOST = 4


def images_of(message: discord.Message) -> list[Upload]:
    """The pictures on a message: image attachments, then image embeds (their Discord copy)."""
    found = [
        Upload("image", a.url, a.filename, a.size, a.content_type)
        for a in message.attachments
        # Discord's type when it gives one (a video has a width too), else its dimensions.
        if (a.content_type or "").startswith("image/")
        or (a.content_type is None and a.width is not None)
    ]
    for embed in message.embeds:
        for part in (embed.image, embed.thumbnail):
            url = part.proxy_url or part.url
            if url:
                found.append(Upload("image", url, url.rsplit("/", 1)[-1].split("?")[0], 0))
                break
    return found


class Actions(commands.Cog):
    """Answers clicks on a result's controls, and the Edit modal's submits."""

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot

    async def clicked(self, interaction: discord.Interaction, click: Click) -> None:
        """A click on Re-roll, Vary k or Edit k (or the select holding them)."""
        await self.run(interaction, self._clicked(interaction, click))

    async def run(self, interaction: discord.Interaction, work: Awaitable[None]) -> None:
        """Run a click's `work` as the tree runs a command: refused while restarting, waited
        for by the shutdown's drain, and every error answered as the command's would be."""
        if self.bot.closing:
            await reply_privately(interaction, text(member_locale(interaction), "front.restarting"))
            cast(Any, work).close()
            return
        task = asyncio.current_task()
        if task is not None:
            self.bot.jobs.add(task, interaction)
        try:
            await work
        except Exception as exc:  # noqa: BLE001 (the tree's handler logs and answers it)
            command = cast(Any, self.bot.get_cog("Imagine")).command
            error = app_commands.CommandInvokeError(command, exc)
            await self.bot.tree.on_error(cast(Any, interaction), error)
        else:
            # Whatever is still owed to the clicker follows, as after any command (once).
            offer_owed(self.bot, interaction, self.bot.member_ids(interaction.user.id))

    async def _clicked(self, interaction: discord.Interaction, click: Click) -> None:
        locale = member_locale(interaction)
        if not await self._may_click(interaction, click):
            await reply_privately(interaction, text(locale, "actions.owner_only"))
            return
        if click.verb == "roll":
            await self.reroll(interaction, click.job_id)
            return
        pictures = images_of(interaction.message) if interaction.message is not None else []
        if not 1 <= click.number <= len(pictures):
            await reply_privately(interaction, text(locale, "actions.image_gone"))
            return
        if click.verb == "vary":
            await self.vary(interaction, pictures[click.number - 1], len(pictures))
        else:
            message_id = interaction.message.id if interaction.message is not None else 0
            await self.open_edit(
                interaction, message_id, click.number, len(pictures), job_id=click.job_id
            )

    async def _may_click(self, interaction: discord.Interaction, click: Click) -> bool:
        if interaction.user.id == click.owner_id or interaction.guild_id is None:
            return True
        settings = await self.bot.server_settings.get(interaction.guild_id)
        return not settings.clicks_owner_only

    def _count(self, pictures: int) -> dict[str, Any]:
        """The `n` of a Vary or Edit of one picture of a message holding `pictures`."""
        if self.bot.profile.n_max == 1:
            return {}
        return {"n": max(1, min(pictures, VARY_AT_MOST, self.bot.profile.n_max))}

    async def vary(self, interaction: discord.Interaction, picture: Upload, pictures: int) -> None:
        """/vary of `picture`, as the member who clicked."""
        cog = cast("Vary", self.bot.get_cog("Vary"))
        await cog.vary_upload(interaction, picture, cast(Any, self._count(pictures)))

    async def open_edit(
        self,
        interaction: discord.Interaction,
        message_id: int,
        number: int,
        pictures: int,
        *,
        job_id: int | None = None,
    ) -> None:
        """Open the Edit form for picture `number` of a message holding `pictures`, its
        prompt filled in from the job when known."""
        prompt = ""
        if job_id is not None:
            record = await self.bot.records.get(str(job_id))
            replay = record.details.get("replay") if record is not None else None
            if isinstance(replay, Mapping) and isinstance(replay.get("prompt"), str):
                prompt = replay["prompt"]
        n = self._count(pictures).get("n", 0)
        form = EditForm(message_id, number, n)
        modal = EditModal(form, self.bot.profile, member_locale(interaction), prompt)
        await interaction.response.send_modal(modal)

    async def reroll(self, interaction: discord.Interaction, job_id: int) -> None:
        """The job's command again: same prompt, options and input pictures (fresh links)."""
        locale = member_locale(interaction)
        record = await self.bot.records.get(str(job_id))
        replay = record.details.get("replay") if record is not None else None
        kept_ms = self.bot.settings.result_actions_retention_days * DAY_MS
        if (
            record is None
            or not isinstance(replay, Mapping)
            or now_ms() - record.created_ms > kept_ms
        ):
            days = self.bot.settings.result_actions_retention_days
            await reply_privately(interaction, text(locale, "actions.expired", days=days))
            return
        fields = dict(replay.get("fields") or {})
        inputs = await self._refreshed(replay.get("inputs") or [])
        prompt = replay.get("prompt")
        command = replay.get("command")
        if command == "imagine":
            imagine = cast("Imagine", self.bot.get_cog("Imagine"))
            await imagine.imagine(interaction, prompt=str(prompt), **fields)
        elif command == "vary" and inputs:
            vary = cast("Vary", self.bot.get_cog("Vary"))
            await vary.vary_upload(interaction, inputs[0], cast(Any, fields))
        elif command == "edit" and inputs:
            edit = cast("Edit", self.bot.get_cog("Edit"))
            mask = next((u for u in inputs if u.what == "mask"), None)
            await edit.edit_uploads(interaction, inputs[0], mask, str(prompt), cast(Any, fields))
        else:
            await reply_privately(interaction, text(locale, "actions.unavailable"))

    async def _refreshed(self, inputs: Sequence[Any]) -> list[Upload]:
        """The job's input pictures with links Discord signed just now."""
        uploads = [Upload(**i) for i in inputs if isinstance(i, Mapping)]
        if not uploads:
            return []
        route = discord.http.Route("POST", "/attachments/refresh-urls")
        try:
            answer = await self.bot.http.request(
                route, json={"attachment_urls": [u.url for u in uploads]}
            )
        except discord.HTTPException as exc:
            # The kept links may still be valid; if not, the download says so to the member.
            log.warning("Discord refused to refresh attachment links (HTTP %s)", exc.status)
            answer = None
        fresh = {
            item.get("original"): item.get("refreshed")
            for item in (answer or {}).get("refreshed_urls", [])
            if isinstance(item, Mapping)
        }
        return [
            Upload(u.what, str(fresh.get(u.url) or u.url), u.filename, u.size, u.content_type)
            for u in uploads
        ]

    @commands.Cog.listener()
    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """The Edit form's submits, all of them here: the form's custom_id says which picture
        of which message, so a form opened before a restart is answered after it too."""
        if interaction.type is not discord.InteractionType.modal_submit:
            return
        form = edit_form(interaction.data)
        if form is not None:
            await self.run(interaction, self._edit_submitted(interaction, form))

    async def _edit_submitted(self, interaction: discord.Interaction, form: EditForm) -> None:
        """/edit of the form's picture, read again from its message (fresh links), with the
        typed prompt and the uploaded mask, as the member who submitted it."""
        locale = member_locale(interaction)
        channel = self.bot.get_partial_messageable(interaction.channel_id or 0)
        try:
            message = await channel.fetch_message(form.message_id)
        except (discord.NotFound, discord.Forbidden):
            message = None
        pictures = images_of(message) if message is not None else []
        if not 1 <= form.number <= len(pictures):
            await reply_privately(interaction, text(locale, "actions.image_gone"))
            return
        edit = cast("Edit", self.bot.get_cog("Edit"))
        fields = {"n": form.n} if form.n else {}
        picture = pictures[form.number - 1]
        await edit.edit_uploads(interaction, picture, form.mask, form.prompt, cast(Any, fields))


async def setup(bot: ImagineBot) -> None:
    bot.add_dynamic_items(ResultButton, ResultSelect)
    await bot.add_cog(Actions(bot))
