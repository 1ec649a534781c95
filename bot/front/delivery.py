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
from typing import Any, TypeVar

import aiohttp
import aiohttp.payload
import discord
from aiohttp.abc import AbstractStreamWriter

from bot import imaging
from bot.front.interactions import RESULTS_POSTED, TOKEN_GONE
from bot.images.results import ImagesResult

log = logging.getLogger(__name__)
T = TypeVar("T")

FILES_PER_MESSAGE = 10
CONTENT_LIMIT = 2000
DEFAULT_UPLOAD_LIMIT = 10 * 1024 * 1024  # Discord's default per-file limit since 2025-01
_ATTEMPTS = 3
_WRITE_SLICE = 256 * 1024  # as aiohttp writes a BytesIO


class DeliveryFailed(Exception):
    """No route reached the member; the images were saved in `folder` for the owner."""

    def __init__(self, interaction_id: int, folder: Path) -> None:
        super().__init__(f"could not post the images of interaction {interaction_id}")
        self.folder = folder


@dataclass(frozen=True, slots=True)
class ImageFile:
    """One image ready to upload."""

    filename: str
    data: bytes = field(repr=False)

    def to_file(self) -> discord.File:
        # A fresh File each attempt: discord.py closes the buffer after sending.
        _send_image_bytes_as_they_are()
        return discord.File(_ImageBytes(self.data), filename=self.filename)


class _ImageBytes(io.BytesIO):
    """An image's bytes as the file discord.py takes, which aiohttp sends without copying and
    which is freed as soon as it is posted.

    For a plain BytesIO, aiohttp takes `getbuffer()`, which copies a buffer shared with a bytes
    object (as a BytesIO made from one is), then `read()`s it in chunks, copying again. And
    `discord.File` swaps the file's `close` for a no-op while sending, then puts the file's own
    bound `close` back as an attribute of the file: a reference cycle that kept every posted
    image in memory until the garbage collector's next full pass (gigabytes under load).
    """

    def __setattr__(self, name: str, value: object) -> None:
        if name == "close" and getattr(value, "__self__", None) is self:
            self.__dict__.pop("close", None)  # its own close back: drop the swap instead
            return
        super().__setattr__(name, value)


