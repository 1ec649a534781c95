"""Finishing jobs their command could not: after a crash, and images still owed to a member.

On start (and then now and again, `cogs.outbox`), every unfinished job record that no command
of this process is running is resolved by how far it got (see README, "Crash recovery"):

- reserved, never sent: refunded, and the member told;
- sent, no answer: the API may have charged for it, so it counts (committed), and the member
  is told its images were lost;
- answer received: it counts, and the images kept in the outbox are handed over: into the
  "thinking" message (edited through the channel, as the bot's own message: the interaction
  token is never stored), else by DM. When both fail they stay in the outbox, and are offered
  privately (an ephemeral followup) after the member's next image command has posted.

Each "thinking" message left by a crash is edited to say what happened, so none hangs.
"""

from __future__ import annotations

import asyncio
import io
import logging
from typing import TYPE_CHECKING

import discord

from bot.front.i18n import Words
from bot.front.interactions import RESULTS_POSTED
from bot.front.tracking import outbox_of
from bot.records import RETENTION_MS, JobRecord, OwedImage, Stage, now_ms
from bot.state import is_outage

if TYPE_CHECKING:
    from bot.front.client import ImagineBot

log = logging.getLogger(__name__)

# How each job ended, as its record says (the log and the database read it; members never).
_REFUNDED = "refunded after a restart"  # i18n: not for members
_LOST = "charged, images lost"  # i18n: not for members
_DELIVERED_LATER = "delivered later"  # i18n: not for members
_NEVER_DELIVERED = "never delivered"  # i18n: not for members
_OFFERED = "offered at a later command"  # i18n: not for members


