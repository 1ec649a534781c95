"""Issue 4 end to end: per-member limits, the global budget and the fair queue, through the bot.

Fake Discord -> the real bot (entry point, cogs, service, limiter, store) -> the real Images
client -> the fake Images API. Nothing of ours is patched: the tests only choose settings,
script the fakes and read what the member saw and what the API received.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import re
import time
from collections.abc import Sequence
from typing import Any

import pytest
from PIL import Image
from redis.asyncio import Redis

from bot.limits import Limiter, LimitPolicy
from bot.limits.store import RedisStore
from bot.state import RedisConnection
from tests.cogs.support import answered, is_result
from tests.conftest import StartBot, eventually
from tests.fakes.discord import FakeDiscord, FakeInteraction, FakeMember, FakeUser
from tests.fakes.images_api import FakeImagesAPI

Who = FakeUser | FakeMember | None

# `<t:1700000000:R>`: Discord's relative timestamp, rendered in each member's own time zone.
RELATIVE_TIME = re.compile(r"<t:(\d+):R>")


async def imagine(fake: FakeDiscord, *, user: Who = None, n: int = 1) -> FakeInteraction:
    return await fake.invoke(
        "imagine", {"prompt": "a lighthouse at dusk", "n": n, "size": "1024x1024"}, user=user
    )


async def refused_at_once(interaction: FakeInteraction) -> str:
    """The member's private refusal, sent as the first and only answer (nothing deferred)."""
    response = await interaction.wait_for_response()
    assert response.ok
    assert response.type == 4, "refused after deferring, not at once"
    assert response.flags & 64, "the refusal must be ephemeral"
    assert [c.type for c in interaction.callback_attempts] == [4]
    assert response.data is not None
    content: str = response.data["content"]
    return content


async def delivered(interaction: FakeInteraction, images: int) -> None:
    """The job was deferred, then its images were posted."""
    response = await interaction.wait_for_response()
    assert response.type == 5
    final = await interaction.wait_for_final(timeout=10, predicate=is_result)
    assert len(final.files) == images


async def private_followup(interaction: FakeInteraction) -> str:
    """What a member was told privately after their job had been deferred."""
    [message] = await interaction.wait_for_followups(1)
    assert message.ephemeral
    return message.content


async def quota(fake: FakeDiscord, *, user: Who = None) -> str:
    interaction = await fake.invoke("quota", user=user)
    response = await interaction.wait_for_response()
    assert (response.type, response.ephemeral) == (4, True)
    assert response.data is not None
    content: str = response.data["content"]
    return content


def relative_times(text: str) -> list[int]:
    return [int(epoch) for epoch in RELATIVE_TIME.findall(text)]


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (20, 90, 160)).save(buffer, format="PNG")
    return buffer.getvalue()


# --- one identity, images counted, the limit message, /quota -----------------------------------


