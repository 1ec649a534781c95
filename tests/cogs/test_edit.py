"""/edit end to end: attachments from the fake CDN, checks, a multipart edit, files back."""

from __future__ import annotations

import io

from PIL import Image

from tests.cogs.support import mask, picture, private_reply, refused_at_once, result, size_of
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord
from tests.fakes.images_api import FakeImagesAPI

TIMES = "\N{MULTIPLICATION SIGN}"  # the bot writes pixel sizes with a real one


async def test_dall_e_2_edit_sends_square_rgba_pngs_as_multipart(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    # A JPEG photo: DALL-E 2 takes only PNG (with an alpha channel), so it is converted.
    image = fake_discord.add_attachment(picture(512, 512, format="JPEG"), "photo.jpg")
    drawn = fake_discord.add_attachment(mask(512, 512), "mask.png")
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        interaction = await fake_discord.invoke(
            "edit",
            {"image": image, "mask": drawn, "prompt": "add a moon", "n": 2, "size": "512x512"},
        )
        seen = await result(interaction)
    assert len(seen.files) == 2
    assert all(size_of(f.data) == (512, 512) for f in seen.files)
    assert "add a moon" in seen.content
    assert "/edit" in seen.content
    [request] = fake_api.requests
    assert request.path == "/v1/images/edits"
    assert request.is_multipart
    assert request.file_names == ["image", "mask"]
    for part in request.files:
        assert part.content_type == "image/png"
        assert part.data.startswith(b"\x89PNG")
        with Image.open(io.BytesIO(part.data)) as sent:
            assert sent.mode == "RGBA"
            assert sent.size == (512, 512)
    assert request.fields["prompt"] == "add a moon"
    assert request.fields["n"] == "2"
    assert request.fields["user"].startswith("u-")
    assert str(fake_discord.member.id) not in request.fields["user"]
    assert fake_discord.attachment(image["id"]).downloads == 1
    assert not fake_api.violations
    assert not fake_discord.violations


async def test_gpt_image_edits_without_a_mask_and_keeps_a_jpeg_as_it_is(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    photo = picture(640, 480, format="JPEG")
    image = fake_discord.add_attachment(photo, "photo.jpg")
    async with start_bot(IMAGE_MODEL="gpt-image-1-mini"):
        interaction = await fake_discord.invoke(
            "edit", {"image": image, "prompt": "make it winter", "quality": "low"}
        )
        seen = await result(interaction)
    assert len(seen.files) == 1
    [request] = fake_api.requests
    assert request.is_multipart
    assert request.file_names == ["image"]
    assert request.files[0].content_type == "image/jpeg"
    assert request.files[0].data == photo
    assert request.fields["quality"] == "low"
    assert "input_fidelity" not in request.fields
    assert not fake_api.violations


async def test_a_non_image_attachment_is_refused_once_its_bytes_are_read(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    # The declared type is a hint only (issue 10): the bytes decide, and these are no picture.
    notes = fake_discord.add_attachment(b"shopping list: eggs", "notes.txt", "text/plain")
    async with start_bot():
        interaction = await fake_discord.invoke("edit", {"image": notes, "prompt": "a cat"})
        text = await private_reply(interaction)
    assert "isn't a picture I can read" in text
    assert fake_api.requests == []


async def test_a_file_that_only_claims_to_be_an_image_is_refused_after_download(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake = fake_discord.add_attachment(b"%PDF-1.7 not a picture", "cat.png", "image/png")
    async with start_bot():
        interaction = await fake_discord.invoke("edit", {"image": fake, "prompt": "a cat"})
        text = await private_reply(interaction)
    assert "isn't a picture I can read" in text
    assert fake_api.requests == []


async def test_a_mask_of_the_wrong_size_is_refused_without_an_api_call(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    image = fake_discord.add_attachment(picture(512, 512), "image.png")
    drawn = fake_discord.add_attachment(mask(256, 256), "mask.png")
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        interaction = await fake_discord.invoke(
            "edit", {"image": image, "mask": drawn, "prompt": "add a moon"}
        )
        text = await private_reply(interaction)
    assert "same size" in text
    assert f"256 {TIMES} 256" in text
    assert f"512 {TIMES} 512" in text
    assert fake_api.requests == []


async def test_a_mask_with_nothing_to_change_is_refused_without_an_api_call(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    image = fake_discord.add_attachment(picture(512, 512), "image.png")
    # Opaque everywhere and black: no transparent (or white) area marks what to change.
    drawn = fake_discord.add_attachment(picture(512, 512, fill=(0, 0, 0)), "mask.png")
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        interaction = await fake_discord.invoke(
            "edit", {"image": image, "mask": drawn, "prompt": "add a moon"}
        )
        text = await private_reply(interaction)
    assert "no fully transparent (or white) area" in text
    assert fake_api.requests == []


async def test_a_non_square_picture_is_refused_for_dall_e_2(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    image = fake_discord.add_attachment(picture(600, 400), "wide.png")
    drawn = fake_discord.add_attachment(mask(600, 400), "mask.png")
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        interaction = await fake_discord.invoke(
            "edit", {"image": image, "mask": drawn, "prompt": "add a moon"}
        )
        text = await private_reply(interaction)
    assert "square" in text
    assert f"600 {TIMES} 400" in text
    assert fake_api.requests == []


async def test_an_attachment_declared_too_large_is_refused_before_deferring(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    image = fake_discord.add_attachment(picture(64, 64), "huge.png", declared_size=300_000)
    async with start_bot(MAX_ATTACHMENT_BYTES="200000"):
        interaction = await fake_discord.invoke("edit", {"image": image, "prompt": "a cat"})
        text = await refused_at_once(interaction)
    assert "0.3 MB" in text
    assert "0.2 MB" in text
    assert fake_discord.attachment(image["id"]).downloads == 0
    assert fake_api.requests == []


async def test_an_attachment_that_lies_about_its_size_is_refused_while_streaming(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    big = picture(64, 64) + b"\0" * 300_000
    image = fake_discord.add_attachment(big, "small.png", declared_size=2_000)
    async with start_bot(MAX_ATTACHMENT_BYTES="200000"):
        interaction = await fake_discord.invoke("edit", {"image": image, "prompt": "a cat"})
        text = await private_reply(interaction)
    assert "larger than" in text
    assert "0.2 MB" in text
    assert fake_discord.attachment(image["id"]).downloads == 1
    assert fake_api.requests == []


async def test_problems_with_the_options_and_the_attachments_come_together(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    big = fake_discord.add_attachment(picture(64, 64), "big.png", declared_size=200 * 1024 * 1024)
    async with start_bot():
        interaction = await fake_discord.invoke("edit", {"image": big, "prompt": "  "})
        text = await refused_at_once(interaction)
    assert "prompt is empty" in text
    assert "the most I accept" in text
    assert fake_api.requests == []