def owed_text(words: Words, count: int, asked_ms: int) -> str:
    """The note over owed images handed over later."""
    return words("recovery.owed", count=count, when=asked_ms // 1000)


def words_for(record: JobRecord) -> Words:
    """The words of the member a job's record belongs to: in the language they asked in
    (kept in the record at the start: `bot.front.tracking`), else English."""
    locale = record.details.get("locale")
    return Words(locale if isinstance(locale, str) else None)


async def resolve_interrupted(bot: ImagineBot) -> int:
    """Resolve every unfinished job no command of this process runs; how many were settled."""
    settled = 0
    records = await bot.records.unfinished()
    # Another process's jobs are left to it while it runs (several processes share Redis).
    gone = await bot.records.gone({record.owner for record in records})
    for record in records:
        if record.job_id in bot.live_jobs or record.owner not in gone:
            continue
        try:
            settled += await _resolve(bot, record)
        except Exception:
            log.exception("could not resolve interrupted job %s", record.job_id)
    return settled


async def _resolve(bot: ImagineBot, record: JobRecord) -> bool:
    store, at, words = bot.store, now_ms(), words_for(record)
    if record.stage is Stage.RESERVED:
        await store.refund(record.member_key, record.reservation_id, now_ms=at)
        await _tell(bot, record, words("recovery.refunded"))
        await _finish(bot, record, Stage.RESOLVED, outcome=_REFUNDED)
        return True
    # Sent or answered: the API may have charged, so the images count (idempotent).
    await store.commit(record.member_key, record.reservation_id, now_ms=at)
    owed = await asyncio.to_thread(outbox_of(bot).owed, record.job_id)
    theirs = record.owner and not record.owner.startswith(who(bot))
    if not owed and record.stage is Stage.ANSWERED and theirs:
        # Its images are in another process's outbox (its own data folder): its restart hands
        # them over. The images count meanwhile (committed above).
        return False
    if not owed:
        await _tell(bot, record, words("recovery.lost"))
        await _finish(bot, record, Stage.RESOLVED, outcome=_LOST)
        return True
    if await _hand_over(bot, record, owed):
        await _finish(bot, record, Stage.DELIVERED, outcome=_DELIVERED_LATER)
        return True
    if at - record.created_ms > RETENTION_MS:
        # Kept as long as job records are: past that the member never came back for them.
        log.warning("giving up on the %d images owed by job %s", len(owed), record.job_id)
        await _finish(bot, record, Stage.RESOLVED, outcome=_NEVER_DELIVERED)
        return True
    log.warning(
        "job %s still owes %d images; offered at the member's next command",
        record.job_id,
        len(owed),
    )
    return False


def who(bot: ImagineBot) -> str:
    """This process's name among the owners of job records, across restarts ("all/", ...)."""
    return bot.records.owner.partition("/")[0] + "/"


async def _finish(bot: ImagineBot, record: JobRecord, stage: Stage, *, outcome: str) -> None:
    await asyncio.to_thread(outbox_of(bot).discard, record.job_id)
    await bot.records.advance(record.job_id, stage, now_ms=now_ms(), outcome=outcome)


def _files(owed: list[OwedImage]) -> list[discord.File]:
    return [discord.File(io.BytesIO(image.data), filename=image.filename) for image in owed]


async def _edit_thinking(
    bot: ImagineBot, record: JobRecord, text: str, owed: list[OwedImage] | None = None
) -> bool:
    """Edit the job's "thinking" message through its channel; False when that fails."""
    if record.channel_id is None or record.message_id is None:
        return False
    if "undelivered" in record.details:
        return False  # this process already gave up on that message: the error handler told them
    message = bot.get_partial_messageable(record.channel_id).get_partial_message(record.message_id)
    try:
        await message.edit(content=text, attachments=_files(owed) if owed else [])
    except discord.HTTPException as exc:
        log.info("could not edit the message of job %s (HTTP %s)", record.job_id, exc.status)
        return False
    return True


async def _dm(bot: ImagineBot, record: JobRecord, text: str, owed: list[OwedImage]) -> bool:
    if record.discord_id is None:
        return False
    try:
        user = await bot.fetch_user(record.discord_id)
        await user.send(text, files=_files(owed))
    except discord.HTTPException as exc:
        log.info("could not DM the member of job %s (HTTP %s)", record.job_id, exc.status)
        return False
    return True


async def _tell(bot: ImagineBot, record: JobRecord, text: str) -> None:
    """Say what became of the job: in its "thinking" message, else by DM."""
    if not await _edit_thinking(bot, record, text):
        await _dm(bot, record, text, [])


async def _hand_over(bot: ImagineBot, record: JobRecord, owed: list[OwedImage]) -> bool:
    words = words_for(record)
    mention = f"<@{record.discord_id}> " if record.discord_id is not None else ""
    if await _edit_thinking(bot, record, mention + words("recovery.late"), owed):
        return True
    return await _dm(bot, record, owed_text(words, len(owed), record.created_ms), owed)


def offer_owed(bot: ImagineBot, interaction: discord.Interaction, member_key: str) -> None:
    """Hand the member, privately, any images still owed to them from earlier requests,
    beside the command they just used (in a task of its own: the command does not wait).

    Only once the command's own result is in its original message: Discord turns the first
    followup after a deferral into that (public) message, ephemeral flag or not.
    """
    if not interaction.extras.get(RESULTS_POSTED):
        return
    task = asyncio.create_task(_offer_owed(bot, interaction, member_key))
    bot.background.add(task)
    task.add_done_callback(bot.background.discard)


async def _offer_owed(bot: ImagineBot, interaction: discord.Interaction, member_key: str) -> None:
    try:
        records = await bot.records.unfinished(member_key=member_key)
        for record in records:
            if record.stage is not Stage.ANSWERED or record.job_id in bot.live_jobs:
                continue
            owed = await asyncio.to_thread(outbox_of(bot).owed, record.job_id)
            if not owed:
                continue
            text = owed_text(Words.of(interaction), len(owed), record.created_ms)
            await interaction.followup.send(text, files=_files(owed), ephemeral=True)
            await _finish(bot, record, Stage.DELIVERED, outcome=_OFFERED)
    except (discord.HTTPException, OSError) as exc:
        log.warning("could not offer owed images to a member: %s", type(exc).__name__)
    except Exception as exc:  # a task of its own: nothing above it would log this
        if is_outage(exc):
            log.warning("could not offer owed images: the state store is out of reach")
        else:
            log.exception("could not offer owed images to a member")
