"""Pillow work: decode, check, normalise and encode images. Always run off the event loop.

Every function here is synchronous and CPU-bound; callers use `asyncio.to_thread`.

An attachment is judged by its bytes, never by its file name or declared content type. It must
be under the byte cap, its header must give at most the pixel cap (checked before any pixel is
decoded), and it must decode completely: a truncated, corrupt or non-image file is refused with a
message for the member. Only common raster formats are opened (PNG, JPEG, WebP, GIF, BMP, TIFF,
AVIF where Pillow has it). EXIF orientation is applied first, so sizes are the ones people see.

The profile's `InputRule` decides what is sent:
- A rule that takes the bytes as they are (PNG/JPEG/WebP for GPT image) passes a file through
  unchanged when it is in an accepted format, under the rule's byte limit, not rotated by EXIF and
  not animated. Anything else becomes a PNG (a rotated JPEG stays a JPEG), downscaled only if it
  is still too large.
- The PNG-only, square rule (DALL-E 2) converts any readable image to PNG with an alpha channel
  (the edit endpoint refuses RGB PNGs), downscales it with LANCZOS to the largest square size the
  profile offers (then half, then a quarter while the PNG is still too large) and refuses a
  non-square image: cropping is the member's choice, not ours.
- Only the first frame of an animation is used.

Masks: fully transparent pixels (alpha 0) mark the area to edit, as in the API. A mask with no
alpha channel, or whose alpha is opaque everywhere, is read as a drawing: WHITE marks the area to
edit and black keeps the picture (greyscale value 128 or more counts as white). A mask must be
exactly the size of its image as attached; it is then scaled with the image (NEAREST, so the edges
stay crisp) and sent as an RGBA PNG.
"""

from __future__ import annotations

import functools
import io
import math
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Literal

from PIL import ExifTags, Image, ImageOps, UnidentifiedImageError

from bot.errors import InvalidInput
from bot.images.profiles import InputRule, MiB, ModelProfile, Operation
from bot.images.requests import ImageFormat, InputImage

# Pillow warns (or, past twice its limit, raises) on huge images while opening the header. Where
# warnings are errors (the tests) the warning arrives as an exception; elsewhere our own, lower
# pixel cap rejects the image anyway. warnings.catch_warnings() is not thread-safe, so no filter.
_UNREADABLE = (
    UnidentifiedImageError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
    OSError,
    ValueError,
    SyntaxError,
)
_BOMB = (Image.DecompressionBombError, Image.DecompressionBombWarning)
# What Pillow raises on damaged data while decoding (truncated files raise OSError).
_UNDECODABLE = (OSError, ValueError, SyntaxError, EOFError, IndexError, struct.error)

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
_SENDABLE: dict[str, ImageFormat] = {"PNG": "png", "JPEG": "jpeg", "WEBP": "webp"}
_EXTENSIONS = {"PNG": "png", "JPEG": "jpg", "WEBP": "webp"}
# The PNG-only contract (DALL-E 2) answers "format must be in ['RGBA', 'LA', 'L']" to RGB PNGs.
_PNG_ONLY_MODES = ("RGBA", "LA", "L")
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the empty IEND chunk that closes every PNG
_ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")

MASK_MAX_BYTES = 4 * MiB  # the API's limit for a mask, whatever the model
MIN_SIDE = 256  # never shrink an image below this to make it fit a byte limit
_JPEG_QUALITY = 95
_SHRINK_STEP = 0.75  # how much each retry shrinks a non-square image that is still too large
_RESULT_QUALITIES = (90, 80, 70)  # JPEG/WebP qualities tried on a result too large to post
# zlib levels for PNG: 1 first (on a photo, a sixth of the time of Pillow's default 6 for
# ~15% more bytes), then 6 only when the fast one is over the byte limit.
_PNG_FAST = 1
_PNG_SMALL = 6

Attachment = Literal["image", "mask"]


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
    except _UNREADABLE as exc:
        raise InvalidInput(["That file isn't an image I can read."]) from exc
    return ImageInfo(format=fmt, width=width, height=height)


