"""Refusals private from the first moment (issue 12): whatever refuses a request, and whenever,
nobody but the member ever sees anything of it; a result is posted as a new public message.

Fake Discord -> the real bot -> the fake Images API (and the fake moderation endpoint). The
fake records every message at every moment (`interaction.seen`) and every request, so "never
public" covers the deferral itself, every edit and followup, and the channel.
"""

from __future__ import annotations

import asyncio

from tests.cogs.support import answered, never_public, picture, refused_at_once, result
from tests.cogs.test_moderation import fake_moderation, moderated  # noqa: F401 - the fixture
from tests.cogs.test_settings import (  # noqa: F401 - the autouse check
    configure,
    imagine,
    nothing_discord_would_refuse,
)
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord, FakeInteraction
from tests.fakes.images_api import FakeImagesAPI
from tests.fakes.moderation_api import FakeModerationAPI


def channel_posts(fake: FakeDiscord) -> list[str]:
    """Messages the bot posted in a channel as itself (not through an interaction)."""
    return [r.path for r in fake.requests if r.route == "/channels/{channel_id}/messages"]


async def refused_privately(interaction: FakeInteraction) -> str:
    """The member's private answer to a deferred request; nothing of it was ever public."""
    response = await interaction.wait_for_response()
    assert (response.type, response.ephemeral) == (5, True), "the deferral must be private"
    seen = await interaction.wait_for_final(predicate=answered)
    never_public(interaction)
    return seen.content


async def test_the_moderation_endpoints_refusal_is_never_public(
    start_bot: StartBot,
    fake_discord: FakeDiscord,
    fake_api: FakeImagesAPI,
    fake_moderation: FakeModerationAPI,  # noqa: F811 - the fixture
) -> None:
    fake_moderation.flag("sword fight", "violence")
    async with start_bot(**moderated(fake_moderation)):
        text = await refused_privately(await imagine(fake_discord, "a bloody sword fight"))
    assert "moderation check flagged your prompt" in text
    assert channel_posts(fake_discord) == []
    assert fake_api.requests == []


async def test_the_providers_refusal_is_never_public(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.fail_next("content_policy")
    async with start_bot():
        text = await refused_privately(await imagine(fake_discord, "a forbidden picture"))
    assert "content policy" in text
    assert channel_posts(fake_discord) == []


async def test_a_picture_refused_by_its_bytes_is_never_public(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    image = fake_discord.add_attachment(picture(300, 200), "wide.png")
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        text = await refused_privately(await fake_discord.invoke("vary", {"image": image}))
    assert "square" in text
    assert channel_posts(fake_discord) == []
    assert fake_api.requests == []


async def test_our_own_failure_is_never_public(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.fail_next("server_error", times=10)
    async with start_bot(IMAGES_MAX_ATTEMPTS="2"):
        text = await refused_privately(await imagine(fake_discord))
    assert text
    assert channel_posts(fake_discord) == []


async def test_a_queue_refusal_is_never_public(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    # One waiting job per member: two of the four are refused, before deferring when the
    # check sees the others waiting, else by the queue's own check after the deferral.
    fake_api.latency = 0.2
    async with start_bot(MAX_CONCURRENT_REQUESTS="1", QUEUE_MAX_PER_MEMBER="1"):
        burst = await asyncio.gather(*(imagine(fake_discord) for _ in range(4)))
        for interaction in burst:
            await interaction.wait_until(lambda i: any(s.files or answered(s) for s in i.seen))
    refused = [i for i in burst if any(answered(s) for s in i.seen)]
    assert len(refused) == 2
    for interaction in refused:
        never_public(interaction)
    assert channel_posts(fake_discord) == []


async def test_refusals_decided_before_the_deferral_are_private_at_once(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot(LIMIT_WINDOW_IMAGES="1"):
        await configure(fake_discord, "terms add", {"term": "forbidden"})
        blocked = await refused_at_once(await imagine(fake_discord, "a forbidden castle"))
        over = await refused_at_once(
            await fake_discord.invoke("imagine", {"prompt": "a castle", "n": 2})
        )
    assert "blocked" in blocked
    assert "1" in over
    assert fake_api.requests == []
    assert channel_posts(fake_discord) == []


async def test_a_result_is_a_new_public_message_and_the_private_note_goes(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot():
        interaction = await imagine(fake_discord, "a quiet harbour")
        seen = await result(interaction)
    assert seen.via == "followup"
    assert seen.message is not interaction.original
    assert f"<@{fake_discord.member.id}>" in seen.content  # who asked, without a ping
    [post] = [r for r in fake_discord.requests if r.method == "POST" and r.files]
    assert post.json["allowed_mentions"] == {"parse": []}
    # The private "thinking..." message only ever held private notes, and is gone.
    assert interaction.original is not None
    assert interaction.original.ephemeral
    assert interaction.original.deleted
    assert all(s.ephemeral for s in interaction.seen if s.message is interaction.original)
    assert channel_posts(fake_discord) == []
