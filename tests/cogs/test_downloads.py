"""Attachments are downloaded only from Discord's CDN (or an origin the operator adds), over
HTTPS, with redirects off, and a foreign URL is refused before any request or name lookup."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from bot.downloads import DISCORD_CDN_ORIGINS, origin_of, parse_origins
from tests.cogs.support import picture, private_reply, refused_at_once
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord
from tests.fakes.images_api import FakeImagesAPI


def pointing_at(payload: dict[str, Any], origin: str) -> dict[str, Any]:
    """The attachment `payload` with its URLs moved to `origin` (same path and query)."""
    moved = dict(payload)
    for key in ("url", "proxy_url"):
        path = payload[key].split("/", 3)[3]
        moved[key] = f"{origin}/{path}"
    return moved


async def vary_with(fake_discord: FakeDiscord, payload: dict[str, Any]) -> Any:
    options = [{"name": "image", "type": 11, "value": payload["id"]}]
    return await fake_discord.invoke("vary", options, attachments=[payload])


@pytest.mark.parametrize(
    "origin",
    [
        "http://cdn.discordapp.com",  # Discord's host, but not over HTTPS
        "https://cdn.discordapp.com.example.invalid",  # a name that only starts like Discord's
        "https://cdn.discordapp.com@example.invalid",  # Discord's name as a user name
        "https://example.invalid",
    ],
)
async def test_an_attachment_off_discord_is_refused_before_anything_is_fetched(
    origin: str, start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    image = fake_discord.add_attachment(picture(256, 256), "me.png")
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        interaction = await vary_with(fake_discord, pointing_at(image, origin))
        text = await refused_at_once(interaction)
    assert "doesn't come from Discord" in text
    assert fake_api.requests == []


async def test_the_same_server_under_another_name_is_refused(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    # localhost reaches the very same fake CDN, but is not the origin the setting allows.
    image = fake_discord.add_attachment(picture(256, 256), "me.png")
    elsewhere = fake_discord.cdn_base.replace("127.0.0.1", "localhost")
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        interaction = await vary_with(fake_discord, pointing_at(image, elsewhere))
        await refused_at_once(interaction)
    assert fake_discord.attachment(image["id"]).downloads == 0
    assert fake_api.requests == []


async def test_only_discords_cdn_is_allowed_by_default(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    image = fake_discord.add_attachment(picture(256, 256), "me.png")
    async with start_bot(IMAGE_MODEL="dall-e-2", EXTRA_ATTACHMENT_ORIGINS=""):
        interaction = await fake_discord.invoke("vary", {"image": image})
        await refused_at_once(interaction)
    assert fake_discord.attachment(image["id"]).downloads == 0
    assert fake_api.requests == []


@pytest.fixture
async def redirector(fake_discord: FakeDiscord) -> AsyncIterator[tuple[str, list[str]]]:
    """An allowed origin that answers every request with a redirect to the fake CDN."""
    hits: list[str] = []

    async def hand_on(request: web.Request) -> web.Response:
        hits.append(request.path)
        raise web.HTTPFound(fake_discord.cdn_base + request.path_qs)

    app = web.Application()
    app.router.add_get("/{tail:.*}", hand_on)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}", hits
    finally:
        await runner.cleanup()


async def test_a_redirect_is_not_followed(
    redirector: tuple[str, list[str]],
    start_bot: StartBot,
    fake_discord: FakeDiscord,
    fake_api: FakeImagesAPI,
) -> None:
    origin, hits = redirector
    image = fake_discord.add_attachment(picture(256, 256), "me.png")
    allowed = f"{fake_discord.cdn_base},{origin}"
    async with start_bot(IMAGE_MODEL="dall-e-2", EXTRA_ATTACHMENT_ORIGINS=allowed):
        interaction = await vary_with(fake_discord, pointing_at(image, origin))
        text = await private_reply(interaction)
    assert "couldn't download your image" in text
    assert len(hits) == 1
    assert fake_discord.attachment(image["id"]).downloads == 0
    assert fake_api.requests == []


def test_origins_are_normalised_and_anything_else_is_refused() -> None:
    assert parse_origins(" https://CDN.Example.org:443/ , http://127.0.0.1:8080") == {
        "https://cdn.example.org",
        "http://127.0.0.1:8080",
    }
    assert parse_origins("") == frozenset()
    for bad in ("cdn.example.org", "https://x.org/path", "https://u:p@x.org", "ftp://x.org"):
        with pytest.raises(ValueError, match="not an origin"):
            parse_origins(bad)
    assert origin_of("https://media.discordapp.net/attachments/1/2/a.png?ex=1") in (
        DISCORD_CDN_ORIGINS
    )
