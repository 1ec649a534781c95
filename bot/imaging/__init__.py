"""Pillow work: decode, check, normalise and encode images. Always run off the event loop.

Every function here is synchronous and CPU-bound; callers use `asyncio.to_thread`.

An attachment is judged by its bytes, never by its file name or declared content type. It must
be under the byte cap, its header must give at most the pixel cap (checked before any pixel is
decoded), and it must decode completely: a truncated, corrupt or non-image file is refused with a
message for the member. Only common raster formats are opened (PNG, JPEG, WebP, GIF, BMP, TIFF,
AVIF where Pillow has it). EXIF orientation is applied first, so sizes are the ones people see.

The modules, by job: `decode` (opening an attachment under the caps), `prepare` (the image and
mask of an edit or variation, as the model's rule wants them), `masks`, `encode` (modes,
sizes to try, PNG levels), `results` (fitting a result to the upload limit, the mod-log's
contact sheet) and `messages` (what the member reads).
"""

from bot.images.probe import ImageInfo, probe
from bot.imaging.decode import Limits
from bot.imaging.encode import MIN_SIDE
from bot.imaging.masks import MASK_MAX_BYTES
from bot.imaging.prepare import (
    PreparedImage,
    preparation_cost,
    prepare_edit,
    prepare_image,
    prepare_mask,
    prepare_variation,
)
from bot.imaging.results import contact_sheet, fit_file_size

__all__ = [
    "MASK_MAX_BYTES",
    "MIN_SIDE",
    "ImageInfo",
    "Limits",
    "PreparedImage",
    "contact_sheet",
    "fit_file_size",
    "preparation_cost",
    "prepare_edit",
    "prepare_image",
    "prepare_mask",
    "prepare_variation",
    "probe",
]
