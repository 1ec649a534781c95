"""Opening an attachment: every cap checked before a pixel is decoded, then one full decode."""

from __future__ import annotations

import functools
import io
import struct
from dataclasses import dataclass

from PIL import ExifTags, Image, ImageOps

from bot.errors import InvalidInput, Said
from bot.images.probe import UNREADABLE
from bot.imaging.encode import STRIP_ROWS
from bot.imaging.messages import (
    Attachment,
    about,
    damaged,
    megabytes,
    not_an_image,
    too_many_pixels,
)

_BOMB = (Image.DecompressionBombError, Image.DecompressionBombWarning)
# What Pillow raises on damaged data while decoding (truncated files raise OSError).
UNDECODABLE = (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error)

# Formats worth opening from a chat attachment; the rest of Pillow's plugins (EPS runs
# Ghostscript, others are exotic) stay closed.
_READABLE = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "AVIF")
# How the files of those formats begin, to tell a damaged picture from something else.
_SIGNATURES = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"RIFF",
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
)


@dataclass(frozen=True, slots=True)
class Limits:
    """What any attachment may weigh and hold, before the model's own rules apply."""

    max_bytes: int
    max_pixels: int


@dataclass(slots=True)
class Decoded:
    """An attachment opened and checked, with what deciding how to send it needs."""

    image: Image.Image  # fully loaded, EXIF orientation applied; maybe JPEG-drafted smaller
    data: bytes
    format: str  # Pillow's name; a phone's MPO photo counts as the JPEG it starts with
    size: tuple[int, int]  # as attached and shown: after EXIF rotation, before any draft
    as_attached: bool  # the bytes show exactly `image`: no EXIF rotation, no further frames


def decode(
    data: bytes, limits: Limits, what: Attachment, *, draft_side: int | None = None
) -> Decoded:
    """Open `data` with every cap checked before the pixels are decoded, then decode it once.

    `draft_side`: for a square JPEG larger than this, let libjpeg decode it at a reduced scale
    (at least this size), since it is going to be downscaled anyway.
    """
    if not data:
        raise InvalidInput([about(what, "empty")])
    if len(data) > limits.max_bytes:
        weight, cap = megabytes(len(data)), megabytes(limits.max_bytes)
        raise InvalidInput([about(what, "too_heavy", size=weight, limit=cap)])
    try:
        image = Image.open(io.BytesIO(data), formats=readable_formats())
    except _BOMB as exc:
        raise InvalidInput([too_many_pixels(what, limits.max_pixels, None)]) from exc
    except UNREADABLE as exc:
        # Some decoders (WebP) read everything while opening: a cut-off file fails here.
        is_damaged = data.startswith(_SIGNATURES)
        raise InvalidInput([damaged(what) if is_damaged else not_an_image(what)]) from exc
    try:
        width, height = image.size
        if width * height > limits.max_pixels:
            raise InvalidInput([too_many_pixels(what, limits.max_pixels, (width, height))])
        fmt = "JPEG" if image.format == "MPO" else (image.format or "")
        animated = fmt in ("PNG", "WEBP") and bool(getattr(image, "is_animated", False))
        if draft_side is not None and fmt == "JPEG" and width == height > draft_side:
            image.draft(image.mode, (draft_side, draft_side))
        try:
            image.load()
            orientation = image.getexif().get(ExifTags.Base.Orientation, 1)
            rotated = orientation in range(2, 9)
            if rotated:
                ImageOps.exif_transpose(image, in_place=True)
        except UNDECODABLE as exc:
            raise InvalidInput([damaged(what)]) from exc
    except BaseException:
        image.close()
        raise
    size = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    return Decoded(
        image=image,
        data=data,
        format=fmt,
        size=size,
        as_attached=not rotated and not animated,
    )


# What one pixel takes in Pillow's memory, by mode: RGB is stored in 4 bytes like RGBA.
_BYTES_PER_PIXEL = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2}
_WIDE_PIXEL = 4
# What preparing holds beside the decoded picture, per pixel it works on: the converted copy
# (RGBA, 4 bytes) and part of a resized or encoded one. Measured: a 6300x6300 palette PNG
# made a DALL-E 2 PNG at +376 MiB before it was reduced in strips (`encode.reduce_in_strips`).
_WORKING_BYTES_PER_PIXEL = 6
# Decoding reduces by this whole factor at most before resizing, as Pillow's `reducing_gap`.
REDUCING_GAP = 2


def decode_cost(data: bytes, limits: Limits, *, draft_side: int | None = None) -> int:
    """The bytes decoding and preparing `data` will hold at most, from its header alone (no
    pixel is decoded): the decoded picture, plus its working copies at the size they are made
    (`draft_side`: the square side the model takes, see `decode` and `reduce_factor`). At
    least 1; what `decode` refuses before decoding (too heavy, unreadable, past the pixel cap)
    costs next to nothing.
    """
    if len(data) > limits.max_bytes:
        return 1
    try:
        with Image.open(io.BytesIO(data), formats=readable_formats()) as image:
            width, height = image.size
            if width * height > limits.max_pixels:
                return 1
            if draft_side is not None and image.format in ("JPEG", "MPO") and width == height:
                scale = _draft_scale(width, draft_side)
                width, height = -(-width // scale), -(-height // scale)
            decoded = width * height * _BYTES_PER_PIXEL.get(image.mode, _WIDE_PIXEL)
    except (*_BOMB, *UNREADABLE, *UNDECODABLE):
        return 1
    factor = 1 if draft_side is None else reduce_factor((width, height), draft_side)
    working = -(-width // factor) * -(-height // factor) * _WORKING_BYTES_PER_PIXEL
    if factor > 1:  # one strip at a time, as decoded and converted
        working += width * factor * STRIP_ROWS * (_WIDE_PIXEL + 1)
    return max(1, decoded + working)


def reduce_factor(size: tuple[int, int], side: int) -> int:
    """The whole factor a picture of `size` may be reduced by and still be `REDUCING_GAP`
    times `side` or more, to be resized to `side` with LANCZOS from there; 1 for none."""
    return max(1, max(size) // (side * REDUCING_GAP))


def _draft_scale(side: int, draft_side: int) -> int:
    """The scale libjpeg decodes at for `draft`: the smallest of 1/2, 1/4, 1/8 that still
    gives `draft_side` or more."""
    scale = 1
    while scale < 8 and side // (scale * 2) >= draft_side:
        scale *= 2
    return scale


def decode_collecting(
    problems: list[Said],
    data: bytes,
    limits: Limits,
    what: Attachment,
    *,
    draft_side: int | None = None,
) -> Decoded | None:
    """`decode`, adding its problems to `problems` (None then) instead of raising them."""
    try:
        return decode(data, limits, what, draft_side=draft_side)
    except InvalidInput as exc:
        problems += exc.problems
        return None


@functools.cache
def readable_formats() -> tuple[str, ...]:
    """The formats of `_READABLE` this Pillow build can open."""
    Image.init()  # AVIF is missing from some Pillow builds; naming it anyway is a KeyError
    return tuple(name for name in _READABLE if name in Image.OPEN)
