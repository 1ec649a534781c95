"""The result's images as upload files: re-encoded to the upload limit, split into messages.

Uploads send each image's bytes as they are, a slice at a time, and free them once posted.
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import aiohttp.payload
import discord
from aiohttp.abc import AbstractStreamWriter

from bot import imaging
from bot.images.results import ImagesResult

log = logging.getLogger(__name__)

FILES_PER_MESSAGE = 10
_WRITE_SLICE = 256 * 1024  # as aiohttp writes a BytesIO


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


async def shrink_files(files: Sequence[ImageFile]) -> list[ImageFile]:
    """`files` re-encoded to at most half their size each: for when Discord refused them as
    too large (413) although they were within the limit it gave. A file that can't shrink
    stays as it is."""
    shrunk: list[ImageFile] = []
    for file in files:
        try:
            data, extension = await asyncio.to_thread(
                imaging.fit_file_size, file.data, len(file.data) // 2
            )
        except ValueError:
            log.warning("could not shrink %s below half its size", file.filename)
            shrunk.append(file)
            continue
        stem = file.filename.rsplit(".", 1)[0]
        shrunk.append(ImageFile(f"{stem}.{extension}", data))
    return shrunk


def batches(files: Sequence[ImageFile]) -> list[list[ImageFile]]:
    """`files` in groups of at most FILES_PER_MESSAGE, one message each."""
    return [list(files[i : i + FILES_PER_MESSAGE]) for i in range(0, len(files), FILES_PER_MESSAGE)]
