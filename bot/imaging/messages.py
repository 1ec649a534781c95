"""What the member reads when an attachment is refused: catalogue messages (`imaging.*`) and
the sizes that fill them in (thousands separated, a multiplication sign, MB to one decimal).

An attachment's messages have one key for each of `image` and `mask` (`imaging.image.damaged`,
`imaging.mask.damaged`), so translators see whole sentences.
"""

from __future__ import annotations

import math
from typing import Literal

from bot.errors import Problem, UserFacingError
from bot.images.profiles import MiB, ModelProfile, Operation

Attachment = Literal["image", "mask"]


def about(what: Attachment, name: str, /, **fields: object) -> Problem:
    """The message `name` about the member's image or mask (`imaging.<what>.<name>`)."""
    return UserFacingError.of(f"imaging.{what}.{name}", **fields)


def unsupported(profile: ModelProfile, operation: Operation) -> Problem:
    kind = "edit" if operation == "edit" else "variation"
    return UserFacingError.of(f"imaging.unsupported.{kind}", model=profile.model)


def not_an_image(what: Attachment) -> Problem:
    return about(what, "not_an_image")


def damaged(what: Attachment) -> Problem:
    return about(what, "damaged")


def too_many_pixels(what: Attachment, max_pixels: int, size: tuple[int, int] | None) -> Problem:
    side = math.isqrt(max_pixels)
    cap = {"max_pixels": count(max_pixels), "max_size": dimensions(side, side)}
    if size is None:
        return about(what, "far_too_many_pixels", **cap)
    pixels = count(size[0] * size[1])
    return about(what, "too_many_pixels", size=dimensions(*size), pixels=pixels, **cap)


def count(number: int) -> str:
    """`number` with its thousands separated (1,204), as both shipped languages write it.

    Written here rather than with a format spec in the catalogue (`{n:,}`), which would fail
    on a missing field instead of showing it."""
    return f"{number:,}"


def dimensions(width: int, height: int) -> str:
    # A real multiplication sign, as people write sizes.
    return f"{width:,} × {height:,}"  # noqa: RUF001


def megabytes(size: int) -> str:
    """`size` bytes in MB, as the messages write it before their " MB" ("4", "0.3")."""
    return f"{size / MiB:,.1f}".removesuffix(".0")
