"""Masks: fully transparent pixels (alpha 0) mark the area to edit, as in the API.

A mask with no alpha channel, or whose alpha is opaque everywhere, is read as a drawing: WHITE
marks the area to edit and black keeps the picture (greyscale value 128 or more counts as white).
A mask must be exactly the size of its image as attached; it is then scaled with the image
(NEAREST, so the edges stay crisp) and sent as an RGBA PNG.
"""

from __future__ import annotations

from PIL import Image

from bot.errors import InvalidInput, Said
from bot.images.profiles import MiB
from bot.images.requests import InputImage
from bot.imaging.decode import Decoded
from bot.imaging.encode import eight_bit, encode, has_alpha
from bot.imaging.messages import about, dimensions

MASK_MAX_BYTES = 4 * MiB  # the API's limit for a mask, whatever the model


def read_mask(decoded: Decoded, image_size: tuple[int, int]) -> tuple[Image.Image, list[Said]]:
    """The mask as RGBA (alpha 0 = edit here) and whatever is wrong with it."""
    problems: list[Said] = []
    if decoded.size != image_size:
        problems.append(
            about(
                "mask",
                "wrong_size",
                mask_size=dimensions(*decoded.size),
                image_size=dimensions(*image_size),
            )
        )
    mask = _mask_rgba(decoded.image)
    if not _has_clear_pixel(mask):
        problems.append(about("mask", "nothing_to_edit"))
    return mask, problems


def fit_mask(mask: Image.Image, image: InputImage) -> InputImage:
    """`mask` scaled to the image as sent, encoded as an RGBA PNG under the API's mask limit."""
    size = (image.width, image.height)
    if mask.size != size:
        mask = mask.resize(size, Image.Resampling.NEAREST)
        if not _has_clear_pixel(mask):
            raise InvalidInput([about("mask", "vanishes", size=dimensions(*size))])
    data = encode(mask, "PNG", under=MASK_MAX_BYTES)
    if len(data) >= MASK_MAX_BYTES:
        # Only the alpha channel matters to the API; plain colour compresses to almost nothing.
        alpha = mask.getchannel("A")
        black = Image.new("L", size, 0)
        with Image.merge("RGBA", (black, black, black, alpha)) as flat:
            data = encode(flat, "PNG", under=MASK_MAX_BYTES)
    return InputImage(data=data, format="png", width=size[0], height=size[1])


def _mask_rgba(image: Image.Image) -> Image.Image:
    image = eight_bit(image)
    if has_alpha(image):
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
