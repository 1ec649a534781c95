"""The fake Images API's streamed answers (`stream=true`), exactly as openai-openapi.yaml says.

`text/event-stream`: for each image, `partial_images` events `image_generation.partial_image`
(or `image_edit.partial_image`) with their `partial_image_index`, then one `...completed`
event with the image and its `usage`; each event is `event: <type>` and `data: <JSON>`, then a
blank line. Faults (`StreamFault`) play what can go wrong on the way: an `error` event (the
spec's `ErrorEvent`, its data the API's `Error` object), a stream that stops before its
`completed` event (cleanly, or with the connection cut), and an event that is not JSON.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from aiohttp import web

StreamFault = Literal["error_event", "stops_early", "connection_cut", "malformed_event"]

_PREFIXES = {"generate": "image_generation", "edit": "image_edit"}
_EMPTY_B64 = b'"b64_json":""'
_BASE64_ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
_SIZES = frozenset({"1024x1024", "1024x1536", "1536x1024", "auto"})


@dataclass(frozen=True, slots=True)
class StreamPlan:
    """One streamed answer: what to send, how fast, and what goes wrong (if anything)."""

    operation: str
    body: Mapping[str, Any]
    encoded: str  # the image, base64
    usage: Mapping[str, Any]
    request_id: str
    fault: StreamFault | None = None
    event_delay: float = 0.0  # seconds between events
    error_code: str = "server_error"
    # Told when each partial image event has been written: (its index, time.monotonic()).
    on_partial_sent: Callable[[int, float], None] | None = None


def _fields(body: Mapping[str, Any], output_format: str) -> dict[str, Any]:
    """The fields every image event carries besides its type and image."""
    size = body.get("size")
    return {
        "created_at": int(time.time()),
        "size": size if size in _SIZES else "auto",
        "quality": body.get("quality") or "auto",
        "background": body.get("background") or "auto",
        "output_format": output_format,
    }


def _event(data: Mapping[str, Any], name: str | None = None) -> bytes:
    name = name or str(data["type"])
    encoded = _plain_base64(data.get("b64_json"))
    if encoded is None:
        return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()
    # Spliced in, not run through json.dumps, which took ~6 ms a 2.9 MB picture on the fakes'
    # event loop, where 50 streams at once held up the fake Discord that the previews benchmark
    # times. Base64 needs no JSON escaping: the bytes are the same.
    head = json.dumps({**data, "b64_json": ""}, separators=(",", ":")).encode()
    cut = head.index(_EMPTY_B64) + len(_EMPTY_B64) - 1
    return b"".join((f"event: {name}\ndata: ".encode(), head[:cut], encoded, head[cut:], b"\n\n"))


def _plain_base64(value: object) -> bytes | None:
    """`value` as bytes if it is a string of the base64 alphabet only (nothing to escape)."""
    return _checked_base64(value) if isinstance(value, str) else None


@lru_cache(maxsize=4)  # every event of every stream sends the same picture: checked once
def _checked_base64(value: str) -> bytes | None:
    raw = value.encode()
    return None if raw.translate(None, _BASE64_ALPHABET) else raw


async def stream_answer(request: web.Request, plan: StreamPlan) -> web.StreamResponse:
    """Send `plan` as server-sent events."""
    body = plan.body
    prefix = _PREFIXES[plan.operation]
    output_format = body.get("output_format") or "png"
    partials = int(body.get("partial_images") or 0)
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "x-request-id": plan.request_id,
        }
    )
    await response.prepare(request)
    for _ in range(int(body.get("n") or 1)):
        for index in range(partials):
            await asyncio.sleep(plan.event_delay)
            partial = {
                "type": f"{prefix}.partial_image",
                "b64_json": plan.encoded,
                **_fields(body, output_format),
                "partial_image_index": index,
            }
            await response.write(_event(partial))
            if plan.on_partial_sent is not None:
                plan.on_partial_sent(index, time.monotonic())
            if index == 0 and plan.fault is not None:
                return await _fault(request, response, plan)
        if partials == 0 and plan.fault is not None:
            return await _fault(request, response, plan)
        await asyncio.sleep(plan.event_delay)
        completed = {
            "type": f"{prefix}.completed",
            "b64_json": plan.encoded,
            **_fields(body, output_format),
            "usage": dict(plan.usage),
        }
        await response.write(_event(completed))
    await response.write_eof()
    return response


async def _fault(
    request: web.Request, response: web.StreamResponse, plan: StreamPlan
) -> web.StreamResponse:
    """Break the stream after its first event, as `plan.fault` says."""
    if plan.fault == "error_event":
        error = {
            "type": "server_error",
            "code": plan.error_code,
            "message": "The image could not be generated. Please try again.",
            "param": None,
        }
        await response.write(_event(error, "error"))
    elif plan.fault == "malformed_event":
        await response.write(b"event: image_generation.partial_image\ndata: {not json\n\n")
    elif plan.fault == "connection_cut":
        if request.transport is not None:
            request.transport.abort()
        return response
    await response.write_eof()
    return response
