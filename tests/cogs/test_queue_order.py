"""Issue 10, end to end: a burst keeps each member's own order, and a community's first burst
is queued, not refused.

Fake Discord -> the real bot -> the real Images client -> the fake Images API; nothing of ours
is patched. The order the Images API sees the prompts in is the order the jobs started in.
"""

from __future__ import annotations

import asyncio
import re

from bot.limits import DEFAULT_IMAGES_PER_MINUTE, queue_capacity
from tests.cogs.support import answered
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord, FakeInteraction, FakeMember
from tests.fakes.images_api import FakeImagesAPI

BUSY = "The bot is busy right now"
PLACE = re.compile(r"you're number (\d+) in line")


async def imagine(
    fake: FakeDiscord, prompt: str, user: FakeMember | None = None
) -> FakeInteraction:
    return await fake.invoke("imagine", {"prompt": prompt, "size": "1024x1024"}, user=user)


async def delivered(interaction: FakeInteraction) -> None:
    assert (await interaction.wait_for_response()).type == 5
    await interaction.wait_for_final(timeout=20, predicate=lambda seen: bool(seen.files))


async def test_one_members_burst_starts_in_the_order_it_was_sent(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    # One running place: whichever job takes it first goes first. All three arrive at once.
    fake_api.latency = 0.1
    async with start_bot(MAX_CONCURRENT_REQUESTS="1"):
        burst = await asyncio.gather(*(imagine(fake_discord, f"request {i}") for i in (1, 2, 3)))
        await asyncio.gather(*(delivered(i) for i in burst))
    assert [r.fields["prompt"] for r in fake_api.requests] == [
        "request 1",
        "request 2",
        "request 3",
    ]


async def test_a_burst_keeps_each_members_order_and_takes_turns_across_members(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.latency = 0.1
    other = fake_discord.other_member
    async with start_bot(MAX_CONCURRENT_REQUESTS="1"):
        sent = []
        for prompt, user in [
            ("a1", None),
            ("a2", None),
            ("b1", other),
            ("a3", None),
            ("b2", other),
        ]:
            sent.append(await imagine(fake_discord, prompt, user))
        await asyncio.gather(*(delivered(i) for i in sent))
    # Turns alternate across members, each member's jobs in their order. Which member goes
    # first is not fixed: a job deferred first lets the others defer before it takes its turn
    # (JobTracker), and another member's ready job may go while a1 is still deferring.
    order = [r.fields["prompt"] for r in fake_api.requests]
    assert order in (["a1", "b1", "a2", "b2", "a3"], ["b1", "a1", "b2", "a2", "a3"]), order


async def first_burst(fake: FakeDiscord, members: list[FakeMember]) -> list[FakeInteraction]:
    """Four commands from each member, all at once (each member's in turn)."""
    return list(
        await asyncio.gather(
            *(
                imagine(fake, f"picture {round_} of {member.user.username}", member)
                for round_ in range(4)
                for member in members
            )
        )
    )


async def check_first_burst(burst: list[FakeInteraction]) -> list[FakeInteraction]:
    """Every command answered in time; refusals private and at once, none of them "busy".
    Returns the jobs that were queued."""
    responses = await asyncio.gather(*(i.wait_for_response() for i in burst))
    assert all(r.ok for r in responses)
    assert max(r.elapsed or 0 for r in responses) < 3  # Discord's deadline held
    refused = [r for r in responses if r.type == 4]
    assert all(r.ephemeral for r in refused), "a refusal must be private"
    for response in refused:
        assert response.data is not None
        assert BUSY not in response.data["content"]
        # The per-member cap (3 waiting) may refuse a member's fourth request, at once.
        assert response.data["content"].startswith("You already have 3 requests waiting")
    deferred = [i for i, r in zip(burst, responses, strict=True) if r.type == 5]
    # Each deferred job goes (images) or is told its place; never refused once deferred.
    for interaction in deferred:
        await interaction.wait_until(
            lambda i: any(s.files or answered(s) or PLACE.search(s.content) for s in i.seen),
            timeout=30,
        )
        assert not any(answered(seen) for seen in interaction.seen), interaction.seen
    return deferred


async def test_a_communitys_first_burst_is_queued_not_refused(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    # 200 commands from 50 members with the default budget (50 images a minute) and a queue
    # as large as that budget serves within Discord's 15-minute window.
    members = [fake_discord.add_member(fake_discord.guild, f"m{i}") for i in range(50)]
    capacity = queue_capacity(DEFAULT_IMAGES_PER_MINUTE, job_seconds=180.0)
    async with start_bot(QUEUE_MAX=str(capacity), SHUTDOWN_GRACE_SECONDS="0.1"):
        burst = await first_burst(fake_discord, members)
        queued = await check_first_burst(burst)
        assert len(queued) >= 150


async def test_a_queued_member_sees_an_estimated_start(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.latency = 0.3
    async with start_bot(MAX_CONCURRENT_REQUESTS="1"):
        running = await imagine(fake_discord, "first")
        waiting = await imagine(fake_discord, "second", fake_discord.other_member)
        await waiting.wait_until(lambda i: any(PLACE.search(s.content) for s in i.seen))
        [told] = [s.content for s in waiting.seen if PLACE.search(s.content)]
        assert re.search(r"It should start <t:\d+:R>", told), told
        await asyncio.gather(delivered(running), delivered(waiting))


async def test_the_default_queue_holds_a_communitys_first_burst(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    members = [fake_discord.add_member(fake_discord.guild, f"m{i}") for i in range(50)]
    async with start_bot(SHUTDOWN_GRACE_SECONDS="0.1") as bot:
        assert bot.limiter.queue.max_waiting == queue_capacity(
            bot.settings.images_per_minute, job_seconds=bot.settings.request_timeout
        )
        await check_first_burst(await first_burst(fake_discord, members))
