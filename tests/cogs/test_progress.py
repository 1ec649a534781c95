"""The "thinking" message while a job runs (issue 12): live previews from a streamed answer,
the stage line, and Cancel while the job waits. End to end through the fake Discord and the
fake Images API, which streams as the spec says."""

from __future__ import annotations

import asyncio

import pytest

from bot.service import Member
from tests.cogs.support import is_result, private_reply, result
from tests.conftest import StartBot, eventually
from tests.fakes.discord import FakeDiscord, FakeInteraction
from tests.fakes.images_api import FakeImagesAPI
from tests.fakes.images_api_stream import StreamFault


async def imagine(fake: FakeDiscord, *, user: object = None) -> FakeInteraction:
    return await fake.invoke(
        "imagine",
        {"prompt": "a lighthouse at dusk", "size": "1024x1024"},
        user=user,  # type: ignore[arg-type]
    )


def previews(interaction: FakeInteraction) -> list[str]:
    return [seen.content for seen in interaction.seen if seen.files and not is_result(seen)]


async def used(bot: object, fake: FakeDiscord, user_id: int | None = None) -> int:
    """Images of the member's hourly window used (or held) now."""
    service = bot.service  # type: ignore[attr-defined]
    uid = user_id or fake.member.id
    member = Member(key=bot.member_ids(uid), discord_id=uid, guild_id=fake.guild.id)  # type: ignore[attr-defined]
    usage = await service.usage(member)
    return usage.windows[0].used  # type: ignore[no-any-return]


async def test_a_streamed_generation_shows_each_preview_then_the_result(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.stream_event_delay = 0.1  # each preview's edit lands before the next event
    async with start_bot(PREVIEW_PARTIAL_IMAGES="2") as bot:
        interaction = await imagine(fake_discord)
        seen = await result(interaction)
        assert await used(bot, fake_discord) == 1
    [request] = fake_api.requests
    assert request.fields["stream"] is True
    assert request.fields["partial_images"] == 2
    shown = previews(interaction)
    assert len(shown) == 2
    assert shown[0].startswith("Preview 1 of your image")
    assert shown[1].startswith("Preview 2 of your image")
    assert interaction.seen[-1] is seen  # the result came last, over the previews
    assert [f.filename for f in seen.files] != ["preview.png"]
    assert not fake_discord.violations


async def test_previews_off_asks_for_no_stream(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot(PREVIEW_PARTIAL_IMAGES="0"):
        interaction = await imagine(fake_discord)
        await result(interaction)
    assert "stream" not in fake_api.requests[0].fields
    assert previews(interaction) == []


@pytest.mark.parametrize(
    ("fault", "charged"),
    [
        ("error_event", False),
        ("stops_early", True),
        ("connection_cut", True),
        ("malformed_event", True),
    ],
)
async def test_a_broken_stream_is_told_privately_and_never_sent_twice(
    start_bot: StartBot,
    fake_discord: FakeDiscord,
    fake_api: FakeImagesAPI,
    fault: StreamFault,
    charged: bool,
) -> None:
    fake_api.fail_stream(fault)
    async with start_bot() as bot:
        interaction = await imagine(fake_discord)
        text = await private_reply(interaction)
        assert await used(bot, fake_discord) == (1 if charged else 0)
    assert len(fake_api.requests) == 1
    assert text


async def test_the_stage_line_comes_after_5_seconds_and_says_since_when(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.latency = 5.6
    async with start_bot(PREVIEW_PARTIAL_IMAGES="0"):
        interaction = await imagine(fake_discord)
        await result(interaction, timeout=15)
    # The private "posting" note before the public result is delivery's, not a stage edit.
    lines = [
        seen.content
        for seen in interaction.seen
        if not seen.files and "posting them in the channel" not in seen.content
    ]
    assert len(lines) == 1  # one stage edit in 5.6 s: paced, not one per second
    assert lines[0].startswith("It's your turn: making your images now… (asked <t:")


async def test_a_quick_job_costs_no_stage_edit(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot(PREVIEW_PARTIAL_IMAGES="0"):
        interaction = await imagine(fake_discord)
        await result(interaction)
    # No stage edit: only the private "posting" note (delivery's) and the public result.
    assert [seen.via for seen in interaction.seen] == ["edit_original", "followup"]
    assert "posting them in the channel" in interaction.seen[0].content


async def _queued(fake_discord: FakeDiscord, fake_api: FakeImagesAPI) -> FakeInteraction:
    """A first job holding the only running place, and a second (the member's) waiting."""
    await imagine(fake_discord, user=fake_discord.other_member)
    await eventually(lambda: len(fake_api.requests) == 1)
    second = await imagine(fake_discord)
    await second.wait_until(lambda i: any(s.components for s in i.seen), timeout=5)
    return second


def _cancel_id(interaction: FakeInteraction) -> str:
    last = interaction.seen[-1]
    [row] = last.components
    [button] = row["components"]
    assert button["label"] == "Cancel"
    return str(button["custom_id"])


async def test_cancel_while_waiting_refunds_and_says_so(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.latency = 1.0
    async with start_bot(MAX_CONCURRENT_REQUESTS="1") as bot:
        waiting = await _queued(fake_discord, fake_api)
        assert await used(bot, fake_discord) == 1  # held while it waits
        assert waiting.original is not None
        click = await fake_discord.click(waiting.original.id, _cancel_id(waiting))
        response = await click.wait_for_response()
        assert response.type == 7  # the click updates the waiting message itself
        await eventually(lambda: "Cancelled by" in waiting.original.content)  # type: ignore[union-attr]
        assert waiting.original.components == []
        assert await used(bot, fake_discord) == 0  # refunded
        await asyncio.sleep(1.5)  # the first job ends: the cancelled one never goes
    assert len(fake_api.requests) == 1
    assert f"<@{fake_discord.member.id}>" in waiting.original.content
    assert not fake_discord.violations


async def test_only_the_member_or_a_moderator_may_cancel(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.latency = 1.0
    async with start_bot(MAX_CONCURRENT_REQUESTS="1") as bot:
        waiting = await _queued(fake_discord, fake_api)
        assert waiting.original is not None
        custom_id = _cancel_id(waiting)
        other = await fake_discord.click(
            waiting.original.id, custom_id, user=fake_discord.other_member
        )
        answer = await other.wait_for_response()
        assert (answer.type, answer.ephemeral) == (4, True)
        assert answer.data is not None
        assert "Only the member who asked" in answer.data["content"]
        moderator = await fake_discord.click(
            waiting.original.id, custom_id, user=fake_discord.moderator
        )
        assert (await moderator.wait_for_response()).type == 7
        await eventually(lambda: "Cancelled by" in waiting.original.content)  # type: ignore[union-attr]
        assert f"<@{fake_discord.moderator.id}>" in waiting.original.content
        assert await used(bot, fake_discord) == 0