@dataclass(frozen=True, slots=True)
class Limits:
    """What any attachment may weigh and hold, before the model's own rules apply."""

    max_bytes: int
    max_pixels: int


@dataclass(frozen=True, slots=True)
class PreparedImage:
    """An input image ready to send, with the size it had as attached (after EXIF rotation)."""

    image: InputImage
    original_size: tuple[int, int]


def prepare_image(
    data: bytes, rule: InputRule, limits: Limits, *, max_side: int | None = None
) -> PreparedImage:
    """Check an attached image and turn it into what `rule` accepts.

    `max_side`: the longest side the model takes (larger images are downscaled); None: no limit.
    """
    decoded = _decode(data, limits, "image", draft_side=max_side if rule.square else None)
    try:
        problems = _shape_problems(decoded, rule, max_side)
        if problems:
            raise InvalidInput(problems)
        return _normalise(decoded, rule, max_side)
    finally:
        decoded.image.close()


def prepare_mask(data: bytes, image: PreparedImage, limits: Limits) -> InputImage:
    """Check an attached mask against its prepared image; return it as an RGBA PNG of that size."""
    decoded = _decode(data, limits, "mask")
    try:
        mask, problems = _read_mask(decoded, image.original_size)
        if problems:
            raise InvalidInput(problems)
        return _fit_mask(mask, image.image)
    finally:
        decoded.image.close()


def prepare_edit(
    image: bytes, mask: bytes | None, profile: ModelProfile, limits: Limits
) -> tuple[InputImage, InputImage | None]:
    """Check and normalise the image (and mask) of an edit, reporting every problem at once."""
    if not profile.supports_edits:
        raise InvalidInput([_unsupported(profile, "edit")])
    rule = profile.input
    max_side = _largest_square_side(profile, "edit") if rule.square else None
    problems: list[str] = []
    decoded_image = _decode_collecting(
        problems, image, limits, "image", draft_side=max_side if rule.square else None
    )
    decoded_mask = None
    if mask is not None:
        decoded_mask = _decode_collecting(problems, mask, limits, "mask")
    elif profile.mask_required:
        problems.append(
            "This model needs a mask to edit an image. Attach a second PNG, the same size as "
            "your image, where the area to change is transparent (or white on black), "
            "and try again."
        )
    try:
        mask_image = None
        if decoded_image is not None:
            problems += _shape_problems(decoded_image, rule, max_side)
            if decoded_mask is not None:
                mask_image, mask_problems = _read_mask(decoded_mask, decoded_image.size)
                problems += mask_problems
        if problems or decoded_image is None:
            raise InvalidInput(problems)
        prepared = _normalise(decoded_image, rule, max_side)
        prepared_mask = None if mask_image is None else _fit_mask(mask_image, prepared.image)
        return prepared.image, prepared_mask
    finally:
        for decoded in (decoded_image, decoded_mask):
            if decoded is not None:
                decoded.image.close()


def prepare_variation(image: bytes, profile: ModelProfile, limits: Limits) -> InputImage:
    """Check and normalise the image a variation starts from."""
    if not profile.supports_variations:
        raise InvalidInput([_unsupported(profile, "variation")])
    rule = profile.input
    max_side = _largest_square_side(profile, "variation") if rule.square else None
    return prepare_image(image, rule, limits, max_side=max_side).image


# --- decoding --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Decoded:
    image: Image.Image  # fully loaded, EXIF orientation applied; maybe JPEG-drafted smaller
    data: bytes
    format: str  # Pillow's name; a phone's MPO photo counts as the JPEG it starts with
    size: tuple[int, int]  # as attached and shown: after EXIF rotation, before any draft
    as_attached: bool  # the bytes show exactly `image`: no EXIF rotation, no further frames


