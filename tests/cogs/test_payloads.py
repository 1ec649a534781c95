"""Strict payloads: options that break what a command declares are refused privately, at once,
and never reach the Images API (discord.py does not re-check what arrives)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cogs.support import picture, refused_at_once, result
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord
from tests.fakes.images_api import FakeImagesAPI

PROMPT = {"name": "prompt", "type": 3, "value": "a lighthouse at dusk"}


@pytest.mark.parametrize(
    ("options", "option"),
    [
        ([PROMPT, {"name": "n", "type": 4, "value": "3"}], "n"),
        ([PROMPT, {"name": "n", "type": 4, "value": None}], "n"),
        ([PROMPT, {"name": "n", "type": 4, "value": 2.5}], "n"),
        ([PROMPT, {"name": "n", "type": 4, "value": True}], "n"),
        ([PROMPT, {"name": "n", "type": 3, "value": "2"}], "n"),
        ([PROMPT, {"name": "n", "type": 4, "value": 2**60}], "n"),
        ([{"name": "prompt", "type": 3, "value": 12345}], "prompt"),
        ([{"name": "n", "type": 4, "value": 2}], "prompt"),
        ([PROMPT, {"name": "seed", "type": 4, "value": 1}], "an option this command"),
    ],
)
async def test_a_broken_imagine_payload_is_refused_privately(
    options: list[dict[str, Any]],
    option: str,
    start_bot: StartBot,
    fake_discord: FakeDiscord,
    fake_api: FakeImagesAPI,
) -> None:
    async with start_bot(IMAGE_MODEL="gpt-image-2"):
        interaction = await fake_discord.invoke("imagine", options)
        text = await refused_at_once(interaction)
    assert option in text
    assert "command menu" in text
    assert fake_api.requests == []


async def test_an_image_missing_from_resolved_is_refused(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        options = [{"name": "image", "type": 11, "value": "123456789012345678"}]
        interaction = await fake_discord.invoke("vary", options)
        text = await refused_at_once(interaction)
    assert "image" in text
    assert fake_api.requests == []


async def test_an_image_option_sent_as_text_is_refused(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    image = fake_discord.add_attachment(picture(256, 256), "me.png")
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        options = [{"name": "image", "type": 3, "value": image["url"]}]
        interaction = await fake_discord.invoke("vary", options, attachments=[image])
        text = await refused_at_once(interaction)
    assert "image" in text
    assert fake_discord.attachment(image["id"]).downloads == 0
    assert fake_api.requests == []


async def test_a_sound_raw_payload_still_makes_images(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    image = fake_discord.add_attachment(picture(256, 256), "me.png")
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        options = [
            {"name": "image", "type": 11, "value": image["id"]},
            {"name": "n", "type": 4, "value": 2},
        ]
        interaction = await fake_discord.invoke("vary", options, attachments=[image])
        seen = await result(interaction)
    assert len(seen.files) == 2
    [request] = fake_api.requests
    assert request.fields["n"] == "2"


async def test_an_edit_mask_sent_as_text_is_refused(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    image = fake_discord.add_attachment(picture(256, 256), "me.png")
    async with start_bot(IMAGE_MODEL="gpt-image-2"):
        options = [
            {"name": "image", "type": 11, "value": image["id"]},
            {"name": "mask", "type": 3, "value": "https://example.invalid/mask.png"},
            {"name": "prompt", "type": 3, "value": "a hat"},
        ]
        interaction = await fake_discord.invoke("edit", options, attachments=[image])
        text = await refused_at_once(interaction)
    assert "mask" in text
    assert fake_discord.attachment(image["id"]).downloads == 0
    assert fake_api.requests == []
