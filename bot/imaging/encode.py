"""Encoding: the modes formats store, the sizes to try, and PNG written fast before small."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator

from PIL import Image

from bot.images.requests import ImageFormat

SENDABLE: dict[str, ImageFormat] = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}
EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")
MIN_SIDE = 256  # never shrink an image below this to make it fit a byte limit
_JPEG_QUALITY = 95
STRIP_ROWS = 128  # rows of the reduced picture made from each strip in `reduce_in_strips`
_SHRINK_STEP = 0.75  # how much each retry shrinks a non-square image that is still too large
# zlib levels for PNG: 1 first (on a photo, a sixth of the time of Pillow's default 6 for
# ~15% more bytes), then 6 only when the fast one is over the byte limit.
_PNG_FAST = 1
_PNG_SMALL = 6


def sizes_to_try(
    size: tuple[int, int], *, square: bool, max_side: int | None
) -> Iterator[tuple[int, int]]:
    """The sizes to encode at, largest first: within `max_side`, then smaller until it fits."""
    width, height = size
    if square:
        side = width if max_side is None else min(width, max_side)
        yield side, side
        # Square models offer sizes that halve (1024, 512, 256): step through those.
        step = max_side or side
        while step // 2 >= MIN_SIDE:
            step //= 2
            if step < side:
                yield step, step
        return
    scale = 1.0 if max_side is None else min(1.0, max_side / max(width, height))
    while True:
        scaled = (max(1, round(width * scale)), max(1, round(height * scale)))
        yield scaled
        if min(scaled) * _SHRINK_STEP < MIN_SIDE:
            return
        scale *= _SHRINK_STEP


def first_that_fits(
    image: Image.Image,
    sizes: Iterator[tuple[int, int]],
    encode_at: Callable[[Image.Image], bytes | None],
) -> tuple[bytes, tuple[int, int]] | None:
    """`encode_at` of `image` at each size in turn (LANCZOS), until one gives bytes."""
    for size in sizes:
        if size == image.size:
            data = encode_at(image)
        else:
            with image.resize(size, Image.Resampling.LANCZOS) as resized:
                data = encode_at(resized)
        if data is not None:
            return data, size
    return None


def reduce_in_strips(
    image: Image.Image, factor: int, convert: Callable[[Image.Image], Image.Image]
) -> Image.Image:
    """`convert(image)` reduced by `factor` (box average, alpha-aware), a strip at a time, so
    the converted copy never exists at full size: a 6300x6300 palette picture is 38 MiB
    decoded but 151 MiB as RGBA."""
    width, height = image.size
    strip = factor * STRIP_ROWS
    reduced: Image.Image | None = None
    try:
        for top in range(0, height, strip):
            with image.crop((0, top, width, min(top + strip, height))) as piece:
                converted = convert(piece)
                try:
                    small = converted.reduce(factor)
                finally:
                    if converted is not piece:
                        converted.close()
            with small:
                if reduced is None:
                    reduced = Image.new(small.mode, (-(-width // factor), -(-height // factor)))
                reduced.paste(small, (0, top // factor))
    except BaseException:
        if reduced is not None:
            reduced.close()
        raise
    assert reduced is not None  # a decoded picture has a row
    return reduced


def has_alpha(image: Image.Image) -> bool:
    """Whether `image` has an alpha channel or a transparent colour."""
    return image.mode in ALPHA_MODES or "transparency" in image.info


def encodable(image: Image.Image, *, fmt: str, png_only: bool) -> Image.Image:
    """`image` in a mode `fmt` stores without changing the picture (alpha kept where present)."""
    image = eight_bit(image)
    if has_alpha(image) and fmt == "PNG":
        mode = "LA" if image.mode in ("LA", "La") else "RGBA"
    elif image.mode in ("1", "L"):
        mode = "L"
    else:
        mode = "RGBA" if png_only and fmt == "PNG" else "RGB"
    return image if image.mode == mode else image.convert(mode)


def eight_bit(image: Image.Image) -> Image.Image:
    """16-bit (or wider) greyscale scaled to 8 bits; convert() alone would clip it to white.
    Any other image as it is."""
    if image.mode == "F":
        return image.convert("L")
    if image.mode != "I" and not image.mode.startswith("I;16"):
        return image
    wide = image.convert("I")
    try:
        return wide.point(lambda value: value / 256).convert("L")
    finally:
        wide.close()


def encode(image: Image.Image, fmt: str, *, under: int) -> bytes:
    """`image` as JPEG or PNG. A PNG is written fast first and compressed harder only when
    that is `under` bytes or more (then it may still fit, at the same size)."""
    icc_profile = image.info.get("icc_profile")
    if fmt == "JPEG":
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=_JPEG_QUALITY, icc_profile=icc_profile)
        return buffer.getvalue()
    data = _png(image, _PNG_FAST, icc_profile)
    if len(data) >= under:
        data = _png(image, _PNG_SMALL, icc_profile)
    return data


def _png(image: Image.Image, level: int, icc_profile: bytes | None) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=level, icc_profile=icc_profile)
    return buffer.getvalue()
