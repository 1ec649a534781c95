"""Attachments turned into what the model's `InputRule` accepts: the image, and its mask.

The profile's rule decides what is sent:
- A rule that takes the bytes as they are (PNG/JPEG/WebP for GPT image) passes a file through
  unchanged when it is in an accepted format, under the rule's byte limit, not rotated by EXIF and
  not animated. Anything else becomes a PNG (a rotated JPEG stays a JPEG), downscaled only if it
  is still too large.
- The PNG-only, square rule (DALL-E 2) converts any readable image to PNG with an alpha channel
  (the edit endpoint refuses RGB PNGs), downscales it with LANCZOS to the largest square size the
  profile offers (then half, then a quarter while the PNG is still too large) and refuses a
  non-square image: cropping is the member's choice, not ours.
- Only the first frame of an animation is used.
"""

from __future__ import annotations

from dataclasses import dataclass

from PIL import Image

from bot.errors import InvalidInput, Said
from bot.images.profiles import InputRule, ModelProfile, Operation
from bot.images.requests import InputImage
from bot.imaging.decode import (
    Decoded,
    Limits,
    decode,
    decode_collecting,
    decode_cost,
    reduce_factor,
)
from bot.imaging.encode import (
    SENDABLE,
    encodable,
    encode,
    first_that_fits,
    reduce_in_strips,
    sizes_to_try,
)
from bot.imaging.masks import fit_mask, read_mask
from bot.imaging.messages import about, dimensions, megabytes, unsupported

# The PNG-only contract (DALL-E 2) answers "format must be in ['RGBA', 'LA', 'L']" to RGB PNGs.
_PNG_ONLY_MODES = ("RGBA", "LA", "L")
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"  # the empty IEND chunk that closes every PNG


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
    decoded = decode(data, limits, "image", draft_side=max_side if rule.square else None)
    try:
        problems = _shape_problems(decoded, rule, max_side)
        if problems:
            raise InvalidInput(problems)
        return _normalise(decoded, rule, max_side)
    finally:
        decoded.image.close()


def prepare_mask(data: bytes, image: PreparedImage, limits: Limits) -> InputImage:
    """Check an attached mask against its prepared image; return it as an RGBA PNG of that size."""
    decoded = decode(data, limits, "mask")
    try:
        mask, problems = read_mask(decoded, image.original_size)
        if problems:
            raise InvalidInput(problems)
        return fit_mask(mask, image.image)
    finally:
        decoded.image.close()


def prepare_edit(
    image: bytes, mask: bytes | None, profile: ModelProfile, limits: Limits
) -> tuple[InputImage, InputImage | None]:
    """Check and normalise the image (and mask) of an edit, reporting every problem at once."""
    if not profile.supports_edits:
        raise InvalidInput([unsupported(profile, "edit")])
    rule = profile.input
    max_side = _largest_square_side(profile, "edit") if rule.square else None
    problems: list[Said] = []
    decoded_image = decode_collecting(
        problems, image, limits, "image", draft_side=max_side if rule.square else None
    )
    decoded_mask = None
    if mask is not None:
        decoded_mask = decode_collecting(problems, mask, limits, "mask")
    elif profile.mask_required:
        problems.append(about("mask", "needed"))
    try:
        mask_image = None
        if decoded_image is not None:
            problems += _shape_problems(decoded_image, rule, max_side)
            if decoded_mask is not None:
                mask_image, mask_problems = read_mask(decoded_mask, decoded_image.size)
                problems += mask_problems
        if problems or decoded_image is None:
            raise InvalidInput(problems)
        prepared = _normalise(decoded_image, rule, max_side)
        prepared_mask = None if mask_image is None else fit_mask(mask_image, prepared.image)
        return prepared.image, prepared_mask
    finally:
        for decoded in (decoded_image, decoded_mask):
            if decoded is not None:
                decoded.image.close()


