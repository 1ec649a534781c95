"""What the member reads when an attachment is refused, and how sizes are written in it."""

from __future__ import annotations

import math
from typing import Literal

from bot.images.profiles import MiB, ModelProfile, Operation

Attachment = Literal["image", "mask"]


def unsupported(profile: ModelProfile, operation: Operation) -> str:
    if operation == "edit":
        return f"The image model this bot uses ({profile.model}) can't edit images."
    return f"The image model this bot uses ({profile.model}) can't make variations of an image."


def not_an_image(what: Attachment) -> str:
    return (
        f"Your {what} isn't a picture I can read (I go by the file's contents, not its name). "
        "Attach a PNG, JPEG or WebP image and try again."
    )


def damaged(what: Attachment) -> str:
    return (
        f"Your {what} file is damaged or incomplete (it may have been cut off while saving or "
        "uploading). Save it again and attach the new file."
    )


def too_many_pixels(what: Attachment, max_pixels: int, size: tuple[int, int] | None) -> str:
    side = math.isqrt(max_pixels)
    if size is None:
        found = f"Your {what} has far too many pixels to open safely"
    else:
        found = f"Your {what} is {dimensions(*size)} pixels ({size[0] * size[1]:,} in all)"
    return (
        f"{found}; the most I accept is {max_pixels:,} pixels (about "
        f"{dimensions(side, side)}). Make it smaller and try again."
    )


def dimensions(width: int, height: int) -> str:
    # A real multiplication sign, as people write sizes.
    return f"{width:,} × {height:,}"  # noqa: RUF001


def megabytes(size: int) -> str:
    text = f"{size / MiB:,.1f}".removesuffix(".0")
    return f"{text} MB"
