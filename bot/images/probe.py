"""An image's format and pixel size, read from its header without decoding the pixels.

The Images client checks what the API sent back with it; `bot.imaging` shares `UNREADABLE`,
what Pillow raises on a file it cannot open.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from bot.errors import InvalidInput

# Pillow warns (or, past twice its limit, raises) on huge images while opening the header. Where
# warnings are errors (the tests) the warning arrives as an exception; elsewhere our own, lower
# pixel cap rejects the image anyway. warnings.catch_warnings() is not thread-safe, so no filter.
UNREADABLE = (
    UnidentifiedImageError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
    OSError,
    ValueError,
    SyntaxError,
)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """An image's real format (lower-case: png, jpeg, webp, gif, ...) and pixel size."""

    format: str
    width: int
    height: int


def probe(data: bytes) -> ImageInfo:
    """Read the format and size from the header only, without decoding the pixels."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            fmt = (image.format or "").lower()
            width, height = image.size
    except UNREADABLE as exc:
        raise InvalidInput([InvalidInput.of("imaging.unreadable")]) from exc
    return ImageInfo(format=fmt, width=width, height=height)