def _decode(
    data: bytes, limits: Limits, what: Attachment, *, draft_side: int | None = None
) -> _Decoded:
    """Open `data` with every cap checked before the pixels are decoded, then decode it once.

    `draft_side`: for a square JPEG larger than this, let libjpeg decode it at a reduced scale
    (at least this size), since it is going to be downscaled anyway.
    """
    if not data:
        raise InvalidInput([f"Your {what} is an empty file. Attach the picture again."])
    if len(data) > limits.max_bytes:
        raise InvalidInput(
            [
                f"Your {what} is {_megabytes(len(data))}; the most I accept is "
                f"{_megabytes(limits.max_bytes)}. Attach a smaller file and try again."
            ]
        )
    try:
        image = Image.open(io.BytesIO(data), formats=_readable_formats())
    except _BOMB as exc:
        raise InvalidInput([_too_many_pixels(what, limits, None)]) from exc
    except _UNREADABLE as exc:
        # Some decoders (WebP) read everything while opening: a cut-off file fails here.
        damaged = data.startswith(_SIGNATURES)
        raise InvalidInput([_damaged(what) if damaged else _not_an_image(what)]) from exc
    try:
        width, height = image.size
        if width * height > limits.max_pixels:
            raise InvalidInput([_too_many_pixels(what, limits, (width, height))])
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
        except _UNDECODABLE as exc:
            raise InvalidInput([_damaged(what)]) from exc
    except BaseException:
        image.close()
        raise
    size = (height, width) if orientation in (5, 6, 7, 8) else (width, height)
    return _Decoded(
        image=image,
        data=data,
        format=fmt,
        size=size,
        as_attached=not rotated and not animated,
    )


def _decode_collecting(
    problems: list[str],
    data: bytes,
    limits: Limits,
    what: Attachment,
    *,
    draft_side: int | None = None,
) -> _Decoded | None:
    try:
        return _decode(data, limits, what, draft_side=draft_side)
    except InvalidInput as exc:
        problems += exc.problems
        return None


@functools.cache
def _readable_formats() -> tuple[str, ...]:
    Image.init()  # AVIF is missing from some Pillow builds; naming it anyway is a KeyError
    return tuple(name for name in _READABLE if name in Image.OPEN)


# --- images ----------------------------------------------------------------------------------


def _shape_problems(decoded: _Decoded, rule: InputRule, max_side: int | None) -> list[str]:
    width, height = decoded.size
    if not rule.square or width == height:
        return []
    example = max_side or min(width, height)
    return [
        f"Your image is {_dimensions(width, height)} pixels; it needs to be square for this "
        f"model. Crop it to a square (for example {_dimensions(example, example)}) "
        "and try again."
    ]


def _normalise(decoded: _Decoded, rule: InputRule, max_side: int | None) -> PreparedImage:
    """Send the bytes as they are when the rule allows it; otherwise convert and encode."""
    width, height = decoded.size
    image = decoded.image
    png_only = rule.formats == frozenset({"PNG"})
    fits = max_side is None or max(width, height) <= max_side
    sendable = _SENDABLE.get(decoded.format)
    if (
        decoded.as_attached
        and sendable is not None
        and decoded.format in rule.formats
        and len(decoded.data) < rule.max_bytes
        and fits
        and (not png_only or image.mode in _PNG_ONLY_MODES)
        # Pillow decodes a PNG that lost its end chunk; the API might not, so write a whole one.
        and (decoded.format != "PNG" or decoded.data.endswith(_PNG_END))
    ):
        same = InputImage(data=decoded.data, format=sendable, width=width, height=height)
        return PreparedImage(image=same, original_size=decoded.size)

    fmt = "JPEG" if decoded.format == "JPEG" and "JPEG" in rule.formats else "PNG"
    converted = _encodable(image, fmt=fmt, png_only=png_only)
    try:
        for size in _sizes_to_try(image.size, square=rule.square, max_side=max_side):
            if size == converted.size:
                data = _encode(converted, fmt, under=rule.max_bytes)
            else:
                with converted.resize(size, Image.Resampling.LANCZOS) as resized:
                    data = _encode(resized, fmt, under=rule.max_bytes)
            if len(data) < rule.max_bytes:
                result = InputImage(data=data, format=_SENDABLE[fmt], width=size[0], height=size[1])
                return PreparedImage(image=result, original_size=decoded.size)
    finally:
        if converted is not image:
            converted.close()
    raise InvalidInput(
        [
            f"Your image is too detailed to fit under {_megabytes(rule.max_bytes)} for this "
            f"model, even shrunk to {_dimensions(*size)} pixels. Try a simpler or smaller image."
        ]
    )


