"""What goes over the wire for bot.transport: a request's body, watched while it is sent, and
a streamed answer's lines as they arrive.

The transport decides from `WatchedBody.sent` whether a failed request may have been carried
out (and billed): once the body's last byte was handed to the connection, the server may act
on it whatever becomes of its answer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Protocol

import aiohttp
import aiohttp.payload
from aiohttp.abc import AbstractStreamWriter

from bot.downloads import DownloadTooLarge

Fields = Mapping[str, str | int | bool]


class Upload(Protocol):
    """A file to send in a multipart body."""

    @property
    def data(self) -> bytes: ...

    @property
    def filename(self) -> str: ...

    @property
    def content_type(self) -> str: ...


def request_body(fields: Fields, files: Sequence[tuple[str, Upload]]) -> aiohttp.payload.Payload:
    """A JSON body, or a fresh multipart form (aiohttp empties a form once it is sent)."""
    if not files:
        return aiohttp.payload.BytesPayload(
            json.dumps(fields).encode(), content_type="application/json"
        )
    form = aiohttp.FormData()
    for name, value in fields.items():
        # A form field is text: a flag goes as JSON spells it (`stream=true`), not as "True".
        form.add_field(name, json.dumps(value) if isinstance(value, bool) else str(value))
    for name, upload in files:
        form.add_field(
            name, upload.data, filename=upload.filename, content_type=upload.content_type
        )
    return form()


class WatchedBody(aiohttp.payload.Payload):
    """A request body that notes when its last byte was handed to the connection: from then
    on the server may carry the request out, whatever becomes of its answer."""

    def __init__(self, inner: aiohttp.payload.Payload) -> None:
        super().__init__(inner, headers=inner.headers)
        self._inner = inner
        self._size = inner.size
        self.sent = False

    def decode(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        return self._inner.decode(encoding, errors)

    async def write(self, writer: AbstractStreamWriter) -> None:
        await self._inner.write(writer)
        self.sent = True

    async def write_with_length(
        self, writer: AbstractStreamWriter, content_length: int | None
    ) -> None:
        await self._inner.write_with_length(writer, content_length)
        self.sent = True


async def answer_lines(content: aiohttp.StreamReader, max_bytes: int) -> AsyncIterator[bytes]:
    """The body's lines (without their line ends) as they arrive, `max_bytes` in all.

    aiohttp's own `readline` refuses lines over 128 KiB, and a streamed image is one line of
    megabytes of base64, so the lines are split here: each chunk is searched once, and a
    line's pieces are joined once, when its end arrives. Raises DownloadTooLarge past the cap.
    """
    pieces: list[bytes] = []
    total = 0
    async for chunk in content.iter_any():
        total += len(chunk)
        if total > max_bytes:
            raise DownloadTooLarge(max_bytes)
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            pieces.append(chunk[start:end])
            line = pieces[0] if len(pieces) == 1 else b"".join(pieces)
            pieces.clear()
            yield line.removesuffix(b"\r")
            start = end + 1
        if start < len(chunk):
            pieces.append(chunk[start:] if start else chunk)
    if pieces:
        yield b"".join(pieces).removesuffix(b"\r")
