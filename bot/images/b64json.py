"""Reading answers that carry their images as base64 inside JSON, without copying megabytes.

An answer with ten 1024x1024 images is ~30 MB of JSON, nearly all of it the `b64_json`
strings. `json.loads` of it holds the GIL for tens of milliseconds and makes a 3 MB str of
each image, which decoding copies again. `parse_answer` instead finds those strings in the raw
body, parses only what is around them, and hands back each one as a view of the body;
`decode_base64` decodes such a view without a copy. Anything unusual (an escape inside a
string, a key that appears twice, a body the fast way can't account for) goes the plain way:
the result is always what `json.loads` would give, with views in place of the strings.

pybase64 (SIMD) decodes many times faster than the standard library and is used when it is
installed; without it, the standard library decodes in slices, so the event loop's thread gets
the GIL between them.
"""

from __future__ import annotations

import binascii
import json
import re
import secrets
from typing import Any

try:
    import pybase64  # type: ignore[import-not-found, unused-ignore]
except ImportError:  # the standard library's, a slice at a time (decode_base64_stdlib)
    pybase64 = None  # type: ignore[assignment, unused-ignore]

Base64 = str | bytes | bytearray | memoryview
"""Base64 text: a str from `json.loads`, or a view of the body from `parse_answer`."""

_KEY = re.compile(rb'"b64_json"\s*:\s*"')
# The standard library decodes this many characters at a time (a multiple of 4).
_SLICE = 512 * 1024


def parse_answer(body: bytes | bytearray) -> Any:
    """The JSON document in `body`, with each `b64_json` string of the `data` items given as
    a memoryview of `body` (plain text, no escapes) when it can be, else as a str.

    Raises ValueError (as `json.loads` does) if the body is not JSON.
    """
    spans = _string_spans(body)
    if spans:
        payload = _parse_around(body, spans)
        if payload is not None:
            return payload
    return json.loads(body)


def _string_spans(body: bytes | bytearray) -> list[tuple[int, int]]:
    """Where each `"b64_json": "..."` string's text starts and ends; [] to go the plain way."""
    spans = []
    position = 0
    while (found := _KEY.search(body, position)) is not None:
        start = found.end()
        end = body.find(b'"', start)
        if end < 0 or body.find(b"\\", start, end) >= 0:
            return []  # unterminated, or escapes to undo: json.loads does it right
        spans.append((start, end))
        position = end + 1
    return spans


def _parse_around(body: bytes | bytearray, spans: list[tuple[int, int]]) -> Any:
    """`body` parsed with each span replaced by a marker, the markers then replaced by views
    of the spans; None unless the markers are exactly the `data` items' `b64_json`, in order."""
    # A fresh token, so no text in the body (an escaped key, say) can pass for a marker.
    prefix = "#" + secrets.token_hex(8) + "-"  # '#' and '-' are not base64 either
    pieces = []
    position = 0
    for index, (start, end) in enumerate(spans):
        pieces += [body[position:start], f"{prefix}{index}".encode()]
        position = end
    pieces.append(body[position:])
    try:
        payload = json.loads(b"".join(pieces))
    except ValueError:
        return None
    items = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(items, list):
        return None
    view = memoryview(body)
    found = 0
    for item in items:
        marker = item.get("b64_json") if isinstance(item, dict) else None
        if not isinstance(marker, str) or not marker.startswith(prefix):
            continue
        if marker != f"{prefix}{found}":
            return None  # out of order or repeated: a key given twice
        start, end = spans[found]
        item["b64_json"] = view[start:end]
        found += 1
    # Every span must be a data item's b64_json (not the key somewhere else).
    return payload if found == len(spans) else None


def decode_base64(text: Base64) -> bytes:
    """Strict base64 (the alphabet and final padding only): binascii.Error (a ValueError)
    on anything else, ValueError for a str that is not ASCII."""
    if pybase64 is not None:
        decoded: bytes = pybase64.b64decode(text, validate=True)
        return decoded
    return decode_base64_stdlib(text)


def decode_base64_stdlib(text: Base64) -> bytes:
    """`decode_base64` with the standard library only, a slice at a time."""
    if isinstance(text, str):
        text = text.encode("ascii")  # UnicodeEncodeError, a ValueError, if it is not
    view = memoryview(text)
    if len(view) <= _SLICE:
        return binascii.a2b_base64(view, strict_mode=True)
    parts = []
    for start in range(0, len(view), _SLICE):
        part = view[start : start + _SLICE]
        # Padding may only end the whole text; a slice ending in it would pass on its own.
        if start + _SLICE < len(view) and part[-1] == ord("="):
            raise binascii.Error("Excess data after padding")
        parts.append(binascii.a2b_base64(part, strict_mode=True))
    return b"".join(parts)
