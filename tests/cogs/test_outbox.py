"""Job records and the outbox in a running bot: each job's record follows it to the end, and
images no route could post are handed over privately at the member's next command."""

from __future__ import annotations

import re
from pathlib import Path

from bot.front.client import ImagineBot
from bot.front.handover import resolve_interrupted
from bot.records import RETENTION_MS, JobRecord, Stage, now_ms
from tests.cogs.support import eventually, result
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord, FakeInteraction
from tests.fakes.images_api import FakeImagesAPI

ORIGINAL = "/webhooks/*/messages/@original"


def fail_every_route(fake_discord: FakeDiscord) -> None:
    """The next result reaches nobody: not the interaction, not the channel, not the DMs."""
    fake_discord.fail_next("PATCH", ORIGINAL, 400, 50035, "Invalid Form Body")
    fake_discord.fail_next("POST", "/channels/*/messages", 403, 50013, "Missing Permissions", 2)


async def undelivered(
    bot: ImagineBot, fake_discord: FakeDiscord, tmp_path: Path
) -> tuple[FakeInteraction, Path]:
    """Two images no route could post: the job, and its outbox folder."""
    lost = await fake_discord.invoke("imagine", {"prompt": "a garden", "n": 2})
    await lost.wait_for_final(predicate=lambda seen: seen.ephemeral)
    folder = tmp_path / "data" / "outbox" / str(lost.id)
    await eventually(lambda: not bot.live_jobs and folder.is_dir())
    return lost, folder


async def test_a_delivered_job_is_recorded_to_the_end(
    start_bot: StartBot, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    async with start_bot() as bot:
        interaction = await fake_discord.invoke("imagine", {"prompt": "a garden", "n": 2})
        await result(interaction)
        job_id = str(interaction.id)
        await eventually(lambda: not bot.live_jobs)
        record = await bot.records.get(job_id)
        assert record is not None
        assert record.stage is Stage.DELIVERED
        assert (record.command, record.images, record.channel_id) == (
            "imagine",
            2,
            fake_discord.text_channel.id,
        )
        assert interaction.original is not None
        assert record.message_id == interaction.original.id
        assert await bot.records.unfinished() == []
    assert not (tmp_path / "data" / "outbox" / job_id).exists()


async def test_a_failed_job_is_resolved_and_refunded(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.fail_next("server_error", times=5)
    async with start_bot() as bot:
        interaction = await fake_discord.invoke("imagine", {"prompt": "a garden"})
        await interaction.wait_for_final(predicate=lambda seen: seen.ephemeral)
        await eventually(lambda: not bot.live_jobs)
        record = await bot.records.get(str(interaction.id))
        assert record is not None
        assert (record.stage, record.details.get("outcome")) == (Stage.RESOLVED, "failed")


async def test_images_that_reached_nobody_are_handed_over_at_the_next_command(
    start_bot: StartBot, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fail_every_route(fake_discord)
    async with start_bot() as bot:
        lost, folder = await undelivered(bot, fake_discord, tmp_path)
        record = await bot.records.get(str(lost.id))
        assert record is not None
        assert (record.stage, record.details.get("images_owed")) == (Stage.ANSWERED, 2)
        assert len(list(folder.glob("*.png"))) == 2

        later = await fake_discord.invoke("imagine", {"prompt": "a meadow"})
        await result(later)
        await eventually(lambda: not folder.exists())
        # Privately, beside the new command: a followup only its member sees.
        [offered] = [m for m in later.followups if m.ephemeral and len(m.attachments) == 2]
        record = await bot.records.get(str(lost.id))
        assert record is not None
        assert record.stage is Stage.DELIVERED
    assert re.fullmatch(r"2 images from your request of <t:\d+:f> are ready:", offered.content)
    assert offered.interaction is None or offered.interaction.id == later.id


async def test_owed_images_are_handed_over_after_any_command(
    start_bot: StartBot, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fail_every_route(fake_discord)
    async with start_bot() as bot:
        lost, folder = await undelivered(bot, fake_discord, tmp_path)

        # Another member's command hands over nothing of theirs.
        other = await fake_discord.invoke("quota", user=fake_discord.other_member)
        await other.wait_for_response()
        # /help is no image command: its own answer comes first, then the images, privately.
        later = await fake_discord.invoke("help")
        [offered] = await later.wait_for_followups(1)
        await eventually(lambda: not folder.exists())
        record = await bot.records.get(str(lost.id))
        assert record is not None
        assert (record.stage, record.details.get("outcome")) == (
            Stage.DELIVERED,
            "offered at a later command",
        )
    assert [seen.via for seen in later.seen] == ["callback", "followup"]
    assert (offered.ephemeral, len(offered.attachments)) == (True, 2)
    assert re.fullmatch(r"2 images from your request of <t:\d+:f> are ready:", offered.content)
    assert other.followups == []


async def test_news_nobody_came_for_is_dropped_after_the_records_retention(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot() as bot:
        untold = JobRecord(
            "1",
            member_key=bot.member_ids(fake_discord.member.id),
            command="imagine",
            reservation_id="r-1",
            images=1,
            created_ms=now_ms() - RETENTION_MS - 60_000,
            stage=Stage.SETTLED,
            discord_id=fake_discord.member.id,
            details={"notice": "lost"},
        )
        await bot.records.put(untold)
        await resolve_interrupted(bot)
        record = await bot.records.get("1")
        assert record is not None
        assert (record.stage, record.details.get("outcome")) == (
            Stage.RESOLVED,
            "lost, never told",
        )
    # Nobody is told a month late, and no DM was tried on the way.
    assert not any(r.path.endswith("/users/@me/channels") for r in fake_discord.requests)