async def test_the_limit_key_is_the_user_field_and_limits_count_images(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot(LIMIT_WINDOW_IMAGES="3", LIMIT_DAILY_IMAGES="30") as bot:
        await delivered(await imagine(fake_discord, n=2), images=2)

        # One identity from the interaction to the limiter to the API.
        [request] = fake_api.requests
        user_field = request.fields["user"]
        assert user_field == bot.member_ids(fake_discord.member.id)
        [entry] = await bot.store.history(user_field, since_ms=0, now_ms=int(time.time() * 1000))
        assert (entry.images, entry.pending) == (2, False)  # committed under that very key

        # Two commands so far would be nothing; two images of three are what counts.
        text = await refused_at_once(await imagine(fake_discord, n=2))
        assert text.startswith(
            "You asked for 2 images, but only 1 of your 3 images per hour is left. "
            "Ask for 1 or fewer, or try again <t:"
        )
        await delivered(await imagine(fake_discord, n=1), images=1)
        started = time.time()
        text = await refused_at_once(await imagine(fake_discord, n=1))
        assert text.startswith("You've used 3 of your 3 images in the last hour.")
        [frees_at] = relative_times(text)
        # The first two images leave the window an hour after they were made.
        assert started + 3600 - 15 <= frees_at <= started + 3600 + 1

        shown = await quota(fake_discord)
        assert "In the last hour: 3 of 3 images used, 0 left. More free up <t:" in shown
        assert "Today: 3 of 30 images used, 27 left. Resets <t:" in shown
        # Someone else's allowance is their own.
        assert "0 of 3 images used, 3 left" in await quota(
            fake_discord, user=fake_discord.other_member
        )

    assert len(fake_api.requests) == 2  # the refusals never reached the API
    assert [r.fields["n"] for r in fake_api.requests] == [2, 1]
    assert not fake_api.violations


async def test_roles_get_more_or_no_limit_from_the_settings(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    guild = fake_discord.guild
    patrons = fake_discord.add_role(guild, "Patrons")
    staff = fake_discord.add_role(guild, "Staff")
    patron = fake_discord.add_member(guild, "patron", roles=[patrons])
    staffer = fake_discord.add_member(guild, "staffer", roles=[staff, patrons])
    settings = {
        "LIMIT_WINDOW_IMAGES": "2",
        "LIMIT_DAILY_IMAGES": "2",
        "LIMIT_ROLES": f"{patrons.id}=5/6",
        "LIMIT_EXEMPT_ROLES": str(staff.id),
    }
    async with start_bot(**settings):
        # The default: 2 images, so 3 at once can never fit.
        text = await refused_at_once(await imagine(fake_discord, n=3))
        assert text == (
            "You asked for 3 images, but your limit is 2 images per hour. Ask for 2 or fewer."
        )
        # The patron role gets 5 per window.
        await delivered(await imagine(fake_discord, user=patron, n=5), images=5)
        text = await refused_at_once(await imagine(fake_discord, user=patron))
        assert text.startswith("You've used 5 of your 5 images in the last hour.")
        assert "5 of 5 images used, 0 left" in await quota(fake_discord, user=patron)
        # Staff is exempt (exempt wins over the patron role): 12 images, no refusal.
        for _ in range(3):
            await delivered(await imagine(fake_discord, user=staffer, n=4), images=4)
        assert "no personal image limits" in await quota(fake_discord, user=staffer)

    users = [r.fields["user"] for r in fake_api.requests]
    assert len(users) == 4
    assert users[0] != users[1]
    assert users[1:] == [users[1]] * 3
    assert not fake_api.violations


# --- reserve, then commit on success or refund on failure --------------------------------------


async def test_a_failed_upstream_call_costs_the_member_nothing(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot(LIMIT_WINDOW_IMAGES="4", IMAGES_MAX_ATTEMPTS="2"):
        fake_api.fail_next("content_policy")
        text = await private_followup(await imagine(fake_discord, n=3))
        assert "content policy" in text
        assert "0 of 4 images used, 4 left" in await quota(fake_discord)

        fake_api.fail_next("server_error", times=2)  # both attempts fail
        text = await private_followup(await imagine(fake_discord, n=4))
        assert "problem on its side" in text
        assert "0 of 4 images used, 4 left" in await quota(fake_discord)

        # The whole allowance is still there.
        await delivered(await imagine(fake_discord, n=4), images=4)
        assert "4 of 4 images used, 0 left" in await quota(fake_discord)
    assert len(fake_api.requests) == 1 + 2 + 1


@pytest.mark.parametrize(
    "failure",
    [{"kind": "drop"}, {"kind": "truncated"}, {"kind": "slow", "delay": 5.0}, {"kind": "not_json"}],
    ids=["dropped", "cut off", "timeout", "unreadable 200"],
)
async def test_a_request_sent_whole_and_then_lost_is_charged_once_and_told(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI, failure: dict[str, Any]
) -> None:
    # The API may have made (and billed) these images: it is charged as the API would
    # charge, and never sent again (which could pay twice).
    fake_api.fail_next(**failure, times=3)
    async with start_bot(
        LIMIT_WINDOW_IMAGES="4", IMAGES_MAX_ATTEMPTS="3", IMAGES_TIMEOUT_SECONDS="0.3"
    ):
        text = await private_followup(await imagine(fake_discord, n=2))
        assert "counts toward your quota" in text
        assert "2 of 4 images used, 2 left" in await quota(fake_discord)
    assert len(fake_api.requests) == 1


async def test_images_made_stay_paid_for_when_posting_them_fails(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    # The commit follows the API call, not the posting: Discord takes the images nowhere (the
    # job ends in an error, the images are saved to disk), and they still count.
    fake_discord.fail_next("PATCH", "/webhooks/*/messages/@original", 400, 50035, "Invalid Form")
    fake_discord.fail_next("POST", "/channels/*/messages", 403, 50013, "Missing Permissions", 2)
    async with start_bot(LIMIT_WINDOW_IMAGES="3"):
        interaction = await imagine(fake_discord, n=2)
        assert (await interaction.wait_for_response()).type == 5
        assert "error id" in await private_followup(interaction)
        assert not any(seen.files for seen in interaction.seen)
        assert "2 of 3 images used, 1 left" in await quota(fake_discord)
    assert len(fake_api.requests) == 1


async def test_a_picture_refused_after_download_costs_nothing(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    # DALL-E 2 takes only square pictures; only the downloaded bytes tell the picture's shape.
    async with start_bot(IMAGE_MODEL="dall-e-2", LIMIT_WINDOW_IMAGES="2"):
        wide = fake_discord.add_attachment(png(300, 200), "wide.png")
        interaction = await fake_discord.invoke("vary", {"image": wide, "n": 2})
        assert (await interaction.wait_for_response()).type == 5  # deferred: it was reserved
        assert "square" in await private_followup(interaction)
        assert "0 of 2 images used, 2 left" in await quota(fake_discord)

        square = fake_discord.add_attachment(png(256, 256), "square.png")
        interaction = await fake_discord.invoke("vary", {"image": square, "n": 2})
        await delivered(interaction, images=2)
        assert "2 of 2 images used, 0 left" in await quota(fake_discord)
    assert [r.operation for r in fake_api.requests] == ["variation"]
    assert not fake_api.violations


async def test_a_job_cancelled_at_shutdown_is_refunded_and_the_refund_persists(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot(LIMIT_WINDOW_IMAGES="5", SHUTDOWN_GRACE_SECONDS="0.2") as bot:
        await delivered(await imagine(fake_discord, n=1), images=1)
        fake_api.fail_next("slow", delay=30)
        interaction = await imagine(fake_discord, n=3)
        assert (await interaction.wait_for_response()).type == 5
        await eventually(lambda: len(fake_api.requests) == 2)  # the slow call is under way
        assert "4 of 5 images used (3 in progress)" in await quota(fake_discord)
        await bot.shutdown()  # the grace period ends; the job is cancelled
    # Same DATA_DIR, so the same SQLite file: only the finished image still counts.
    async with start_bot(LIMIT_WINDOW_IMAGES="5"):
        assert "1 of 5 images used, 4 left" in await quota(fake_discord)


# --- state: SQLite by default, surviving a restart ---------------------------------------------


async def test_sqlite_quota_survives_a_restart(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    # No STATE_URL: the default is a SQLite file in DATA_DIR.
    async with start_bot(LIMIT_WINDOW_IMAGES="4") as bot:
        db = bot.settings.data_dir / "bot.db"
        assert bot.settings.state_url == f"sqlite:///{db}"
        await delivered(await imagine(fake_discord, n=2), images=2)
        await delivered(await imagine(fake_discord, n=1), images=1)
    assert db.is_file()

    async with start_bot(LIMIT_WINDOW_IMAGES="4"):
        assert "3 of 4 images used, 1 left" in await quota(fake_discord)
        await delivered(await imagine(fake_discord, n=1), images=1)
        text = await refused_at_once(await imagine(fake_discord, n=1))
        assert text.startswith("You've used 4 of your 4 images in the last hour.")
        assert "4 of 4 images used, 0 left" in await quota(fake_discord)
    assert len(fake_api.requests) == 3


# --- atomic: a burst from one member never gets more than the limit ----------------------------


@pytest.mark.parametrize("state", ["memory://", "sqlite"])
async def test_a_burst_of_100_commands_admits_exactly_the_limit(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI, state: str
) -> None:
    settings = {
        "LIMIT_WINDOW_IMAGES": "10",
        # Room for every admitted job, so that only the limit refuses.
        "MAX_CONCURRENT_REQUESTS": "10",
        "QUEUE_MAX": "100",
        "QUEUE_MAX_PER_MEMBER": "100",
    }
    if state != "sqlite":
        settings["STATE_URL"] = state
    async with start_bot(**settings):
        interactions = await asyncio.gather(*(imagine(fake_discord) for _ in range(100)))
        responses = await asyncio.gather(*(i.wait_for_response() for i in interactions))
        assert all(r.ok for r in responses)
        assert max(r.elapsed or 0 for r in responses) < 3  # Discord's deadline held
        admitted = [i for i, r in zip(interactions, responses, strict=True) if r.type == 5]
        refused = [i for i, r in zip(interactions, responses, strict=True) if r.type == 4]
        assert (len(admitted), len(refused)) == (10, 90)
        texts = await asyncio.gather(*(refused_at_once(i) for i in refused))
        assert all(t.startswith("You've used 10 of your 10 images") for t in texts)
        await asyncio.gather(*(delivered(i, images=1) for i in admitted))
        assert "10 of 10 images used, 0 left" in await quota(fake_discord)
    assert len(fake_api.requests) == 10
    assert not fake_discord.violations


# --- the global side: a 429 pauses every worker; the budget ------------------------------------


async def test_a_rate_limit_answer_makes_every_job_wait_for_retry_after(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    wait = 0.8
    async with start_bot() as bot:
        fake_api.fail_next("rate_limited", retry_after_ms=wait * 1000)
        first = await imagine(fake_discord)
        for _ in range(1000):  # until the 429 was answered
            if await bot.limiter.budget.paused_until() is not None:
                break
            await asyncio.sleep(0.005)
        else:
            pytest.fail("the 429 did not pause the budget")
        # Another member, with running places free: only the pause can hold this job back.
        second = await imagine(fake_discord, user=fake_discord.other_member)
        await asyncio.gather(delivered(first, images=1), delivered(second, images=1))
        # It waited in the queue meanwhile, and its member saw that.
        assert "number 1 in line" in second.seen[0].content

    limited, *after = fake_api.requests
    assert len(after) == 2  # the first job's retry and the second job
    assert {r.fields["user"] for r in after} == {
        limited.fields["user"],
        bot.member_ids(fake_discord.other_member.id),
    }
    for request in after:
        assert request.arrived - limited.arrived >= wait


async def test_a_quota_429_pauses_nobody_and_costs_nothing(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot(LIMIT_WINDOW_IMAGES="3") as bot:
        fake_api.fail_next("insufficient_quota", retry_after_ms=5000)
        assert "0 of 3 images used" in await quota(fake_discord)
        text = await private_followup(await imagine(fake_discord, n=3))
        assert "used up its credit" in text
        assert await bot.limiter.budget.paused_until() is None
        await delivered(await imagine(fake_discord, user=fake_discord.other_member), images=1)
        assert "0 of 3 images used, 3 left" in await quota(fake_discord)
    quota_error, served = fake_api.requests
    assert served.arrived - quota_error.arrived < 2


async def test_the_global_budget_and_its_default(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot() as bot:
        assert bot.limiter.budget.images_per_minute == 50
        assert bot.limiter.queue.max_concurrent == 4
    async with start_bot(IMAGES_PER_MINUTE="3", LIMIT_WINDOW_IMAGES="10"):
        text = await refused_at_once(await imagine(fake_discord, n=4))
        assert text == (
            "You asked for 4 images, but this bot can make at most 3 images per minute. "
            "Ask for 3 or fewer."
        )
        assert "0 of 10 images used" in await quota(fake_discord)
    assert fake_api.requests == []


# --- the fair queue: positions, round robin, caps ----------------------------------------------


def positions(interaction: FakeInteraction) -> list[str]:
    """What the member saw in the deferred message, in order, the queue's words shortened."""
    shown = []
    for seen in interaction.seen:
        if seen.files and not is_result(seen):
            continue  # a live preview (issue 12), not the queue's words
        if seen.files:
            shown.append("images")
        elif match := re.search(r"you're number (\d+) in line", seen.content):
            shown.append(match.group(1))
        elif "your turn" in seen.content:
            shown.append("turn")
        elif "posting them in the channel" in seen.content:
            shown.append("posting")
        else:
            shown.append(seen.content)
    return shown


async def until(interaction: FakeInteraction, shown: Sequence[str]) -> None:
    await interaction.wait_until(lambda i: positions(i) == list(shown), timeout=5)


async def test_queued_jobs_see_their_position_and_go_round_robin(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.latency = 0.25
    third = fake_discord.add_member(fake_discord.guild, "third")
    # Only the queue's words here: no live previews (their edits carry files too).
    async with start_bot(MAX_CONCURRENT_REQUESTS="1", PREVIEW_PARTIAL_IMAGES="0") as bot:
        a1 = await imagine(fake_discord)
        await eventually(lambda: len(fake_api.requests) == 1)  # a1 holds the only place
        a2 = await imagine(fake_discord)
        await until(a2, ["1"])
        b1 = await imagine(fake_discord, user=fake_discord.other_member)
        # b's member was not served yet, a's was: b1 goes ahead of a2.
        await until(b1, ["1"])
        c1 = await imagine(fake_discord, user=third)
        await until(c1, ["2"])
        await asyncio.gather(*(delivered(i, images=1) for i in (a1, a2, b1, c1)))

    # Issue 12: the stage line is edited at most every 5 s, so a2's later places (2, 3, 2, 1),
    # all within a second of its first, are never shown; its turn is shown at once (the
    # Cancel button must go), then the private "posting" note, then its images.
    assert positions(a1) == ["posting", "images"]
    assert positions(b1) == ["1", "turn", "posting", "images"]
    assert positions(c1) == ["2", "turn", "posting", "images"]
    assert positions(a2) == ["1", "turn", "posting", "images"]
    # The position messages were edits of the private deferred message (@original), not new
    # messages; the images came as a new one.
    assert [seen.via for seen in a2.seen if not seen.files] == ["edit_original"] * 3
    assert all(seen.ephemeral for seen in a2.seen if not seen.files)
    assert [not m.ephemeral and bool(m.attachments) for m in a2.followups] == [True]
    a, b, c = (
        bot.member_ids(u.id) for u in (fake_discord.member, fake_discord.other_member, third)
    )
    assert [r.fields["user"] for r in fake_api.requests] == [a, b, c, a]
    # One at a time: each call arrived after the one before had been answered.
    arrivals = fake_api.arrivals
    assert all(later - earlier >= 0.25 for earlier, later in itertools.pairwise(arrivals))


async def test_full_queues_refuse_at_once_with_a_busy_message(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.latency = 0.3
    third = fake_discord.add_member(fake_discord.guild, "third")
    settings = {"MAX_CONCURRENT_REQUESTS": "1", "QUEUE_MAX": "2", "QUEUE_MAX_PER_MEMBER": "1"}
    async with start_bot(**settings):
        running = await imagine(fake_discord)
        await eventually(lambda: len(fake_api.requests) == 1)
        waiting = await imagine(fake_discord)
        await until(waiting, ["1"])
        text = await refused_at_once(await imagine(fake_discord, n=2))
        assert text == (
            "You already have 1 request waiting. "
            "Please wait for one to finish before asking for more."
        )
        other = await imagine(fake_discord, user=fake_discord.other_member)
        await until(other, ["1"])
        text = await refused_at_once(await imagine(fake_discord, user=third))
        assert text == (
            "The bot is busy right now: too many requests are waiting. "
            "Please try again in a minute."
        )
        await asyncio.gather(*(delivered(i, images=1) for i in (running, waiting, other)))
        # The refused requests cost nothing.
        assert "2 of 10 images used" in await quota(fake_discord)
        assert "0 of 10 images used" in await quota(fake_discord, user=third)
    assert len(fake_api.requests) == 3


async def test_a_burst_from_one_member_keeps_the_per_member_cap(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    # Four at once, one running place, one waiting job per member: two run, two are refused.
    # The burst passes the check before deferring together; the queue's own check on entry
    # then refuses, privately, after the deferral. A job that is only being admitted (the
    # store answering) does not count as waiting, so the second job is not refused too.
    fake_api.latency = 0.2
    async with start_bot(MAX_CONCURRENT_REQUESTS="1", QUEUE_MAX_PER_MEMBER="1"):
        burst = await asyncio.gather(*(imagine(fake_discord) for _ in range(4)))
        for interaction in burst:
            await interaction.wait_until(lambda i: any(s.files or answered(s) for s in i.seen))
        told = [s.content for i in burst for s in i.seen if answered(s)]
        assert (
            told
            == [
                "You already have 1 request waiting. "
                "Please wait for one to finish before asking for more."
            ]
            * 2
        )
        assert "2 of 10 images used" in await quota(fake_discord)
    assert len(fake_api.requests) == 2


# --- Redis: processes share quotas, budget and pauses ------------------------------------------


async def test_redis_state_is_shared_with_another_process(
    start_bot: StartBot,
    fake_discord: FakeDiscord,
    fake_api: FakeImagesAPI,
    redis_url: str,
) -> None:
    # A database of its own, emptied first: the bot's keys have fixed names.
    url = redis_url.rsplit("/", 1)[0] + "/7"
    cleaner = Redis.from_url(url)
    await cleaner.flushdb()
    await cleaner.aclose()
    policy = LimitPolicy(window_seconds=3600, window_images=4, daily_images=30)
    async with start_bot(STATE_URL=url, LIMIT_WINDOW_IMAGES="4") as bot:
        assert repr(bot.store) == "RedisStore(prefix='imagine-bot')"
        await delivered(await imagine(fake_discord, n=2), images=2)
        key = fake_api.requests[0].fields["user"]

        # "Another process": its own connection and Limiter, sharing only the Redis state.
        async with RedisStore(RedisConnection(url)) as shared:
            other = Limiter(shared)
            assert (await other.usage(key, policy)).remaining == 2
            await (await other.reserve(key, images=2, policy=policy)).commit()
            text = await refused_at_once(await imagine(fake_discord))
            assert text.startswith("You've used 4 of your 4 images in the last hour.")
            assert "4 of 4 images used, 0 left" in await quota(fake_discord)

            # The other process got a 429: this one holds back too.
            await other.pause_for(0.6)
            paused_at = time.monotonic()
            waiting = await imagine(fake_discord, user=fake_discord.other_member)
            await delivered(waiting, images=1)
            assert positions(waiting) == ["1", "turn", "posting", "images"]
    assert fake_api.requests[-1].arrived - paused_at >= 0.5
    assert len(fake_api.requests) == 2
