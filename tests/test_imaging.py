"""bot.imaging: every image is made here with Pillow (or by hand, byte by byte); no fixtures."""

# Messages write sizes with a real multiplication sign, as members read them.
# ruff: noqa: RUF001

from __future__ import annotations

import io
import random
import struct
import time
import zlib

import pytest
from PIL import Image, ImageChops, ImageFile

from bot import imaging
from bot.build import attachment_limits
from bot.config import Settings
from bot.errors import InvalidInput
from bot.front.explain import explain
from bot.images.profiles import InputRule, MiB, build_profile
from bot.imaging.decode import decode
from bot.secrets import Secret
from tests.said import problems as problems_of
from tests.said import refused

DALLE2 = build_profile("dall-e-2", "dall-e-2")
DALLE3 = build_profile("dall-e-3", "dall-e-3")
GPT = build_profile("gpt-image", "gpt-image-1.5")
LIMITS = imaging.Limits(max_bytes=25 * MiB, max_pixels=40_000_000)

RED = (255, 0, 0)
BLUE = (0, 0, 255)


# --- making images -----------------------------------------------------------------------------


def encode(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def solid(size: tuple[int, int], colour: tuple[int, ...] = RED, mode: str = "RGB") -> Image.Image:
    return Image.new(mode, size, colour)


def noise(size: tuple[int, int], mode: str = "RGB", seed: int = 1) -> Image.Image:
    """Incompressible pixels, the same on every run."""
    channels = len(mode)
    data = random.Random(seed).randbytes(size[0] * size[1] * channels)
    return Image.frombytes(mode, size, data)


def halves(size: tuple[int, int], left: tuple[int, ...], right: tuple[int, ...], mode: str):
    image = Image.new(mode, size, right)
    image.paste(left, (0, 0, size[0] // 2, size[1]))
    return image


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_claiming(width: int, height: int) -> bytes:
    """A valid PNG header for an RGB image of any size, followed by a few bytes of pixel data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + png_chunk(b"IEND", b"")
    )


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def close_to(pixel: object, expected: tuple[int, ...], tolerance: int = 8) -> bool:
    assert isinstance(pixel, tuple)
    return len(pixel) == len(expected) and all(
        abs(a - b) <= tolerance for a, b in zip(pixel, expected, strict=True)
    )


# --- limits and unreadable files ---------------------------------------------------------------


def test_limits_come_from_the_settings() -> None:
    settings = Settings(
        discord_token=Secret("x" * 20),
        openai_api_key=None,
        max_attachment_bytes=1234,
        max_image_pixels=5678,
    )

    assert attachment_limits(settings) == imaging.Limits(1234, 5678)


def test_a_decompression_bomb_is_refused_from_its_header() -> None:
    bomb = png_claiming(30_000, 30_000)  # 900 million pixels in a file of about 100 bytes
    assert len(bomb) < 200

    started = time.perf_counter()
    with pytest.raises(InvalidInput) as error:
        imaging.prepare_edit(bomb, None, GPT, LIMITS)

    assert time.perf_counter() - started < 1
    (problem,) = problems_of(error)
    assert "too many pixels" in problem
    assert "40,000,000 pixels" in problem


def test_the_pixel_cap_is_checked_before_the_pixels_are_decoded() -> None:
    # The header says 8,000 x 8,000 but the pixel data is garbage: a decode would call the file
    # damaged. Being told about the size proves nothing was decoded.
    with pytest.raises(InvalidInput) as error:
        imaging.prepare_edit(png_claiming(8_000, 8_000), None, GPT, LIMITS)

    (problem,) = problems_of(error)
    assert "8,000 × 8,000 pixels" in problem
    assert "64,000,000" in problem
    assert "40,000,000" in problem
    assert "damaged" not in problem


def test_a_real_bomb_encoded_with_pillow_is_refused_quickly() -> None:
    bomb = encode(Image.new("1", (8_000, 8_000)), "PNG")  # 64 million pixels, a few kilobytes
    assert len(bomb) < 50_000

    started = time.perf_counter()
    with pytest.raises(InvalidInput) as error:
        imaging.prepare_variation(bomb, DALLE2, LIMITS)

    assert time.perf_counter() - started < 0.5
    assert "the most I accept is 40,000,000 pixels" in explain(None, error.value)


def test_a_file_over_the_byte_cap_is_refused_before_opening() -> None:
    data = encode(noise((300, 300)), "PNG")
    limits = imaging.Limits(max_bytes=100_000, max_pixels=LIMITS.max_pixels)
    assert len(data) > limits.max_bytes

    with pytest.raises(InvalidInput) as error:
        imaging.prepare_edit(data, None, GPT, limits)

    assert "Your image is 0.3 MB; the most I accept is 0.1 MB" in explain(None, error.value)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_a_truncated_file_is_refused_as_damaged(fmt: str) -> None:
    data = encode(noise((300, 300)), fmt)

    for cut in (len(data) // 2, 100):
        with pytest.raises(InvalidInput) as error:
            imaging.prepare_edit(data[:-cut], None, GPT, LIMITS)
        assert "damaged or incomplete" in explain(None, error.value)
    # Never "fixed" by letting Pillow fill in the missing pixels.
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_a_truncated_jpeg_is_refused_for_dalle2_too() -> None:
    data = encode(noise((256, 256)), "JPEG")

    with pytest.raises(InvalidInput) as error:
        imaging.prepare_variation(data[: len(data) * 2 // 3], DALLE2, LIMITS)

    assert "Your image file is damaged or incomplete" in explain(None, error.value)


@pytest.mark.parametrize(
    "data",
    [
        random.Random(7).randbytes(4096),
        b"just some text, named cat.png by its sender\n" * 20,
        b"<svg xmlns='http://www.w3.org/2000/svg'/>",
    ],
    ids=["random bytes", "text", "svg"],
)
def test_something_that_is_not_an_image_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput) as error:
        imaging.prepare_edit(data, None, GPT, LIMITS)

    assert "isn't a picture I can read" in explain(None, error.value)


def test_a_file_that_only_starts_like_a_png_is_called_damaged() -> None:
    with refused("damaged or incomplete"):
        imaging.prepare_edit(b"\x89PNG\r\n\x1a\n" + b"not really" * 10, None, GPT, LIMITS)


def test_an_empty_file_is_refused() -> None:
    with refused("empty file"):
        imaging.prepare_variation(b"", DALLE2, LIMITS)


def test_formats_outside_the_allow_list_are_not_opened() -> None:
    data = encode(solid((64, 64)), "PPM")  # Pillow reads PPM; a chat attachment has no need to

    with refused("isn't a picture I can read"):
        imaging.prepare_edit(data, None, GPT, LIMITS)


# --- the DALL-E 2 contract ---------------------------------------------------------------------


def test_dalle2_converts_a_jpeg_to_an_rgba_png() -> None:
    data = encode(solid((512, 512)), "JPEG")

    result = imaging.prepare_variation(data, DALLE2, LIMITS)

    assert (result.format, result.width, result.height) == ("png", 512, 512)
    assert result.content_type == "image/png"
    with opened(result.data) as image:
        assert image.format == "PNG"
        # The edit endpoint refuses RGB PNGs ("format must be in ['RGBA', 'LA', 'L']").
        assert image.mode == "RGBA"
        assert close_to(image.getpixel((100, 100)), (*RED, 255))


def test_dalle2_converts_a_webp() -> None:
    data = encode(halves((300, 300), RED, BLUE, "RGB"), "WEBP", lossless=True)

    result = imaging.prepare_variation(data, DALLE2, LIMITS)

    with opened(result.data) as image:
        assert (image.format, image.size) == ("PNG", (300, 300))
        assert image.getpixel((10, 150)) == (*RED, 255)
        assert image.getpixel((290, 150)) == (*BLUE, 255)


def test_dalle2_passes_an_rgba_png_through_unchanged() -> None:
    picture = solid((256, 256), (10, 200, 30, 255), "RGBA")
    picture.putpixel((5, 5), (0, 0, 0, 0))
    data = encode(picture, "PNG")

    result = imaging.prepare_variation(data, DALLE2, LIMITS)

    assert result.data == data
    assert (result.format, result.width, result.height) == ("png", 256, 256)


def test_dalle2_gives_an_rgb_png_an_alpha_channel_without_changing_the_picture() -> None:
    data = encode(solid((256, 256), BLUE), "PNG")

    result = imaging.prepare_variation(data, DALLE2, LIMITS)

    assert result.data != data
    with opened(result.data) as image:
        assert image.mode == "RGBA"
        assert image.getpixel((0, 0)) == (*BLUE, 255)


def test_a_palette_image_with_transparency_keeps_it() -> None:
    picture = solid((128, 128), (0, 0, 0, 0), "RGBA")
    picture.paste((*RED, 255), (0, 0, 64, 128))
    data = encode(picture.convert("P"), "GIF", transparency=0)
    with opened(data) as check:
        assert check.mode == "P"

    result = imaging.prepare_variation(data, DALLE2, LIMITS)

    with opened(result.data) as image:
        assert image.mode == "RGBA"
        assert image.getpixel((10, 10)) == (*RED, 255)
        assert image.getpixel((100, 10))[3] == 0


def test_a_greyscale_png_with_alpha_stays_greyscale_with_alpha() -> None:
    data = encode(solid((128, 128), (90, 128), "LA"), "PNG")

    result = imaging.prepare_variation(data, DALLE2, LIMITS)

    assert result.data == data


def test_a_16_bit_greyscale_png_is_scaled_to_8_bits_not_clipped() -> None:
    data = encode(Image.new("I;16", (256, 256), 40_000), "PNG")
    with opened(data) as check:
        assert check.mode.startswith("I")

    result = imaging.prepare_variation(data, DALLE2, LIMITS)

    with opened(result.data) as image:
        assert image.mode == "L"
        assert image.getpixel((100, 100)) == 40_000 // 256


def test_dalle2_uses_the_first_frame_of_a_gif() -> None:
    frames = [solid((200, 200), RED), solid((200, 200), BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    with Image.open(io.BytesIO(data)) as check:
        assert check.n_frames == 2

    result = imaging.prepare_variation(data, DALLE2, LIMITS)

    with opened(result.data) as image:
        assert (image.format, image.size) == ("PNG", (200, 200))
        assert close_to(image.getpixel((100, 100)), (*RED, 255))


def test_dalle2_refuses_a_non_square_image_and_says_how_to_fix_it() -> None:
    data = encode(solid((5_000, 3_000)), "PNG")

    with pytest.raises(InvalidInput) as error:
        imaging.prepare_variation(data, DALLE2, LIMITS)

    assert problems_of(error) == (
        "Your image is 5,000 × 3,000 pixels; it needs to be square for this model. Crop it to "
        "a square (for example 1,024 × 1,024) and try again.",
    )


def test_dalle2_downscales_a_large_image_to_1024() -> None:
    picture = halves((2_048, 2_048), RED, BLUE, "RGB")
    data = encode(picture, "PNG")

    result = imaging.prepare_variation(data, DALLE2, LIMITS)

    assert (result.width, result.height) == (1_024, 1_024)
    assert len(result.data) < DALLE2.input.max_bytes
    with opened(result.data) as image:
        assert image.size == (1_024, 1_024)
        assert image.getpixel((100, 500)) == (*RED, 255)
        assert image.getpixel((900, 500)) == (*BLUE, 255)


def test_the_decode_cost_is_read_from_the_header_before_any_pixel() -> None:
    photo = encode(noise((512, 512)), "PNG")
    bomb = png_claiming(30_000, 30_000)

    assert imaging.preparation_cost(photo, None, GPT, "edit", LIMITS) >= 512 * 512 * 4
    # Refused by the pixel cap before decoding: nothing to reserve.
    assert imaging.preparation_cost(bomb, None, GPT, "edit", LIMITS) == 1
    assert imaging.preparation_cost(b"not a picture", None, GPT, "edit", LIMITS) == 1
    with_mask = imaging.preparation_cost(photo, photo, GPT, "edit", LIMITS)
    assert with_mask == 2 * imaging.preparation_cost(photo, None, GPT, "edit", LIMITS)


def test_a_large_square_jpeg_is_drafted_and_reserved_at_its_drafted_size() -> None:
    data = encode(halves((4_096, 4_096), RED, BLUE, "RGB"), "JPEG", quality=90)

    drafted = imaging.preparation_cost(data, None, DALLE2, "variation", LIMITS)
    full = imaging.preparation_cost(data, None, GPT, "edit", LIMITS)
    decoded = decode(data, LIMITS, "image", draft_side=1_024)
    try:
        assert decoded.image.size == (1_024, 1_024)  # libjpeg decoded it at a quarter
        assert decoded.size == (4_096, 4_096)  # as the member attached it
    finally:
        decoded.image.close()
    assert drafted < full / 10


def test_a_huge_palette_png_is_reduced_in_strips_and_looks_the_same() -> None:
    # The picture, smaller: a palette PNG of a few KB that is huge once converted.
    picture = halves((4_200, 4_200), RED, BLUE, "RGB").quantize(4)
    data = encode(picture, "PNG")

    cost = imaging.preparation_cost(data, None, DALLE2, "variation", LIMITS)
    result = imaging.prepare_variation(data, DALLE2, LIMITS)

    # Decoded (1 byte a pixel) plus a reduced working copy, not a full-size RGBA one.
    assert cost < 4_200 * 4_200 * (1 + 4)
    with opened(result.data) as image:
        assert image.size == (1_024, 1_024)
        assert image.mode == "RGBA"
        assert close_to(image.getpixel((100, 500)), (*RED, 255))
        assert close_to(image.getpixel((900, 500)), (*BLUE, 255))
        assert close_to(image.getpixel((100, 1_023)), (*RED, 255))  # the last strip too


def test_a_reduced_palette_png_keeps_its_transparency() -> None:
    picture = Image.new("P", (4_200, 4_200), 0)
    picture.putpalette([255, 0, 0, 0, 0, 255])
    picture.paste(1, (2_100, 0, 4_200, 4_200))
    data = encode(picture, "PNG", transparency=1)

    result = imaging.prepare_variation(data, DALLE2, LIMITS)

    with opened(result.data) as image:
        assert close_to(image.getpixel((100, 500)), (*RED, 255))
        assert image.getpixel((900, 500))[3] == 0


def test_dalle2_downscales_a_large_jpeg_that_also_weighs_too_much() -> None:
    data = encode(noise((2_400, 2_400)), "JPEG", quality=95)
    assert len(data) >= DALLE2.input.max_bytes

    prepared = imaging.prepare_image(data, DALLE2.input, LIMITS, max_side=1_024)

    assert prepared.original_size == (2_400, 2_400)
    image = prepared.image
    assert (image.format, image.width, image.height) == ("png", 1_024, 1_024)
    assert len(image.data) < 4 * MiB


def test_a_square_image_still_too_heavy_is_halved_until_it_fits() -> None:
    rule = InputRule(formats=frozenset({"PNG"}), max_bytes=1 * MiB, square=True, max_images=1)
    data = encode(noise((1_500, 1_500)), "PNG")  # noise: about 3 bytes a pixel whatever the size

    prepared = imaging.prepare_image(data, rule, LIMITS, max_side=1_024)

    assert (prepared.image.width, prepared.image.height) == (512, 512)
    assert len(prepared.image.data) < 1 * MiB


def test_a_small_square_image_is_not_enlarged() -> None:
    data = encode(solid((300, 300)), "JPEG")

    result = imaging.prepare_variation(data, DALLE2, LIMITS)

    assert (result.width, result.height) == (300, 300)


def test_an_exif_rotated_jpeg_is_turned_upright() -> None:
    # Stored 200 wide and 100 high, red on the left; orientation 6 shows it turned a quarter
    # clockwise: 100 wide and 200 high, red at the top.
    exif = Image.Exif()
    exif[0x0112] = 6
    data = encode(halves((200, 100), RED, BLUE, "RGB"), "JPEG", exif=exif, quality=95)

    prepared = imaging.prepare_image(data, GPT.input, LIMITS)

    assert prepared.original_size == (100, 200)
    image = prepared.image
    assert (image.format, image.width, image.height) == ("jpeg", 100, 200)
    assert image.data != data
    with opened(image.data) as upright:
        assert upright.size == (100, 200)
        assert close_to(upright.getpixel((50, 20)), RED, tolerance=24)
        assert close_to(upright.getpixel((50, 180)), BLUE, tolerance=24)
        assert upright.getexif().get(0x0112) is None


def test_dalle2_turns_an_exif_rotated_square_jpeg_before_converting_it() -> None:
    exif = Image.Exif()
    exif[0x0112] = 8  # a quarter turn anticlockwise: the left half ends up at the bottom
    data = encode(halves((256, 256), RED, BLUE, "RGB"), "JPEG", exif=exif, quality=95)

    result = imaging.prepare_variation(data, DALLE2, LIMITS)

    with opened(result.data) as image:
        assert close_to(image.getpixel((128, 240)), (*RED, 255), tolerance=24)
        assert close_to(image.getpixel((128, 15)), (*BLUE, 255), tolerance=24)


# --- the GPT image contract --------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "expected"), [("JPEG", "jpeg"), ("WEBP", "webp"), ("PNG", "png")])
def test_gpt_passes_accepted_formats_through_unchanged(fmt: str, expected: str) -> None:
    data = encode(halves((640, 360), RED, BLUE, "RGB"), fmt)

    image, mask = imaging.prepare_edit(data, None, GPT, LIMITS)

    assert mask is None
    assert image.data is data
    assert (image.format, image.width, image.height) == (expected, 640, 360)


def test_gpt_accepts_a_non_square_image() -> None:
    data = encode(solid((1_000, 300)), "PNG")

    image, _ = imaging.prepare_edit(data, None, GPT, LIMITS)

    assert (image.width, image.height) == (1_000, 300)


@pytest.mark.parametrize("fmt", ["BMP", "TIFF"])
def test_gpt_turns_other_formats_into_png(fmt: str) -> None:
    data = encode(halves((120, 80), RED, BLUE, "RGB"), fmt)

    image, _ = imaging.prepare_edit(data, None, GPT, LIMITS)

    assert (image.format, image.width, image.height) == ("png", 120, 80)
    with opened(image.data) as png:
        assert png.mode == "RGB"
        assert png.getpixel((10, 40)) == RED
        assert png.getpixel((110, 40)) == BLUE


def test_gpt_uses_the_first_frame_of_a_gif() -> None:
    frames = [solid((160, 90), RED), solid((160, 90), BLUE)]
    data = encode(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)

    image, _ = imaging.prepare_edit(data, None, GPT, LIMITS)

    assert image.format == "png"
    with opened(image.data) as png:
        assert close_to(png.getpixel((80, 45)), RED)


def test_gpt_re_encodes_an_animated_png_as_its_first_frame() -> None:
    frames = [solid((64, 64), RED), solid((64, 64), BLUE)]
    data = encode(frames[0], "PNG", save_all=True, append_images=frames[1:])
    with Image.open(io.BytesIO(data)) as check:
        assert check.is_animated

    image, _ = imaging.prepare_edit(data, None, GPT, LIMITS)

    assert image.data != data
    with Image.open(io.BytesIO(image.data)) as png:
        assert not getattr(png, "is_animated", False)
        assert png.getpixel((5, 5)) == RED


def test_gpt_re_encodes_an_animated_webp_as_its_first_frame() -> None:
    frames = [solid((64, 64), RED), solid((64, 64), BLUE)]
    data = encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    with Image.open(io.BytesIO(data)) as check:
        assert check.is_animated

    image, _ = imaging.prepare_edit(data, None, GPT, LIMITS)

    assert image.format == "png"
    with opened(image.data) as png:
        assert png.getpixel((5, 5))[:3] == RED


def test_a_png_that_lost_its_end_chunk_is_rewritten_whole() -> None:
    data = encode(solid((64, 64), BLUE), "PNG")[:-12]

    image, _ = imaging.prepare_edit(data, None, GPT, LIMITS)

    assert image.data != data
    assert image.data.endswith(b"IEND\xaeB`\x82")
    with opened(image.data) as png:
        assert png.getpixel((0, 0)) == BLUE


def test_gpt_shrinks_an_image_over_the_models_byte_limit() -> None:
    rule = InputRule(
        formats=frozenset({"PNG", "JPEG", "WEBP"}), max_bytes=1_000_000, square=False, max_images=16
    )
    data = encode(noise((1_200, 800)), "PNG")  # about 2.9 MB
    assert len(data) > rule.max_bytes

    prepared = imaging.prepare_image(data, rule, LIMITS)

    image = prepared.image
    assert len(image.data) < rule.max_bytes
    assert image.format == "png"
    assert image.width < 1_200
    assert abs(image.width / image.height - 1.5) < 0.01
    assert prepared.original_size == (1_200, 800)


# --- masks -------------------------------------------------------------------------------------


def mask_with_hole(size: tuple[int, int], hole: tuple[int, int, int, int]) -> Image.Image:
    mask = solid(size, (0, 0, 0, 255), "RGBA")
    mask.paste((0, 0, 0, 0), hole)
    return mask


def test_a_mask_with_alpha_is_used_as_it_is() -> None:
    image = encode(solid((256, 256)), "PNG")
    mask = mask_with_hole((256, 256), (0, 0, 100, 100))
    mask.putpixel((200, 200), (12, 34, 56, 255))

    _, prepared = imaging.prepare_edit(image, encode(mask, "PNG"), DALLE2, LIMITS)

    assert prepared is not None
    assert (prepared.format, prepared.width, prepared.height) == ("png", 256, 256)
    with opened(prepared.data) as result:
        assert result.mode == "RGBA"
        assert result.getpixel((50, 50))[3] == 0
        assert result.getpixel((200, 200)) == (12, 34, 56, 255)


@pytest.mark.parametrize("mode", ["L", "RGB", "1"])
def test_a_black_and_white_mask_without_alpha_marks_white_for_editing(mode: str) -> None:
    image = encode(solid((256, 256)), "PNG")
    white = 255 if mode in ("L", "1") else (255, 255, 255)
    black = 0 if mode in ("L", "1") else (0, 0, 0)
    drawing = Image.new(mode, (256, 256), black)
    drawing.paste(white, (0, 0, 128, 256))

    _, prepared = imaging.prepare_edit(image, encode(drawing, "PNG"), DALLE2, LIMITS)

    assert prepared is not None
    with opened(prepared.data) as mask:
        assert mask.mode == "RGBA"
        assert mask.getpixel((10, 10))[3] == 0  # white: edit here
        assert mask.getpixel((250, 10))[3] == 255  # black: keep
        assert mask.getchannel("A").histogram()[0] == 128 * 256


def test_grey_counts_as_white_from_128() -> None:
    image = encode(solid((64, 64)), "PNG")
    drawing = Image.new("L", (64, 64), 127)
    drawing.paste(128, (0, 0, 32, 64))

    _, prepared = imaging.prepare_edit(image, encode(drawing, "PNG"), GPT, LIMITS)

    assert prepared is not None
    with opened(prepared.data) as mask:
        assert mask.getpixel((0, 0))[3] == 0
        assert mask.getpixel((63, 0))[3] == 255


def test_a_drawing_saved_with_an_unused_alpha_channel_is_read_as_a_drawing() -> None:
    image = encode(solid((64, 64)), "PNG")
    drawing = solid((64, 64), (0, 0, 0, 255), "RGBA")
    drawing.paste((255, 255, 255, 255), (0, 0, 32, 32))

    _, prepared = imaging.prepare_edit(image, encode(drawing, "PNG"), GPT, LIMITS)

    assert prepared is not None
    with opened(prepared.data) as mask:
        assert mask.getpixel((5, 5))[3] == 0
        assert mask.getpixel((60, 60))[3] == 255


@pytest.mark.parametrize(
    "mask",
    [
        solid((256, 256), (0, 0, 0), "RGB"),  # all black: nothing marked
        solid((256, 256), (255, 255, 255, 128), "RGBA"),  # half transparent is not transparent
        solid((256, 256), (0, 0, 0, 255), "RGBA"),
    ],
    ids=["black drawing", "half transparent", "opaque"],
)
def test_a_mask_that_marks_nothing_is_refused(mask: Image.Image) -> None:
    image = encode(solid((256, 256)), "PNG")

    with pytest.raises(InvalidInput) as error:
        imaging.prepare_edit(image, encode(mask, "PNG"), DALLE2, LIMITS)

    (problem,) = problems_of(error)
    assert "no fully transparent (or white) area" in problem
    assert "would change nothing" in problem


def test_a_mask_of_the_wrong_size_is_refused_with_both_sizes() -> None:
    image = encode(solid((1_536, 1_024)), "PNG")
    mask = encode(mask_with_hole((1_024, 1_024), (0, 0, 10, 10)), "PNG")

    with pytest.raises(InvalidInput) as error:
        imaging.prepare_edit(image, mask, GPT, LIMITS)

    (problem,) = problems_of(error)
    assert "Your mask is 1,024 × 1,024 pixels but your image is 1,536 × 1,024" in problem
    assert "Export the mask at 1,536 × 1,024" in problem


def test_a_mask_is_downscaled_with_its_image_and_stays_crisp() -> None:
    image = encode(halves((2_048, 2_048), RED, BLUE, "RGB"), "PNG")
    mask = encode(mask_with_hole((2_048, 2_048), (0, 0, 1_000, 2_048)), "PNG")

    prepared, prepared_mask = imaging.prepare_edit(image, mask, DALLE2, LIMITS)

    assert (prepared.width, prepared.height) == (1_024, 1_024)
    assert prepared_mask is not None
    assert (prepared_mask.width, prepared_mask.height) == (1_024, 1_024)
    with opened(prepared_mask.data) as result:
        assert result.size == (1_024, 1_024)
        histogram = result.getchannel("A").histogram()
        assert histogram[0] + histogram[255] == 1_024 * 1_024  # no soft edge
        assert histogram[0] == 500 * 1_024
        assert result.getpixel((499, 10))[3] == 0
        assert result.getpixel((500, 10))[3] == 255


def test_a_mask_area_that_vanishes_when_shrunk_is_refused() -> None:
    image = encode(solid((2_048, 2_048)), "PNG")
    mask = mask_with_hole((2_048, 2_048), (0, 0, 1, 1))  # one pixel, lost by a 2:1 reduction
    assert mask.resize((1_024, 1_024), Image.Resampling.NEAREST).getchannel("A").getextrema()[0]

    with refused("disappears when the mask is shrunk to 1,024 × 1,024"):
        imaging.prepare_edit(image, encode(mask, "PNG"), DALLE2, LIMITS)


def test_a_mask_matches_the_image_as_shown_after_exif_rotation() -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    image = encode(solid((300, 200)), "JPEG", exif=exif)
    mask = encode(mask_with_hole((200, 300), (0, 0, 50, 50)), "PNG")

    prepared, prepared_mask = imaging.prepare_edit(image, mask, GPT, LIMITS)

    assert (prepared.width, prepared.height) == (200, 300)
    assert prepared_mask is not None
    assert (prepared_mask.width, prepared_mask.height) == (200, 300)


def test_prepare_mask_on_its_own() -> None:
    prepared = imaging.prepare_image(
        encode(solid((2_048, 2_048)), "PNG"), DALLE2.input, LIMITS, max_side=1_024
    )
    drawing = Image.new("L", (2_048, 2_048), 0)
    drawing.paste(255, (1_024, 1_024, 2_048, 2_048))

    mask = imaging.prepare_mask(encode(drawing, "PNG"), prepared, LIMITS)

    assert (mask.format, mask.width, mask.height) == ("png", 1_024, 1_024)
    with opened(mask.data) as result:
        assert result.getpixel((500, 500))[3] == 255
        assert result.getpixel((520, 520))[3] == 0
        assert result.getchannel("A").histogram()[0] == 512 * 512


def test_a_noisy_mask_is_still_sent_under_4_mb() -> None:
    image = encode(solid((1_024, 1_024)), "PNG")
    mask = noise((1_024, 1_024), "RGBA")
    mask.putpixel((0, 0), (1, 2, 3, 0))
    data = encode(mask, "PNG")
    assert len(data) >= imaging.MASK_MAX_BYTES

    _, prepared = imaging.prepare_edit(image, data, DALLE2, LIMITS)

    assert prepared is not None
    assert len(prepared.data) < imaging.MASK_MAX_BYTES
    with opened(prepared.data) as result:
        assert result.getchannel("A").tobytes() == mask.getchannel("A").tobytes()


def test_an_unreadable_mask_is_named_as_the_mask() -> None:
    image = encode(solid((256, 256)), "PNG")

    with pytest.raises(InvalidInput) as error:
        imaging.prepare_edit(image, b"not an image at all", DALLE2, LIMITS)

    assert problems_of(error) == (
        "Your mask isn't a picture I can read (I go by the file's contents, not its name). "
        "Attach a PNG, JPEG or WebP image and try again.",
    )


# --- edits and variations as a whole ------------------------------------------------------------


def test_dalle2_edits_need_a_mask() -> None:
    image = encode(solid((256, 256)), "PNG")

    with refused("This model needs a mask"):
        imaging.prepare_edit(image, None, DALLE2, LIMITS)


def test_every_problem_with_an_edit_is_reported_at_once() -> None:
    image = encode(solid((600, 400)), "JPEG")
    mask = encode(solid((300, 300), (0, 0, 0)), "PNG")

    with pytest.raises(InvalidInput) as error:
        imaging.prepare_edit(image, mask, DALLE2, LIMITS)

    problems = problems_of(error)
    assert len(problems) == 3
    assert "needs to be square" in problems[0]
    assert "Your mask is 300 × 300 pixels but your image is 600 × 400" in problems[1]
    assert "no fully transparent" in problems[2]
    # What the member reads (the front renders the problems; errors carry data).
    assert explain(None, error.value).startswith("There are a few problems with that request:\n- ")


def test_an_unreadable_image_and_an_unreadable_mask_are_both_reported() -> None:
    with pytest.raises(InvalidInput) as error:
        imaging.prepare_edit(b"nope", png_claiming(9_000, 9_000), DALLE2, LIMITS)

    problems = problems_of(error)
    assert problems[0].startswith("Your image isn't a picture")
    assert problems[1].startswith("Your mask is 9,000 × 9,000 pixels")


def test_models_without_the_operation_are_refused() -> None:
    image = encode(solid((256, 256)), "PNG")

    with refused(r"\(dall-e-3\) can't edit images"):
        imaging.prepare_edit(image, None, DALLE3, LIMITS)
    with refused(r"\(gpt-image-1.5\) can't make variations"):
        imaging.prepare_variation(image, GPT, LIMITS)


# --- results too large to post -----------------------------------------------------------------


def test_a_result_under_the_upload_limit_is_left_alone() -> None:
    data = encode(solid((64, 64)), "PNG")

    assert imaging.fit_file_size(data, len(data)) == (data, "png")


def test_a_large_result_becomes_a_jpeg_that_fits() -> None:
    data = encode(noise((1_000, 800)), "PNG")
    limit = 400_000

    fitted, extension = imaging.fit_file_size(data, limit)

    assert extension == "jpg"
    assert len(fitted) <= limit
    with opened(fitted) as image:
        assert image.format == "JPEG"
        assert abs(image.width / image.height - 1.25) < 0.01


def test_a_large_transparent_result_becomes_a_webp_that_keeps_its_alpha() -> None:
    picture = noise((800, 800), "RGBA")
    picture.paste((0, 0, 0, 0), (0, 0, 400, 800))
    data = encode(picture, "PNG")
    limit = len(data) // 3

    fitted, extension = imaging.fit_file_size(data, limit)

    assert extension == "webp"
    assert len(fitted) <= limit
    with opened(fitted) as image:
        assert image.mode == "RGBA"
        assert image.getpixel((10, 10))[3] == 0


def test_a_result_that_is_not_an_image_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not an image"):
        imaging.fit_file_size(b"garbage" * 100, 10)


# --- probe, unchanged --------------------------------------------------------------------------


def test_probe_reads_the_header_only() -> None:
    info = imaging.probe(png_claiming(4_000, 3_000))

    assert info == imaging.ImageInfo(format="png", width=4_000, height=3_000)


def test_a_png_is_compressed_harder_before_it_is_made_smaller() -> None:
    # PNGs are written with fast compression first; one that is then over the limit is
    # compressed harder at the same size, and halved only if that does not fit either.
    gradient = Image.linear_gradient("L").resize((512, 512))
    grain = ImageChops.add(gradient, Image.effect_noise((512, 512), 6), 1.0, -128)
    data = encode(Image.merge("RGB", (grain, gradient, grain.rotate(90))), "JPEG", quality=95)
    with opened(data) as decoded:
        rgba = decoded.convert("RGBA")
    fast, small = (len(encode(rgba, "PNG", compress_level=level)) for level in (1, 6))
    assert small < fast
    rule = InputRule(
        formats=frozenset({"PNG"}), max_bytes=(fast + small) // 2, square=True, max_images=1
    )

    prepared = imaging.prepare_image(data, rule, LIMITS, max_side=512)

    assert (prepared.image.width, prepared.image.height) == (512, 512)
    assert len(prepared.image.data) < rule.max_bytes


def test_the_default_pixel_cap_refuses_what_no_model_needs() -> None:
    # A 6300x6300 palette PNG of a few KB held ~380 MiB once prepared; the default cap now
    # stops at 5000x5000, which a 24-megapixel camera's photo fits.
    limits = attachment_limits(Settings(discord_token=Secret("x" * 20), openai_api_key=None))
    photo = png_claiming(6_000, 4_000)

    assert imaging.preparation_cost(photo, None, GPT, "edit", limits) > 1
    with pytest.raises(InvalidInput) as error:
        imaging.prepare_variation(png_claiming(6_300, 6_300), DALLE2, limits)
    (problem,) = problems_of(error)
    assert "6,300 × 6,300 pixels" in problem
    assert "25,000,000 pixels" in problem
