"""Posting finished images to Discord, so that once images exist they reach the member.

Images go out as files (never the API's expiring URLs), at most 10 to a message and each within
the interaction's upload limit (re-encoded when larger). The deferred "thinking..." message is
replaced by the first batch; later batches are followups. When the interaction token has
expired (15 minutes) or the webhook route fails, the images go to the channel with a mention;
when that fails too, to the member's DMs; as a last resort they are saved to the data folder
and the owner is told in the log.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import discord

from bot import imaging
from bot.images.results import ImagesResult

log = logging.getLogger(__name__)

FILES_PER_MESSAGE = 10
CONTENT_LIMIT = 2000
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024  # Discord's default per-file limit since 2025-01
# Discord codes meaning the interaction token can no longer be used.
_TOKEN_GONE = {10015, 10062, 50027}
_ATTEMPTS = 3


@dataclass(frozen=True, slots=True)
class ImageFile:
    """One image ready to upload."""

    filename: str
    data: bytes = field(repr=False)

    def to_file(self) -> discord.File:
        # A fresh File each attempt: discord.py closes the buffer after sending.
        return discord.File(io.BytesIO(self.data), filename=self.filename)


@dataclass(frozen=True, slots=True)
class Caption:
    """What the result message says about the job."""

    command: str
    prompt: str | None
    revised_prompt: str | None
    size: str
    model: str
    member_id: int
    seconds: float
    note: str | None = None

    def render(self, *, limit: int = CONTENT_LIMIT) -> str:
        footer = (
            f"-# /{self.command} · {self.size} · {self.model} · asked by <@{self.member_id}>"
            f" · {self.seconds:.1f} s"
        )
        lines: list[str] = []
        if self.note:
            lines.append(self.note)
        if self.revised_prompt:
            lines.append(f"-# The model rewrote the prompt as: {_one_line(self.revised_prompt)}")
        budget = limit - len(footer) - sum(len(line) + 1 for line in lines) - 8
        if self.prompt:
            lines.insert(
                0,
                "**"
                + _shorten(_one_line(discord.utils.escape_markdown(self.prompt)), budget)
                + "**",
            )
        text = "\n".join([*lines, footer])
        return _shorten(text, limit)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _shorten(text: str, limit: int) -> str:
    if limit <= 1:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def prepare_files(result: ImagesResult, *, upload_limit: int, stem: str) -> list[ImageFile]:
    """The result's images as files, each re-encoded if larger than `upload_limit`."""
    files: list[ImageFile] = []
    for index, image in enumerate(result.images, start=1):
        data, extension = image.data, image.filename_extension
        if len(data) > upload_limit:
            try:
                data, extension = await asyncio.to_thread(imaging.fit_file_size, data, upload_limit)
            except ValueError:
                # Posting it as it is may still work through another route (a channel with
                # a higher limit, DMs); failing that it is saved, never dropped.
                log.warning("could not shrink image %d below %d bytes", index, upload_limit)
        files.append(ImageFile(f"{stem}-{index}.{extension}", data))
    return files


def batches(files: Sequence[ImageFile]) -> list[list[ImageFile]]:
    return [list(files[i : i + FILES_PER_MESSAGE]) for i in range(0, len(files), FILES_PER_MESSAGE)]


async def _retry(send: Callable[[], Awaitable[object]], what: str) -> None:
    """Run `send`, retrying transient failures; discord.py already waits out 429s itself."""
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            await send()
            return
        except discord.HTTPException as exc:
            transient = exc.status >= 500 and attempt < _ATTEMPTS
            if not transient:
                raise
            log.warning("posting %s failed (HTTP %s); retrying", what, exc.status)
        except (aiohttp.ClientError, TimeoutError):
            if attempt == _ATTEMPTS:
                raise
            log.warning("posting %s failed (network); retrying", what)
        await asyncio.sleep(0.5 * 2**attempt)


async def deliver(
    interaction: discord.Interaction, result: ImagesResult, caption: Caption, *, data_dir: Path
) -> None:
    """Post every image of `result` for the member who asked, by whatever route still works."""
    stem = f"{caption.command}-{interaction.id}"
    files = await prepare_files(result, upload_limit=interaction.filesize_limit, stem=stem)
    groups = batches(files)
    content = caption.render()
    sent = 0
    if not interaction.is_expired():
        try:
            for index, group in enumerate(groups):
                if index == 0:
                    send = functools.partial(_edit_original, interaction, group, content)
                else:
                    send = functools.partial(_send_followup, interaction, group)
                await _retry(send, "the result")
                sent += 1
            return
        except discord.HTTPException as exc:
            if exc.code in _TOKEN_GONE:
                log.info("interaction %s expired before its images were posted", interaction.id)
            else:
                log.warning("could not post through the interaction (%s); using the channel", exc)
        except (aiohttp.ClientError, TimeoutError):
            log.warning("could not post through the interaction; using the channel")
    await _deliver_elsewhere(interaction, groups[sent:], content, caption, data_dir=data_dir)


async def _deliver_elsewhere(
    interaction: discord.Interaction,
    groups: list[list[ImageFile]],
    content: str,
    caption: Caption,
    *,
    data_dir: Path,
) -> None:
    member = interaction.user
    mention = discord.AllowedMentions(users=[member], everyone=False, roles=False)
    late = f"{member.mention}, your /{caption.command} images are ready."
    text = _shorten(late + "\n" + content, CONTENT_LIMIT)
    channel_id = interaction.channel_id
    client = interaction.client
    targets: list[tuple[str, Callable[[], Awaitable[discord.abc.Messageable]]]] = []
    if channel_id is not None:
        targets.append(
            ("the channel", lambda: _resolved(client.get_partial_messageable(channel_id)))
        )
    targets.append(("direct messages", member.create_dm))
    for where, destination in targets:
        try:
            channel = await destination()
            for index, group in enumerate(groups):
                first_text = text if index == 0 else None
                await _retry(
                    functools.partial(_send_files, channel, group, first_text, mention),
                    f"images to {where}",
                )
            log.info("delivered interaction %s's images to %s", interaction.id, where)
            return
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError):
            log.warning("could not deliver interaction %s's images to %s", interaction.id, where)
    folder = await asyncio.to_thread(_save, groups, data_dir / "undelivered" / str(interaction.id))
    log.error(
        "could not deliver the images of interaction %s anywhere; saved them in %s",
        interaction.id,
        folder,
    )


async def _edit_original(
    interaction: discord.Interaction, group: list[ImageFile], content: str
) -> None:
    await interaction.edit_original_response(
        content=content, attachments=[f.to_file() for f in group]
    )


async def _send_followup(interaction: discord.Interaction, group: list[ImageFile]) -> None:
    await interaction.followup.send(files=[f.to_file() for f in group], wait=True)


async def _send_files(
    channel: discord.abc.Messageable,
    group: list[ImageFile],
    content: str | None,
    mentions: discord.AllowedMentions,
) -> None:
    await channel.send(
        content=content, files=[f.to_file() for f in group], allowed_mentions=mentions
    )


async def _resolved(channel: discord.PartialMessageable) -> discord.abc.Messageable:
    return channel


def _save(groups: list[list[ImageFile]], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for group in groups:
        for image in group:
            (folder / image.filename).write_bytes(image.data)
    return folder


def elapsed_since(start: float) -> float:
    return time.monotonic() - start
