"""/imagine end to end: fake Discord -> real bot -> real client -> fake Images API."""

from __future__ import annotations

from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord
from tests.fakes.images_api import FakeImagesAPI


async def test_imagine_posts_the_images_as_files(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot():
        interaction = await fake_discord.invoke(
            "imagine", {"prompt": "a red fox in the snow", "n": 2, "size": "1024x1024"}
        )
        response = await interaction.wait_for_response()
        assert response.type == 5
        final = await interaction.wait_for_final(timeout=15)
    assert len(final.files) == 2
    assert all(f.data.startswith(b"\x89PNG") for f in final.files)
    assert "a red fox in the snow" in final.content
    [request] = fake_api.requests
    assert request.fields["prompt"] == "a red fox in the snow"
    assert request.fields["user"].startswith("u-")
    assert str(fake_discord.member.id) not in request.fields["user"]
    assert not fake_api.violations
