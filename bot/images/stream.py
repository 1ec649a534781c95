"""A streamed image answer (`stream=true`): server-sent events, read as they arrive.

The events are the spec's `ImageGenStreamEvent` / `ImageEditStreamEvent` (openai-openapi.yaml):
`image_generation.partial_image` / `image_edit.partial_image` (a preview, with its 0-based
`partial_image_index`), then `image_generation.completed` / `image_edit.completed` (the final
image and its `usage`), and the spec's `ErrorEvent` (`event: error`, its data the API's
`Error` object; openai-python also accepts `{"error": {...}}`, and so does this).

What a fault means (the "maybe paid" rule of bot.transport): an `error` event is the server's
own verdict, no image was made, so it is not charged, but it is not sent again either (the
answer had begun); a stream that ends before its `completed` event, or an event that can't be
read, may have been carried out and billed: `malformed`, charged, never sent again.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeGuard

from bot.images.b64json import Base64
from bot.transport import APIFailure, stream_failure

log = logging.getLogger(__name__)

OnPartial = Callable[[bytes, int], Awaitable[object]]
"""Told each preview as it arrives: the picture's bytes and its `partial_image_index`."""

_PARTIAL, _COMPLETED = "partial_image", "completed"
_B64_KEY = re.compile(rb'"b64_json"\s*:\s*"')
_PREFIXES = {"generate": "image_generation.", "edit": "image_edit."}


@dataclass(frozen=True, slots=True)
class ServerEvent:
    """One server-sent event: its `event:` name (None when it had none) and its data, which is
    `raw` from `start` on (kept so, not sliced: an image event's data is megabytes)."""

    name: str | None
    raw: bytes
    start: int = 0

    @property
    def data(self) -> bytes:
        return self.raw[self.start :]


async def server_events(lines: AsyncIterator[bytes]) -> AsyncIterator[ServerEvent]:
    """The events of a `text/event-stream` body, by the HTML standard's rules: `field: value`
    lines, `data` lines joined by newlines, a blank line ends an event, `:` starts a comment.
    Kept as bytes: an event's data is megabytes of base64, not worth decoding to text."""
    name: str | None = None
    data: list[tuple[bytes, int]] = []
    async for line in lines:
        if not line:
            if data:
                yield _event(name, data)
            name, data = None, []
        elif line.startswith(b"data:"):
            data.append((line, 6 if line.startswith(b"data: ") else 5))
        elif line.startswith(b"event:"):
            name = line[6:].strip().decode("utf-8", errors="replace")
        # Comments (":..."), `id`, `retry` and unknown fields are ignored, as the standard says.
    if data:  # a last event without its blank line: the stream ended right after it
        yield _event(name, data)


def _event(name: str | None, data: list[tuple[bytes, int]]) -> ServerEvent:
    if len(data) == 1:
        return ServerEvent(name, *data[0])
    return ServerEvent(name, b"\n".join(line[start:] for line, start in data))


@dataclass(slots=True)
class ImageStream:
    """Reads one streamed answer of `operation` ("generate" or "edit"), telling `on_partial`
    each preview; `completed` holds the final event's data once it came. `before_result` is
    awaited when the final image is in, before it is kept (e.g. memory for it): waiting for
    that before the stream is read would hold back every preview too."""

    operation: str
    on_partial: OnPartial
    decode: Callable[[Base64], bytes]
    before_result: Callable[[], Awaitable[object]] | None = None
    completed: dict[str, Any] | None = None
    partials: int = 0

    async def read(self, lines: AsyncIterator[bytes]) -> None:
        """Read events until the `completed` one (bot.transport's `read_lines`)."""
        prefix = _PREFIXES[self.operation]
        async for event in server_events(lines):
            data = _json(event.raw, event.start)
            if event.name == "error" or ("error" in data and data.get("type") is None):
                error = data.get("error", data)
                raise stream_failure(error if isinstance(error, dict) else {})
            kind = data.get("type")
            if kind == prefix + _PARTIAL:
                await self._partial(data)
            elif kind == prefix + _COMPLETED:
                if not _is_text(data.get("b64_json")):
                    raise _malformed("a completed event without its image")
                if self.before_result is not None:
                    await self.before_result()
                self.completed = data
                return  # the final image: anything after it is not ours to wait for
            else:
                raise _malformed(f"an event of type {kind!r}")
        raise _malformed("a stream that ended before its completed event")

    async def _partial(self, data: dict[str, Any]) -> None:
        index, encoded = data.get("partial_image_index"), data.get("b64_json")
        if not isinstance(index, int) or isinstance(index, bool) or not _is_text(encoded):
            raise _malformed("a partial image event without its index or image")
        try:
            picture = self.decode(encoded)
        except ValueError:
            raise _malformed("a partial image that is not base64") from None
        self.partials += 1
        try:
            await self.on_partial(picture, index)
        except Exception:
            # A preview is a courtesy: failing to show one never costs the member the result.
            log.exception("could not show partial image %d", index)


def _json(raw: bytes, start: int) -> dict[str, Any]:
    """The JSON object in `raw` from `start` on, its `b64_json` string (if plain) as a view of
    `raw`: parsing megabytes of base64 as JSON text would cost more than all the rest."""
    found = _B64_KEY.search(raw, start)
    end = raw.find(b'"', found.end()) if found is not None else -1
    try:
        if found is None or end < 0 or raw.find(b"\\", found.end(), end) >= 0:
            data = json.loads(raw[start:])
        else:
            data = json.loads(raw[start : found.end()] + raw[end:])
            if isinstance(data, dict) and data.get("b64_json") == "":
                data["b64_json"] = memoryview(raw)[found.end() : end]
            else:
                data = json.loads(raw[start:])  # the key was somewhere else: the plain way
    except ValueError:
        raise _malformed("an event whose data is not JSON") from None
    if not isinstance(data, dict):
        raise _malformed("an event whose data is not a JSON object")
    return data


def _is_text(value: object) -> TypeGuard[str | memoryview]:
    return isinstance(value, str | memoryview) and len(value) > 0


def _malformed(what: str) -> APIFailure:
    log.warning("the Images API's stream broke off: %s", what)
    return APIFailure("malformed", status=200, maybe_paid=True)
