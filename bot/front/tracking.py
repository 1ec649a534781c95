"""A command's job record, from the deferral to the delivery (the front's half of bot.records).

The record is keyed by the interaction's id, which is also the outbox folder's name, so the
last-resort save in `bot.front.undelivered` lands where the record points. The deferral is
private, and a private message is reachable only through the interaction's webhook: the
record keeps the token (a secret for its 15 minutes, dropped once the job is settled) and the
"thinking" message's id, so that a restart can say there what happened, in the member's
language (also kept).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import discord

from bot.front.i18n import member_locale
from bot.limits import Reservation
from bot.records import JobRecord, Outbox, Stage, TrackedJob, now_ms
from bot.service import Member

if TYPE_CHECKING:
    from bot.front.client import ImagineBot

log = logging.getLogger(__name__)


async def track_job(
    bot: ImagineBot,
    interaction: discord.Interaction,
    member: Member,
    held: Reservation,
    *,
    command: str,
) -> TrackedJob:
    """Store the job's first record (reserved), before the deferral: a crash from here on
    finds the reservation to refund. The "thinking" message's id follows (`deferred`)."""
    record = JobRecord(
        job_id=str(interaction.id),
        member_key=member.key,
        command=command,
        reservation_id=held.id,
        images=held.images,
        created_ms=now_ms(),
        updated_ms=now_ms(),
        discord_id=member.discord_id,
        guild_id=interaction.guild_id,
        channel_id=interaction.channel_id,
        interaction_id=interaction.id,
        token=interaction.token,
        # The member's language, for what a restart tells them (bot.front.handover).
        details={"locale": member_locale(interaction)},
        owner=bot.records.owner,
    )
    tracked = await TrackedJob.begin(bot.records, outbox_of(bot), record)
    bot.live_jobs.add(tracked.job_id)
    return tracked


async def settle_job(bot: ImagineBot, tracked: TrackedJob, *, failed: bool) -> None:
    """The command's task is over: delivered, owed (images kept in the outbox), or failed and
    settled in place (refunded or charged, and the member told by the error handler)."""
    try:
        owed = await tracked.owed()
        if owed:
            await tracked.still_owed(owed, "no route reached the member")
        elif failed:
            await tracked.finish(Stage.RESOLVED, outcome="failed")
        else:
            await tracked.delivered()
    finally:
        bot.live_jobs.discard(tracked.job_id)


def settle_soon(bot: ImagineBot, tracked: TrackedJob, *, failed: bool) -> asyncio.Task[None]:
    """`settle_job` in a task of its own: it runs to its end even when the command's task
    is being cancelled (shutdown), and the drain waits for it."""
    task = asyncio.create_task(settle_job(bot, tracked, failed=failed))
    bot.background.add(task)
    task.add_done_callback(bot.background.discard)
    return task


def outbox_of(bot: ImagineBot) -> Outbox:
    """The bot's outbox, under its data folder."""
    return Outbox(bot.settings.data_dir)