def _sizes_to_try(
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


def _encodable(image: Image.Image, *, fmt: str, png_only: bool) -> Image.Image:
    """`image` in a mode `fmt` stores without changing the picture (alpha kept where present)."""
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        image = _eight_bit_grey(image)
    has_alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
    if has_alpha and fmt == "PNG":
        mode = "LA" if image.mode in ("LA", "La") else "RGBA"
    elif image.mode in ("1", "L"):
        mode = "L"
    else:
        mode = "RGBA" if png_only and fmt == "PNG" else "RGB"
    return image if image.mode == mode else image.convert(mode)


def _eight_bit_grey(image: Image.Image) -> Image.Image:
    """16-bit (or wider) greyscale scaled to 8 bits; convert() alone would clip it to white."""
    if image.mode == "F":
        return image.convert("L")
    wide = image.convert("I")
    try:
        return wide.point(lambda value: value / 256).convert("L")
    finally:
        wide.close()


def _encode(image: Image.Image, fmt: str, *, under: int) -> bytes:
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


def _largest_square_side(profile: ModelProfile, operation: Operation) -> int | None:
    sides = []
    for size in profile.sizes_for(operation):
        width, _, height = size.partition("x")
        if width.isdigit() and width == height:
            sides.append(int(width))
    return max(sides, default=None)


# --- masks -----------------------------------------------------------------------------------


def _read_mask(decoded: _Decoded, image_size: tuple[int, int]) -> tuple[Image.Image, list[str]]:
    """The mask as RGBA (alpha 0 = edit here) and whatever is wrong with it."""
    problems = []
    if decoded.size != image_size:
        problems.append(
            f"Your mask is {_dimensions(*decoded.size)} pixels but your image is "
            f"{_dimensions(*image_size)}; they must be exactly the same size. Export the mask "
            f"at {_dimensions(*image_size)} and try again."
        )
    mask = _mask_rgba(decoded.image)
    if not _has_clear_pixel(mask):
        problems.append(_NOTHING_TO_EDIT)
    return mask, problems


_NOTHING_TO_EDIT = (
    "Your mask has no fully transparent (or white) area, so the edit would change nothing. "
    "Make the part you want changed fully transparent, or paint it white on black, "
    "and try again."
)


def _mask_rgba(image: Image.Image) -> Image.Image:
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        image = _eight_bit_grey(image)
    if image.mode in _ALPHA_MODES or "transparency" in image.info:
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        if _alpha_histogram(rgba)[255] < rgba.width * rgba.height:
            return rgba
        # Opaque everywhere: an editor saved a drawing with an alpha channel it doesn't use.
    grey = image.convert("L")
    rgba = image.convert("RGB")
    rgba.putalpha(grey.point(lambda value: 0 if value >= 128 else 255))
    grey.close()
    return rgba


def _has_clear_pixel(mask: Image.Image) -> bool:
    return _alpha_histogram(mask)[0] > 0


def _alpha_histogram(rgba: Image.Image) -> list[int]:
    """How many pixels have each alpha value, 0 to 255."""
    with rgba.getchannel("A") as alpha:
        return alpha.histogram()


def _fit_mask(mask: Image.Image, image: InputImage) -> InputImage:
    """`mask` scaled to the image as sent, encoded as an RGBA PNG under the API's mask limit."""
    size = (image.width, image.height)
    if mask.size != size:
        mask = mask.resize(size, Image.Resampling.NEAREST)
        if not _has_clear_pixel(mask):
            raise InvalidInput(
                [
                    f"The transparent (or white) area of your mask disappears when the mask is "
                    f"shrunk to {_dimensions(*size)} to match your image. Make that area larger "
                    "and try again."
                ]
            )
    data = _encode(mask, "PNG", under=MASK_MAX_BYTES)
    if len(data) >= MASK_MAX_BYTES:
        # Only the alpha channel matters to the API; plain colour compresses to almost nothing.
        alpha = mask.getchannel("A")
        black = Image.new("L", size, 0)
        with Image.merge("RGBA", (black, black, black, alpha)) as flat:
            data = _encode(flat, "PNG", under=MASK_MAX_BYTES)
    return InputImage(data=data, format="png", width=size[0], height=size[1])


# --- results -------------------------------------------------------------------------------


def fit_file_size(data: bytes, max_bytes: int) -> tuple[bytes, str]:
    """A result image made to weigh at most `max_bytes`, and its file extension.

    Re-encoded as JPEG (WebP where it has transparency), with lower quality and then smaller
    sizes until it fits. Raises ValueError if the bytes aren't an image or can't be made to fit.
    """
    try:
        image = Image.open(io.BytesIO(data), formats=_readable_formats())
    except _UNREADABLE as exc:
        raise ValueError("the result is not an image Pillow can open") from exc
    with image:
        if len(data) <= max_bytes and image.format in _SENDABLE:
            return data, _EXTENSIONS[image.format]
        try:
            image.load()
        except _UNDECODABLE as exc:
            raise ValueError("the result image is damaged") from exc
        has_alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
        fmt, mode = ("WEBP", "RGBA") if has_alpha else ("JPEG", "RGB")
        converted = image if image.mode == mode else image.convert(mode)
        try:
            for size in _sizes_to_try(converted.size, square=False, max_side=None):
                if size == converted.size:
                    encoded = _encode_lossy(converted, fmt, max_bytes)
                else:
                    with converted.resize(size, Image.Resampling.LANCZOS) as resized:
                        encoded = _encode_lossy(resized, fmt, max_bytes)
                if encoded is not None:
                    return encoded, _EXTENSIONS[fmt]
        finally:
            if converted is not image:
                converted.close()
    raise ValueError(f"the result image can't be made smaller than {max_bytes} bytes")


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
            with Image.open(io.BytesIO(data), formats=_readable_formats()) as image:
                image.draft("RGB", (tile, tile))
                thumb = image.convert("RGB")
                thumb.thumbnail((tile, tile))
        except (*_UNREADABLE, *_UNDECODABLE):
            continue
        x = (index % columns) * tile + (tile - thumb.width) // 2
        y = (index // columns) * tile + (tile - thumb.height) // 2
        sheet.paste(thumb, (x, y))
        thumb.close()
    buffer = io.BytesIO()
    sheet.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def _encode_lossy(image: Image.Image, fmt: str, max_bytes: int) -> bytes | None:
    """`image` at the best quality that fits in `max_bytes`, or None."""
    for quality in _RESULT_QUALITIES:
        buffer = io.BytesIO()
        image.save(buffer, fmt, quality=quality)
        if buffer.tell() <= max_bytes:
            return buffer.getvalue()
    return None


# --- messages --------------------------------------------------------------------------------


def _unsupported(profile: ModelProfile, operation: Operation) -> str:
    if operation == "edit":
        return f"The image model this bot uses ({profile.model}) can't edit images."
    return f"The image model this bot uses ({profile.model}) can't make variations of an image."


def _not_an_image(what: Attachment) -> str:
    return (
        f"Your {what} isn't a picture I can read (I go by the file's contents, not its name). "
        "Attach a PNG, JPEG or WebP image and try again."
    )


def _damaged(what: Attachment) -> str:
    return (
        f"Your {what} file is damaged or incomplete (it may have been cut off while saving or "
        "uploading). Save it again and attach the new file."
    )


def _too_many_pixels(what: Attachment, limits: Limits, size: tuple[int, int] | None) -> str:
    side = math.isqrt(limits.max_pixels)
    if size is None:
        found = f"Your {what} has far too many pixels to open safely"
    else:
        found = f"Your {what} is {_dimensions(*size)} pixels ({size[0] * size[1]:,} in all)"
    return (
        f"{found}; the most I accept is {limits.max_pixels:,} pixels (about "
        f"{_dimensions(side, side)}). Make it smaller and try again."
    )


def _dimensions(width: int, height: int) -> str:
    # A real multiplication sign, as people write sizes.
    return f"{width:,} × {height:,}"  # noqa: RUF001


def _megabytes(size: int) -> str:
    text = f"{size / MiB:,.1f}".removesuffix(".0")
    return f"{text} MB"
