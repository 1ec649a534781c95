"""Finishing jobs their command could not: after a crash, and images still owed to a member.

On start (and then now and again, `cogs.outbox`), every unfinished job record that no command
of this process is running is resolved by how far it got (see README, "Crash recovery"):

- reserved, never sent: refunded, and the member told;
- sent, no answer: the API may have charged for it, so it counts (committed), and the member
  is told its images were lost;
- answer received: it counts, and the images kept in the outbox are handed over.

The deferral is private, so the member's "thinking" message is reachable only through the
interaction's webhook, whose token (kept in the record while the job runs) works for 15
minutes. Within them, the private message says what happened, and owed images are posted
as a new public followup (as a result is); after them, images go to the channel with a
mention, and notices and images by DM. What no route delivered waits in the record (SETTLED,
or ANSWERED with its images in the outbox) and is given privately after the member's next
command, any command (`offer_owed`).
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import aiohttp
import discord

from bot.front.i18n import member_locale, text
from bot.front.interactions import RESULTS_POSTED
from bot.front.tracking import outbox_of
from bot.records import RETENTION_MS, JobRecord, OwedImage, Stage, now_ms
from bot.state import is_outage

if TYPE_CHECKING:
    from bot.front.client import ImagineBot

log = logging.getLogger(__name__)


def owed_text(locale: str | None, count: int, asked_ms: int) -> str:
    """The note over owed images handed over later, in the member's words."""
    return text(locale, "recovery.owed", count=count, when=asked_ms // 1000)


# What became of a job that the member could not be told about yet (the record's `notice`):
# what their private message says within the token's life (a catalogue key), and the
# catalogue's later words (`restart.later.<notice>`).
NOTICES = {"refunded": "recovery.refunded", "lost": "recovery.lost"}
# How a job ended, as its record says (the log and the database read it; members never).
_DELIVERED_LATER = "delivered later"  # i18n: not for members
_NEVER_DELIVERED = "never delivered"  # i18n: not for members
_OFFERED_LATER = "offered at a later command"  # i18n: not for members
# Discord honours an interaction's token for 15 minutes; a little less, to finish in time.
TOKEN_LIFE_MS = 15 * 60_000 - 30_000
# Responses after which a followup is a message of its own (not the command's answer).
_ANSWERED = frozenset(
    {
        discord.InteractionResponseType.channel_message,
        discord.InteractionResponseType.deferred_message_update,
        discord.InteractionResponseType.message_update,
    }
)
# Set in `interaction.extras` once owed things were looked for after it: once per command.
_OFFERED = "imagine_owed_offered"
_FAILED_ROUTE = (discord.HTTPException, aiohttp.ClientError, TimeoutError)


async def resolve_interrupted(bot: ImagineBot) -> int:
    """Resolve every unfinished job no command of this process runs; how many were settled."""
    settled = 0
    records = await bot.records.unfinished()
    # Another process's jobs are left to it while it runs (several processes share Redis).
    gone = await bot.records.gone({record.owner for record in records})
    for record in records:
        if record.owner not in gone:
            continue
        with _claimed(bot, record.job_id) as mine:
            if not mine:
                continue
            try:
                settled += await _resolve(bot, record)
            except Exception:
                log.exception("could not resolve interrupted job %s", record.job_id)
    return settled


@contextmanager
def _claimed(bot: ImagineBot, job_id: str) -> Iterator[bool]:
    """Hold the job while it is being finished here, so that no other pass or offer of this
    process hands the same images over twice (a running command holds its own job)."""
    if job_id in bot.live_jobs:
        yield False
        return
    bot.live_jobs.add(job_id)
    try:
        yield True
    finally:
        bot.live_jobs.discard(job_id)


async def _resolve(bot: ImagineBot, record: JobRecord) -> bool:
    store, at = bot.store, now_ms()
    if record.stage is Stage.SETTLED:
        return await _still_untold(bot, record)
    if record.stage is Stage.RESERVED:
        await store.refund(record.member_key, record.reservation_id, now_ms=at)
        return await _tell(bot, record, "refunded")
    # Sent or answered: the API may have charged, so the images count (idempotent).
    await store.commit(record.member_key, record.reservation_id, now_ms=at)
    owed = await asyncio.to_thread(outbox_of(bot).owed, record.job_id)
    theirs = record.owner and not record.owner.startswith(who(bot))
    if not owed and record.stage is Stage.ANSWERED and theirs:
        # Its images are in another process's outbox (its own data folder): its restart hands
        # them over. The images count meanwhile (committed above).
        return False
    if not owed:
        return await _tell(bot, record, "lost")
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
    # The record first: a crash in between leaves spare files, never a record owing nothing.
    await bot.records.advance(record.job_id, stage, now_ms=now_ms(), outcome=outcome)
    await asyncio.to_thread(outbox_of(bot).discard, record.job_id)


async def _tell(bot: ImagineBot, record: JobRecord, notice: str) -> bool:
    """Say what became of the job (`notice`): in the member's private "thinking" message,
    else by DM, else at their next command (the record is SETTLED until then)."""
    outcome = f"{notice} after a restart"  # i18n: not for members
    told = await _edit_thinking(bot, record, text(_locale(record), NOTICES[notice]))
    if not told:
        told = await _dm(bot, record, later_text(record, notice), [])
    if told:
        await _finish(bot, record, Stage.RESOLVED, outcome=outcome)
        return True
    await bot.records.advance(
        record.job_id, Stage.SETTLED, now_ms=now_ms(), notice=notice, outcome=outcome
    )
    log.info("job %s %s; its member will be told at their next command", record.job_id, outcome)
    return True


async def _still_untold(bot: ImagineBot, record: JobRecord) -> bool:
    """A settled job whose member no route reached: it waits for their next command (a DM
    that failed once is not tried every few minutes: DMs closed stay closed), until records
    expire."""
    if now_ms() - record.created_ms <= RETENTION_MS:
        return False
    notice = record.details.get("notice")
    outcome = f"{notice}, never told"  # i18n: not for members
    await _finish(bot, record, Stage.RESOLVED, outcome=outcome)
    return True


def later_text(record: JobRecord, notice: str) -> str:
    """What became of the job, told away from its "thinking" message, in the member's words."""
    return text(
        _locale(record),
        f"restart.later.{notice}",
        command=record.command,
        asked=f"<t:{record.created_ms // 1000}:f>",
    )


def _locale(record: JobRecord) -> str | None:
    locale = record.details.get("locale")
    return locale if isinstance(locale, str) else None


def _files(owed: list[OwedImage]) -> list[discord.File]:
    return [discord.File(io.BytesIO(image.data), filename=image.filename) for image in owed]


def _webhook(bot: ImagineBot, record: JobRecord) -> discord.Webhook | None:
    """The job's interaction webhook while its token still works, else None."""
    if record.token is None or record.interaction_id is None or bot.application_id is None:
        return None
    asked_ms = int(discord.utils.snowflake_time(record.interaction_id).timestamp() * 1000)
    if now_ms() - asked_ms > TOKEN_LIFE_MS:
        return None
    return discord.Webhook.partial(bot.application_id, record.token, client=bot)


async def _edit_thinking(bot: ImagineBot, record: JobRecord, content: str) -> bool:
    """Edit the member's private "thinking" message (its preview and Cancel button go);
    False when that fails or its token is over."""
    webhook = _webhook(bot, record)
    if webhook is None or record.message_id is None:
        return False
    if "undelivered" in record.details:
        return False  # this process already gave up on that message: the error handler told them
    try:
        await webhook.edit_message(record.message_id, content=content, attachments=[], view=None)
    except _FAILED_ROUTE as exc:
        log.info("could not edit the message of job %s (%s)", record.job_id, _why(exc))
        return False
    return True


async def _dm(bot: ImagineBot, record: JobRecord, content: str, owed: list[OwedImage]) -> bool:
    if record.discord_id is None:
        return False
    try:
        user = await bot.fetch_user(record.discord_id)
        await user.send(content, files=_files(owed))
    except _FAILED_ROUTE as exc:
        log.info("could not DM the member of job %s (%s)", record.job_id, _why(exc))
        return False
    return True


def _why(exc: BaseException) -> str:
    return f"HTTP {exc.status}" if isinstance(exc, discord.HTTPException) else type(exc).__name__


async def _hand_over(bot: ImagineBot, record: JobRecord, owed: list[OwedImage]) -> bool:
    """Post the owed images where a result goes: a public followup while the token lives,
    else the channel (mentioning the member), else their DMs."""
    if await _follow_up(bot, record, owed):
        return True
    dated = owed_text(_locale(record), len(owed), record.created_ms)
    if record.discord_id is not None and record.channel_id is not None:
        channel = bot.get_partial_messageable(record.channel_id)
        try:
            await channel.send(
                f"<@{record.discord_id}> {dated}",
                files=_files(owed),
                allowed_mentions=_mentioning(record.discord_id),
            )
        except _FAILED_ROUTE as exc:
            log.info("could not post job %s's images in its channel (%s)", record.job_id, _why(exc))
        else:
            return True
    return await _dm(bot, record, dated, owed)


async def _follow_up(bot: ImagineBot, record: JobRecord, owed: list[OwedImage]) -> bool:
    """As a delivery does: the private note first (the first followup after a deferral would
    otherwise replace it, private), then the images publicly, then the note goes."""
    webhook = _webhook(bot, record)
    if webhook is None or record.discord_id is None or record.message_id is None:
        return False
    # A delivery of this process that gave up already replaced the note with its apology.
    noted = "undelivered" in record.details
    if not noted and not await _edit_thinking(bot, record, text(_locale(record), "result.posting")):
        return False
    try:
        await webhook.send(
            f"<@{record.discord_id}> {text(_locale(record), 'recovery.late')}",
            files=_files(owed),
            allowed_mentions=_mentioning(record.discord_id),
            wait=True,
        )
    except _FAILED_ROUTE as exc:
        log.info("could not post job %s's images as a followup (%s)", record.job_id, _why(exc))
        return False
    if noted:
        return True
    try:
        await webhook.delete_message(record.message_id)
    except _FAILED_ROUTE:
        log.info("could not take down the thinking message of job %s", record.job_id)
    return True


def _mentioning(discord_id: int) -> discord.AllowedMentions:
    return discord.AllowedMentions(users=[discord.Object(discord_id)], everyone=False, roles=False)


def offer_owed(bot: ImagineBot, interaction: discord.Interaction, member_key: str) -> None:
    """Give the member, privately, what is still owed to them from earlier requests (images,
    or the news of a job a restart stopped), after the command they just used, once its own
    answer is in place: in a task of its own, the command does not wait. Once per command."""
    if interaction.extras.get(_OFFERED):
        return
    interaction.extras[_OFFERED] = True
    task = asyncio.create_task(_offer_owed(bot, interaction, member_key))
    bot.background.add(task)
    task.add_done_callback(bot.background.discard)


async def _offer_owed(bot: ImagineBot, interaction: discord.Interaction, member_key: str) -> None:
    try:
        records = [
            record
            for record in await bot.records.unfinished(member_key=member_key)
            if record.stage in (Stage.ANSWERED, Stage.SETTLED)
        ]
        if not records or not await _answer_is_in(interaction):
            return
        for record in records:
            with _claimed(bot, record.job_id) as mine:
                if mine:
                    await _offer(bot, interaction, record)
    except (*_FAILED_ROUTE, OSError) as exc:
        log.warning("could not offer what is owed to a member: %s", type(exc).__name__)
    except Exception as exc:  # a task of its own: nothing above it would log this
        if is_outage(exc):
            log.warning("could not offer what is owed: the state store is out of reach")
        else:
            log.exception("could not offer what is owed to a member")


async def _answer_is_in(interaction: discord.Interaction) -> bool:
    """Whether the command's own answer is in place, so that a followup is a message of its
    own: Discord turns the first followup after a deferral into the (deferred) answer."""
    if interaction.extras.get(RESULTS_POSTED) or interaction.response.type in _ANSWERED:
        return True
    if interaction.response.type is not discord.InteractionResponseType.deferred_channel_message:
        return False  # not answered, or by a modal: no followup would reach the member
    try:
        original = await interaction.original_response()
    except _FAILED_ROUTE:
        return False
    return not original.flags.loading


async def _offer(bot: ImagineBot, interaction: discord.Interaction, record: JobRecord) -> None:
    if record.stage is Stage.SETTLED:
        notice = str(record.details.get("notice", ""))
        if notice in NOTICES:
            await interaction.followup.send(later_text(record, notice), ephemeral=True)
        outcome = f"{notice}, told at a later command"  # i18n: not for members
        await _finish(bot, record, Stage.RESOLVED, outcome=outcome)
        return
    owed = await asyncio.to_thread(outbox_of(bot).owed, record.job_id)
    if not owed:
        return
    # Counted before it is given (idempotent): a crash may have left it only reserved.
    await bot.store.commit(record.member_key, record.reservation_id, now_ms=now_ms())
    content = owed_text(member_locale(interaction), len(owed), record.created_ms)
    await interaction.followup.send(content, files=_files(owed), ephemeral=True)
    await _finish(bot, record, Stage.DELIVERED, outcome=_OFFERED_LATER)