class _ImagePayload(aiohttp.payload.Payload):
    """Sends an `_ImageBytes` from views of the bytes it was made from, a slice at a time."""

    _autoclose = True  # bytes in memory: nothing to close

    def __init__(self, value: _ImageBytes, *args: Any, **kwargs: Any) -> None:
        super().__init__(value, *args, **kwargs)
        # getvalue() of a BytesIO never written to is the very bytes object it was made from.
        self._view = memoryview(value.getvalue())[value.tell() :]
        self._size = len(self._view)

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return str(self._view, encoding, errors)

    async def as_bytes(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return bytes(self._view)

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self.write_with_length(writer, None)

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        view = self._view if content_length is None else self._view[:content_length]
        for start in range(0, len(view), _WRITE_SLICE):
            if start:
                await asyncio.sleep(0)  # the rest of the bot gets a turn between slices
            await writer.write(view[start : start + _WRITE_SLICE])


@functools.cache
def _send_image_bytes_as_they_are() -> None:
    """Tell aiohttp to send `_ImageBytes` with `_ImagePayload` (once, on first use)."""
    aiohttp.payload.register_payload(
        _ImagePayload, _ImageBytes, order=aiohttp.payload.Order.try_first
    )


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
        """The message text, at most `limit` characters; the footer always fits whole.

        The prompt and the model's rewrite of it share what room is left, so a long rewrite
        never pushes out the member's own words (or the footer).
        """
        footer = (
            f"-# /{self.command} · {self.size} · {self.model} · asked by <@{self.member_id}>"
            f" · {self.seconds:.1f} s"
        )
        note = shorten(self.note, limit // 4) if self.note else None
        prompt = _one_line(discord.utils.escape_markdown(self.prompt)) if self.prompt else ""
        revised = (
            _one_line(discord.utils.escape_markdown(self.revised_prompt))
            if self.revised_prompt
            else ""
        )
        revised_intro = "-# The model rewrote the prompt as: "
        # Room left once the footer, the note, the markup and the line breaks are counted.
        room = limit - len(footer) - (len(note) + 1 if note else 0)
        room -= (len("****") + 1 if prompt else 0) + (len(revised_intro) + 1 if revised else 0)
        prompt_room, revised_room = _share(room, len(prompt), len(revised))
        lines: list[str] = []
        if prompt and prompt_room > 1:
            lines.append("**" + shorten(prompt, prompt_room) + "**")
        if note:
            lines.append(note)
        if revised and revised_room > 1:
            lines.append(revised_intro + shorten(revised, revised_room))
        lines.append(footer)
        return shorten("\n".join(lines), limit)


def _share(room: int, first: int, second: int) -> tuple[int, int]:
    """Split `room` characters between two texts of these lengths: half each, and what one
    doesn't need goes to the other."""
    if first + second <= room:
        return first, second
    half = max(room, 0) // 2
    if first <= half:
        return first, room - first
    if second <= half:
        return room - second, second
    return half, room - half


def _one_line(text: str) -> str:
    return " ".join(text.split())


def shorten(text: str, limit: int) -> str:
    """`text`, cut to at most `limit` characters with an ellipsis."""
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


async def _retry(send: Callable[[], Awaitable[T]], what: str) -> T:
    """Run `send`, retrying transient failures; discord.py already waits out 429s itself."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return await send()
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
        await _save_rest(interaction, groups[posted.groups :], data_dir, "the bot was stopping")
        raise
    if posted.groups < len(groups):
        rest = groups[posted.groups :]
        folder = await _save_rest(interaction, rest, data_dir, "every route failed")
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
    """Replace the "thinking..." message with the first group, follow up with the rest,
    until the token expires or a route fails."""
    if interaction.is_expired():
        return
    try:
        for index, group in enumerate(groups):
            if index == 0:
                send = functools.partial(_edit_original, interaction, group, content, posted.view)
            else:
                send = functools.partial(_send_followup, interaction, group)
            posted.sent(await _retry(send, "the result"))
            interaction.extras[RESULTS_POSTED] = True
    except discord.HTTPException as exc:
        if exc.code in TOKEN_GONE:
            log.info("interaction %s expired before its images were posted", interaction.id)
        else:
            log.warning("could not post through the interaction (%s); using the channel", exc)
    except (aiohttp.ClientError, TimeoutError):
        log.warning("could not post through the interaction; using the channel")


async def _save_rest(
    interaction: discord.Interaction, groups: list[list[ImageFile]], data_dir: Path, why: str
) -> Path:
    folder = data_dir / "undelivered" / str(interaction.id)
    if groups:
        # Shielded: this also runs while the job is being cancelled.
        await asyncio.shield(asyncio.to_thread(_save, groups, folder))
        log.error(
            "could not post %d images of interaction %s (%s); saved them in %s",
            sum(len(group) for group in groups),
            interaction.id,
            why,
            folder,
        )
    return folder


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
    late = f"{member.mention}, your /{caption.command} images are ready."
    text = shorten(late + "\n" + content, CONTENT_LIMIT)
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
            for index, group in enumerate(groups[posted.groups :]):
                first_text = text if index == 0 else None
                view = posted.view if posted.groups == 0 else None
                message = await _retry(
                    functools.partial(_send_files, channel, group, first_text, mention, view),
                    f"images to {where}",
                )
                posted.sent(message)
            log.info("delivered interaction %s's images to %s", interaction.id, where)
            return
        except (discord.HTTPException, aiohttp.ClientError, TimeoutError):
            log.warning("could not deliver interaction %s's images to %s", interaction.id, where)


async def _edit_original(
    interaction: discord.Interaction,
    group: list[ImageFile],
    content: str,
    view: discord.ui.View | None,
) -> discord.Message:
    return await interaction.edit_original_response(
        content=content, attachments=[f.to_file() for f in group], view=view
    )


async def _send_followup(
    interaction: discord.Interaction, group: list[ImageFile]
) -> discord.Message:
    return await interaction.followup.send(files=[f.to_file() for f in group], wait=True)


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


def _save(groups: list[list[ImageFile]], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for group in groups:
        for image in group:
            (folder / image.filename).write_bytes(image.data)
    return folder


def elapsed_since(start: float) -> float:
    return time.monotonic() - start
