"""Cancel: the button on a waiting job's "thinking" message (bot.front.progress shows it), and
a moderator's list of the server's waiting jobs (`/imagine-settings queue`).

A `DynamicItem`, so a click is understood from its custom_id alone, after a restart too (when
the job is long gone, and the member is told so). The member who asked, or a moderator (Manage
Messages), may cancel while the job waits its turn: it leaves the queue, its quota is refunded,
and the message says who cancelled it. Once the request is sent to the Images API the button
goes away: those images are being paid for, whatever the member does.

The thinking message is private, so a moderator never sees its button: the moderator's list
carries the same buttons (marked `:listed`, so the click updates the list and the member's own
message is edited through the job's interaction), and a select menu per 25 jobs past what
buttons can show.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import discord

from bot.front import progress
from bot.front.i18n import Words, text

if TYPE_CHECKING:
    from bot.front.client import ImagineBot

log = logging.getLogger(__name__)

# A moderator's list: one button per job up to Discord's 5 rows of 5; past that, one select
# menu per row, of 25 jobs each.
MAX_BUTTONS = 25
MAX_OPTIONS = 25
MAX_ROWS = 5
MAX_LINES = 25  # jobs written out in the list's text (a message holds 2000 characters)
PICK_ID = "imagine:cancel-pick"
_PICK_TEMPLATE = PICK_ID + r":(?P<row>\d)"
_PICKED = re.compile(r"(?P<job>\d+):(?P<owner>\d+)")  # an option's value


@dataclass(frozen=True, slots=True)
class Waiting:
    """A job of this server waiting its turn: its place in line and its thinking message."""

    place: int
    job: progress.Progress

    @property
    def since(self) -> str:
        return f"<t:{int(self.job.interaction.created_at.timestamp())}:R>"


def waiting_here(bot: ImagineBot, guild_id: int) -> list[Waiting]:
    """This server's waiting jobs, next first: the queue's line matched with the jobs shown."""
    shown = {
        id(job.withdrawal): job
        for job in progress.live(bot)
        if job.interaction.guild_id == guild_id and not job.withdrawal.withdrawn
    }
    return [
        Waiting(waiting.place, shown[id(waiting.withdrawal)])
        for waiting in bot.limiter.waiting_jobs()
        if id(waiting.withdrawal) in shown
    ]


def queue_message(words: Words, jobs: list[Waiting]) -> tuple[str, discord.ui.View | None]:
    """A moderator's list: who waits, with which command, since when, at which place, and a
    way to cancel each (buttons up to `MAX_BUTTONS`, then select menus)."""
    if not jobs:
        return words("queue.empty"), None
    lines = [words("queue.title", count=len(jobs))]
    lines += [
        words(
            "queue.line",
            place=waiting.place,
            who=f"<@{waiting.job.owner_id}>",
            command=waiting.job.command,
            since=waiting.since,
        )
        for waiting in jobs[:MAX_LINES]
    ]
    view = discord.ui.View(timeout=None)
    if len(jobs) <= MAX_BUTTONS:
        for waiting in jobs:
            label = words("queue.button", place=waiting.place)
            view.add_item(CancelJob(waiting.job.job_id, waiting.job.owner_id, label=label))
    else:
        for row in range(MAX_ROWS):
            chunk = jobs[row * MAX_OPTIONS : (row + 1) * MAX_OPTIONS]
            if chunk:
                view.add_item(_pick_menu(words, row, chunk))
    unlisted = len(jobs) - min(len(jobs), MAX_LINES)
    if unlisted:
        reachable = min(len(jobs), MAX_ROWS * MAX_OPTIONS) - MAX_LINES
        lines.append(words("queue.more", count=unlisted, picked=max(0, reachable)))
    return "\n".join(lines), view


def _pick_menu(words: Words, row: int, chunk: list[Waiting]) -> discord.ui.Select[Any]:
    first, last = chunk[0].place, chunk[-1].place
    menu: discord.ui.Select[Any] = discord.ui.Select(
        custom_id=f"{PICK_ID}:{row}",
        placeholder=words("queue.pick", first=first, last=last),
        row=row,
    )
    for waiting in chunk:
        label = words(
            "queue.option",
            place=waiting.place,
            who=waiting.job.interaction.user.display_name,
            command=waiting.job.command,
        )
        menu.add_option(label=label[:100], value=f"{waiting.job.job_id}:{waiting.job.owner_id}")
    return menu


async def cancel_job(
    interaction: discord.Interaction, job_id: int, owner_id: int, *, listed: bool
) -> None:
    """A click on Cancel (on the thinking message, or `listed` on a moderator's list)."""
    locale = str(interaction.locale.value)
    clicker = interaction.user.id
    running = progress.find(interaction.client, job_id)
    if running is None:
        may = clicker == owner_id or interaction.permissions.manage_messages
        key = "cancel.gone" if may else "cancel.not_yours"
        await interaction.response.send_message(text(locale, key), ephemeral=True)
        return
    # Who asked and where come from the job itself, not from the custom_id: a moderator
    # cancels only in their own server.
    moderator = (
        interaction.permissions.manage_messages
        and interaction.guild_id == running.interaction.guild_id
    )
    if clicker != running.owner_id and not moderator:
        await interaction.response.send_message(text(locale, "cancel.not_yours"), ephemeral=True)
        return
    if not await running.cancel(clicker):
        await interaction.response.send_message(text(locale, "cancel.too_late"), ephemeral=True)
        return
    log.info(
        "job %s cancelled while it waited (by its member: %s, from a moderator's list: %s)",
        job_id,
        clicker == running.owner_id,
        listed,
    )
    said = running.cancelled_text(clicker)
    if not listed:
        await interaction.response.edit_message(content=said, view=None, attachments=[])
        return
    words = Words.of(interaction)
    done = words("queue.cancelled", who=f"<@{running.owner_id}>", command=running.command)
    bot = cast("ImagineBot", interaction.client)
    content, view = queue_message(words, waiting_here(bot, interaction.guild_id or 0))
    await interaction.response.edit_message(
        content=done + "\n\n" + content,
        view=view,
        allowed_mentions=discord.AllowedMentions.none(),
    )
    try:
        await running.interaction.edit_original_response(
            content=said,
            view=None,
            attachments=[],
            allowed_mentions=discord.AllowedMentions.none(),
        )
    except discord.HTTPException as exc:  # e.g. its token expired after 15 minutes
        log.info("could not tell job %s's member it was cancelled: %s", job_id, exc)


class CancelJob(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=progress.CANCEL_TEMPLATE + r"(?P<listed>:listed)?",
):
    """The Cancel button of a waiting job (`listed`: on a moderator's list)."""

    def __init__(self, job_id: int, owner_id: int, *, label: str | None = None) -> None:
        # A label means a moderator's list (the member's own button is drawn by progress).
        self.listed = label is not None
        custom_id = progress.cancel_id(job_id, owner_id) + (":listed" if self.listed else "")
        super().__init__(
            discord.ui.Button(label=label or text(None, "cancel.button"), custom_id=custom_id)
        )
        self.job_id = job_id
        self.owner_id = owner_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> CancelJob:
        label = text(None, "cancel.button") if match["listed"] else None
        return cls(int(match["job"]), int(match["owner"]), label=label)

    async def callback(self, interaction: discord.Interaction) -> None:
        await cancel_job(interaction, self.job_id, self.owner_id, listed=self.listed)


class PickToCancel(discord.ui.DynamicItem[discord.ui.Select[Any]], template=_PICK_TEMPLATE):
    """A moderator's select menu of waiting jobs, past what buttons can show."""

    def __init__(self, row: int) -> None:
        super().__init__(discord.ui.Select(custom_id=f"{PICK_ID}:{row}"))

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> PickToCancel:
        return cls(int(match["row"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        picked = _PICKED.fullmatch(self.item.values[0]) if self.item.values else None
        if picked is None:  # not a value the bot wrote
            await interaction.response.send_message(
                text(str(interaction.locale.value), "cancel.gone"), ephemeral=True
            )
            return
        await cancel_job(interaction, int(picked["job"]), int(picked["owner"]), listed=True)


async def setup(bot: ImagineBot) -> None:
    bot.add_dynamic_items(CancelJob, PickToCancel)
