"""/vary end to end: the variations endpoint where the model has one, an edit where it has not."""

from __future__ import annotations

import io

from PIL import Image

from bot.service import VARIATION_PROMPT
from tests.cogs.support import picture, private_reply, result, size_of
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord
from tests.fakes.images_api import FakeImagesAPI


async def test_dall_e_2_uses_the_variations_endpoint_with_a_png(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    # A WebP upload larger than DALL-E 2's largest size: converted to PNG and scaled down.
    image = fake_discord.add_attachment(picture(1100, 1100, format="WEBP"), "me.webp")
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        interaction = await fake_discord.invoke("vary", {"image": image, "n": 3, "size": "256x256"})
        seen = await result(interaction)
    assert len(seen.files) == 3
    assert all(size_of(f.data) == (256, 256) for f in seen.files)
    assert "/vary" in seen.content
    assert "dall-e-2" in seen.content
    assert "no variations endpoint" not in seen.content
    [request] = fake_api.requests
    assert request.path == "/v1/images/variations"
    assert request.is_multipart
    assert request.file_names == ["image"]
    part = request.files[0]
    assert part.content_type == "image/png"
    with Image.open(io.BytesIO(part.data)) as sent:
        assert sent.format == "PNG"
        assert sent.size == (1024, 1024)
    assert "prompt" not in request.fields
    assert request.fields["user"].startswith("u-")
    assert str(fake_discord.member.id) not in request.fields["user"]
    assert not fake_api.violations


async def test_gpt_image_makes_a_variation_through_an_edit_and_says_so(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    image = fake_discord.add_attachment(picture(800, 600), "me.png")
    async with start_bot(IMAGE_MODEL="gpt-image-2"):
        interaction = await fake_discord.invoke("vary", {"image": image, "n": 2})
        seen = await result(interaction)
    assert len(seen.files) == 2
    assert "no variations endpoint" in seen.content
    assert "edit of your image" in seen.content
    [request] = fake_api.requests
    assert request.path == "/v1/images/edits"
    assert request.is_multipart
    assert request.file_names == ["image"]
    assert request.fields["prompt"] == VARIATION_PROMPT
    assert request.fields["n"] == "2"
    assert not fake_api.violations


async def test_a_non_square_picture_is_refused_for_dall_e_2(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    image = fake_discord.add_attachment(picture(300, 200), "wide.png")
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        interaction = await fake_discord.invoke("vary", {"image": image})
        text = await private_reply(interaction)
    assert "needs to be square" in text
    assert "Crop it" in text
    assert fake_api.requests == []


async def test_a_non_image_is_refused_once_its_bytes_are_read(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    # The declared type is a hint only (issue 10): the bytes decide, and these are no picture.
    clip = fake_discord.add_attachment(b"\0\0\0\x18ftypmp42", "clip.mp4", "video/mp4")
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        interaction = await fake_discord.invoke("vary", {"image": clip})
        text = await private_reply(interaction)
    assert "isn't a picture I can read" in text
    assert fake_api.requests == []


async def test_an_attachment_gone_from_the_cdn_gets_a_clear_message(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    image = fake_discord.add_attachment(picture(256, 256), "me.png")
    fake_discord.remove_attachment(image["id"])
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        interaction = await fake_discord.invoke("vary", {"image": image})
        text = await private_reply(interaction)
    assert "couldn't download your image" in text
    assert fake_api.requests == []


async def test_a_picture_is_judged_by_its_bytes_not_its_declared_type_or_name(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    # The declared type and the name are hints: a real PNG passes whatever they say.
    as_text = fake_discord.add_attachment(picture(256, 256), "me.png", "text/plain")
    unnamed = fake_discord.add_attachment(picture(256, 256), "photo", "application/octet-stream")
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        for image in (as_text, unnamed):
            interaction = await fake_discord.invoke("vary", {"image": image})
            seen = await result(interaction)
            assert len(seen.files) == 1
    assert len(fake_api.requests) == 2
    assert not fake_api.violations