def preparation_cost(
    image: bytes, mask: bytes | None, profile: ModelProfile, operation: Operation, limits: Limits
) -> int:
    """The bytes preparing this image (and mask) will hold at most, from their headers: what
    the decode must reserve from the memory budget before it starts."""
    max_side = _largest_square_side(profile, operation) if profile.input.square else None
    cost = decode_cost(image, limits, draft_side=max_side)
    return cost if mask is None else cost + decode_cost(mask, limits)


def prepare_variation(image: bytes, profile: ModelProfile, limits: Limits) -> InputImage:
    """Check and normalise the image a variation starts from."""
    if not profile.supports_variations:
        raise InvalidInput([unsupported(profile, "variation")])
    rule = profile.input
    max_side = _largest_square_side(profile, "variation") if rule.square else None
    return prepare_image(image, rule, limits, max_side=max_side).image


def _shape_problems(decoded: Decoded, rule: InputRule, max_side: int | None) -> list[Said]:
    width, height = decoded.size
    if not rule.square or width == height:
        return []
    side = max_side or min(width, height)
    example = dimensions(side, side)
    return [about("image", "not_square", size=dimensions(width, height), example=example)]


def _normalise(decoded: Decoded, rule: InputRule, max_side: int | None) -> PreparedImage:
    """Send the bytes as they are when the rule allows it; otherwise convert and encode."""
    if _sendable_as_attached(decoded, rule, max_side):
        width, height = decoded.size
        same = InputImage(
            data=decoded.data, format=SENDABLE[decoded.format], width=width, height=height
        )
        return PreparedImage(image=same, original_size=decoded.size)

    image = decoded.image
    png_only = rule.formats == frozenset({"PNG"})
    fmt = "JPEG" if decoded.format == "JPEG" and "JPEG" in rule.formats else "PNG"

    def encode_under_limit(picture: Image.Image) -> bytes | None:
        data = encode(picture, fmt, under=rule.max_bytes)
        return data if len(data) < rule.max_bytes else None

    factor = 1 if max_side is None else reduce_factor(image.size, max_side)
    if factor > 1:
        # Far larger than the model takes: convert and reduce a strip at a time, then resize.
        converted = reduce_in_strips(
            image, factor, lambda piece: encodable(piece, fmt=fmt, png_only=png_only)
        )
    else:
        converted = encodable(image, fmt=fmt, png_only=png_only)
    try:
        sizes = sizes_to_try(converted.size, square=rule.square, max_side=max_side)
        fitted = first_that_fits(converted, sizes, encode_under_limit)
    finally:
        if converted is not image:
            converted.close()
    if fitted is None:
        *_, smallest = sizes_to_try(image.size, square=rule.square, max_side=max_side)
        limit, shrunk = megabytes(rule.max_bytes), dimensions(*smallest)
        raise InvalidInput([about("image", "too_detailed", limit=limit, smallest=shrunk)])
    data, (width, height) = fitted
    result = InputImage(data=data, format=SENDABLE[fmt], width=width, height=height)
    return PreparedImage(image=result, original_size=decoded.size)


def _sendable_as_attached(decoded: Decoded, rule: InputRule, max_side: int | None) -> bool:
    """Whether the attached bytes are already what `rule` accepts, so they go unchanged."""
    png_only = rule.formats == frozenset({"PNG"})
    return (
        decoded.as_attached
        and decoded.format in SENDABLE
        and decoded.format in rule.formats
        and len(decoded.data) < rule.max_bytes
        and (max_side is None or max(decoded.size) <= max_side)
        and (not png_only or decoded.image.mode in _PNG_ONLY_MODES)
        # Pillow decodes a PNG that lost its end chunk; the API might not, so write a whole one.
        and (decoded.format != "PNG" or decoded.data.endswith(_PNG_END))
    )


def _largest_square_side(profile: ModelProfile, operation: Operation) -> int | None:
    sides = []
    for size in profile.sizes_for(operation):
        width, _, height = size.partition("x")
        if width.isdigit() and width == height:
            sides.append(int(width))
    return max(sides, default=None)
