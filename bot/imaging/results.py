"""The API's result images: made to fit Discord's upload limit, and thumbnailed for the mod-log."""

from __future__ import annotations

import functools
import io
from collections.abc import Sequence

from PIL import Image

from bot.images.probe import UNREADABLE
from bot.imaging.decode import UNDECODABLE, readable_formats
from bot.imaging.encode import EXTENSIONS, SENDABLE, first_that_fits, has_alpha, sizes_to_try

_RESULT_QUALITIES = (90, 80, 70)  # JPEG/WebP qualities tried on a result too large to post


def fit_file_size(data: bytes, max_bytes: int) -> tuple[bytes, str]:
    """A result image made to weigh at most `max_bytes`, and its file extension.

    Re-encoded as JPEG (WebP where it has transparency), with lower quality and then smaller
    sizes until it fits. Raises ValueError if the bytes aren't an image or can't be made to fit.
    """
    try:
        image = Image.open(io.BytesIO(data), formats=readable_formats())
    except UNREADABLE as exc:
        raise ValueError("the result is not an image Pillow can open") from exc
    with image:
        if len(data) <= max_bytes and image.format in SENDABLE:
            return data, EXTENSIONS[image.format]
        try:
            image.load()
        except UNDECODABLE as exc:
            raise ValueError("the result image is damaged") from exc
        fmt, mode = ("WEBP", "RGBA") if has_alpha(image) else ("JPEG", "RGB")
        converted = image if image.mode == mode else image.convert(mode)
        try:
            sizes = sizes_to_try(converted.size, square=False, max_side=None)
            fitted = first_that_fits(
                converted, sizes, functools.partial(_encode_lossy, fmt=fmt, max_bytes=max_bytes)
            )
        finally:
            if converted is not image:
                converted.close()
    if fitted is None:
        raise ValueError(f"the result image can't be made smaller than {max_bytes} bytes")
    return fitted[0], EXTENSIONS[fmt]


def contact_sheet(images: Sequence[bytes], *, tile: int = 160, columns: int = 5) -> bytes:
    """Small thumbnails of `images` side by side in one JPEG, for the mod-log.

    Images that can't be read are left as grey tiles, so one bad image never hides the rest.
    """
    count = max(1, len(images))
    columns = min(columns, count)
    rows = -(-count // columns)
    sheet = Image.new("RGB", (columns * tile, rows * tile), (47, 49, 54))
    for index, data in enumerate(images):
        try:
            with Image.open(io.BytesIO(data), formats=readable_formats()) as image:
                image.draft("RGB", (tile, tile))
                thumb = image.convert("RGB")
                thumb.thumbnail((tile, tile))
        except (*UNREADABLE, *UNDECODABLE):
            continue
        x = (index % columns) * tile + (tile - thumb.width) // 2
        y = (index // columns) * tile + (tile - thumb.height) // 2
        sheet.paste(thumb, (x, y))
        thumb.close()
    buffer = io.BytesIO()
    sheet.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def _encode_lossy(image: Image.Image, *, fmt: str, max_bytes: int) -> bytes | None:
    """`image` at the best quality that fits in `max_bytes`, or None."""
    for quality in _RESULT_QUALITIES:
        buffer = io.BytesIO()
        image.save(buffer, fmt, quality=quality)
        if buffer.tell() <= max_bytes:
            return buffer.getvalue()
    return None
