"""Posting finished images to Discord, so that once images exist they reach the member.

Images go out as files (never the API's expiring URLs), at most 10 to a message and each within
the interaction's upload limit (re-encoded when larger). An image command defers privately
(cogs/_common.start_job), so that a refusal found after the deferral is never seen by the
channel; its result is therefore posted as NEW public messages (interaction followups, the
caption naming who asked), and the private "thinking..." message is then removed.
When the interaction token has expired (15 minutes) or the webhook route fails, the images go
to the channel with a mention; when that fails too, to the member's DMs; as a last resort they
are saved to the data folder and the owner is told in the log.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import aiohttp
import discord

from bot.front.caption import CONTENT_LIMIT, Caption, shorten
from bot.front.files import ImageFile, batches, prepare_files, shrink_files
from bot.front.i18n import member_locale, text
from bot.front.interactions import RESULTS_POSTED, TOKEN_GONE
from bot.front.undelivered import save_rest
from bot.images.results import ImagesResult
from bot.retry import RetryPolicy

log = logging.getLogger(__name__)
T = TypeVar("T")

# Posting a result: a Discord 5xx or a network failure is tried again, briefly.
_POSTING = RetryPolicy(max_attempts=3, deadline=30.0, backoff_base=1.0, backoff_cap=4.0)
# How often a group refused as too large (413) is re-encoded at half its size and sent again.
_SHRINKS = 2
Send = Callable[[list[ImageFile]], Awaitable[discord.Message]]


class DeliveryFailed(Exception):
    """No route reached the member; the images were saved in `folder` for the owner."""

    def __init__(self, interaction_id: int, folder: Path) -> None:
        # For the log, as every label of this module (where, what): members read none of them.
        super().__init__(
            f"could not post the images of interaction {interaction_id}"  # i18n: not for members
        )
        self.folder = folder


async def _retry(send: Callable[[], Awaitable[T]], what: str) -> T:
    """Run `send`, retrying transient failures by the one retry policy (bot.transport);
    discord.py already waits out 429s itself."""
    deadline_at = _POSTING.deadline_from(time.monotonic())
    attempt = 0
    while True:
        attempt += 1
        try:
            return await send()
        except discord.HTTPException as exc:
            if exc.status < 500:
                raise
            failure: Exception = exc
            why = f"HTTP {exc.status}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            failure, why = exc, "network"
        wait = _POSTING.next_wait(attempt, deadline_at=deadline_at)
        if wait is None:
            raise failure
        log.warning("posting %s failed (%s); retrying in %.1f s", what, why, wait)
        await asyncio.sleep(wait)


async def _post(send: Send, group: list[ImageFile], what: str) -> discord.Message:
    """`send` the group, retried by `_retry`; when Discord refuses it as too large (413,
    40005), sent again re-encoded smaller, never as the same bytes."""
    shrinks = 0
    while True:
        try:
            return await _retry(functools.partial(send, group), what)
        except discord.HTTPException as exc:
            if exc.status != 413 or shrinks >= _SHRINKS:
                raise
        shrinks += 1
        log.warning("Discord refused %s as too large (413); re-encoding it smaller", what)
        group = await shrink_files(group)


async def deliver(
    interaction: discord.Interaction,
    result: ImagesResult,
    caption: Caption,
    *,
    data_dir: Path,
    view: discord.ui.View | None = None,
) -> discord.Message | None:
    """Post every image of `result` for the member who asked, by whatever route still works,
    with `view` (buttons) under the first message; return that message.

    Raises `DeliveryFailed` (after saving the images) only when nothing reached the member.
    If the job is cancelled (shutdown) while posting, the images not yet posted are saved.
    """
    stem = f"{caption.command}-{interaction.id}"
    files = await prepare_files(result, upload_limit=interaction.filesize_limit, stem=stem)
    groups = batches(files)
    content = caption.render()
    posted = _Posted(view=view)
    try:
        await _deliver_through_interaction(interaction, groups, content, posted)
        if posted.groups < len(groups):
            await _deliver_elsewhere(interaction, groups, content, caption, posted)
    except asyncio.CancelledError:
        stopping = "the bot was stopping"  # i18n: not for members
        await save_rest(interaction, groups[posted.groups :], data_dir, stopping)
        raise
    # Posted or not, the private note has done its job (a failure is told in a new message).
    await _take_down_thinking(interaction)
    if posted.groups < len(groups):
        rest = groups[posted.groups :]
        failed = "every route failed"  # i18n: not for members
        folder = await save_rest(interaction, rest, data_dir, failed)
        if posted.groups == 0:
            raise DeliveryFailed(interaction.id, folder)
    return posted.first


@dataclass(slots=True)
class _Posted:
    """How many groups of files reached the member so far, by any route."""

    groups: int = 0
    view: discord.ui.View | None = None
    first: discord.Message | None = None

    def sent(self, message: discord.Message) -> None:
        if self.groups == 0:
            self.first = message
        self.groups += 1


async def _deliver_through_interaction(
    interaction: discord.Interaction,
    groups: list[list[ImageFile]],
    content: str,
    posted: _Posted,
) -> None:
    """Post the groups as new public followups (the first with the caption and the view),
    until the token expires or a route fails.

    The private "thinking..." message is edited first: the first followup after a deferral
    would otherwise replace it, and stay as private as it is."""
    if interaction.is_expired() or not groups:
        return
    try:
        posting = text(member_locale(interaction), "result.posting")
        edit = functools.partial(_edit_thinking, interaction, posting)
        await _retry(edit, "the thinking note")  # i18n: not for members
        for index, group in enumerate(groups):
            send: Send = functools.partial(
                _send_followup,
                interaction,
                content=content if index == 0 else None,
                view=posted.view if index == 0 else None,
            )
            posted.sent(await _post(send, group, "the result"))  # i18n: not for members
            interaction.extras[RESULTS_POSTED] = True
    except discord.HTTPException as exc:
        if exc.code in TOKEN_GONE:
            log.info("interaction %s expired before its images were posted", interaction.id)
        else:
            log.warning("could not post through the interaction (%s); using the channel", exc)
    except (aiohttp.ClientError, TimeoutError):
        log.warning("could not post through the interaction; using the channel")


async def _deliver_elsewhere(
    interaction: discord.Interaction,
    groups: list[list[ImageFile]],
    content: str,
    caption: Caption,
    posted: _Posted,
) -> None:
    """Post the groups not posted yet in the channel (mentioning the member), else in their
    DMs."""
    member = interaction.user
    mention = discord.AllowedMentions(users=[member], everyone=False, roles=False)
    # In the caption's language: the asking member's.
    late = text(caption.locale, "result.ready_late", member=member.mention, command=caption.command)
    first_content = shorten(late + "\n" + content, CONTENT_LIMIT)
    channel_id = interaction.channel_id
    client = interaction.client
    targets: list[tuple[str, Callable[[], Awaitable[discord.abc.Messageable]]]] = []
    if channel_id is not None:
        in_channel = functools.partial(_resolved, client.get_partial_messageable(channel_id))
        targets.append(("the channel", in_channel))  # i18n: not for members
    targets.append(("direct messages", member.create_dm))  # i18n: not for members
    for where, destination in targets:
        try:
            channel = await destination()
            for index, group in enumerate(groups[posted.groups :]):
                first_text = first_content if index == 0 else None
                view = posted.view if posted.groups == 0 else None
                send = functools.partial(
                    _send_files, channel, content=first_text, mentions=mention, view=view
                )
                message = await _post(send, group, f"images to {where}")  # i18n: not for members
                posted.sent(message)
            log.info("delivered interaction %s's images to %s", interaction.id, where)
            return
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError):
            log.warning("could not deliver interaction %s's images to %s", interaction.id, where)


async def _take_down_thinking(interaction: discord.Interaction) -> None:
    """The images are posted: the member's private "thinking..." message has done its job.
    Only the member sees it, so a failure here leaves nothing in public."""
    if interaction.is_expired():
        return
    try:
        await interaction.delete_original_response()
    except (discord.HTTPException, aiohttp.ClientError, TimeoutError):
        log.info("could not take down the thinking message of interaction %s", interaction.id)


async def _edit_thinking(interaction: discord.Interaction, content: str) -> None:
    # Without the live preview's picture and the Cancel button: the note only says "posting".
    await interaction.edit_original_response(content=content, attachments=[], view=None)


async def _send_followup(
    interaction: discord.Interaction,
    group: list[ImageFile],
    content: str | None,
    view: discord.ui.View | None,
) -> discord.Message:
    return await interaction.followup.send(
        content=content if content is not None else discord.utils.MISSING,
        files=[f.to_file() for f in group],
        view=view if view is not None else discord.utils.MISSING,
        wait=True,
    )


async def _send_files(
    channel: discord.abc.Messageable,
    group: list[ImageFile],
    content: str | None,
    mentions: discord.AllowedMentions,
    view: discord.ui.View | None,
) -> discord.Message:
    files = [f.to_file() for f in group]
    if view is None:
        return await channel.send(content=content, files=files, allowed_mentions=mentions)
    return await channel.send(content=content, files=files, allowed_mentions=mentions, view=view)


async def _resolved(channel: discord.PartialMessageable) -> discord.abc.Messageable:
    return channel
