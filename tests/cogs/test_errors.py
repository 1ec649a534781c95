"""Every upstream failure ends with a clear, private message: never raw exception text, never
the API key, and never a public "thinking..." message left behind."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import Any

import pytest

from tests.cogs.support import (
    RAW_ERROR,
    assert_key_never_sent,
    mask,
    picture,
    private_reply,
    refused_at_once,
    result,
)
from tests.conftest import StartBot, eventually
from tests.fakes.discord import FakeDiscord
from tests.fakes.images_api import FakeImagesAPI

# (fail_next arguments, how many requests reach the API, what the member reads)
CASES: dict[str, tuple[dict[str, Any], int, str]] = {
    "content policy": (
        {"kind": "content_policy"},
        1,
        "refused this prompt under its content policy",
    ),
    "moderation blocked": (
        {"kind": "moderation_blocked"},
        1,
        "refused this prompt under its content policy",
    ),
    "invalid request": (
        {"kind": "invalid_request"},
        1,
        "The image service rejected the request: Invalid value for 'prompt'.",
    ),
    "model not found": ({"kind": "model_not_found"}, 1, "isn't available any more"),
    "bad key (401)": ({"kind": "unauthorized"}, 1, "can't sign in to its image service"),
    "forbidden (403)": ({"kind": "forbidden"}, 1, "can't sign in to its image service"),
    "quota": ({"kind": "insufficient_quota"}, 1, "used up its credit"),
    "rate limited after retries": (
        {"kind": "rate_limited", "times": 2, "retry_after_ms": 20},
        2,
        "busy right now",
    ),
    "5xx after retries": ({"kind": "server_error", "times": 2}, 2, "had a problem on its side"),
    "502 html": ({"kind": "server_error", "status": 502, "times": 2}, 2, "problem on its side"),
    # Sent whole, then lost: maybe carried out and billed, so never sent twice (issue 10).
    "timeout": ({"kind": "slow", "times": 2, "delay": 5.0}, 1, "answer was lost"),
    "dropped connection": ({"kind": "drop", "times": 2}, 1, "answer was lost"),
    "cut off halfway": ({"kind": "truncated", "times": 2}, 1, "answer was lost"),
    "not json": ({"kind": "not_json"}, 1, "wasn't a usable image"),
    "no data": ({"kind": "no_data"}, 1, "wasn't a usable image"),
    "bad base64": ({"kind": "bad_base64"}, 1, "wasn't a usable image"),
    "not an image": ({"kind": "not_an_image"}, 1, "wasn't a usable image"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_each_upstream_failure_is_told_privately_after_the_deferral(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI, case: str
) -> None:
    failure, attempts, expected = CASES[case]
    fake_api.fail_next(**failure)
    async with start_bot(IMAGES_TIMEOUT_SECONDS="0.3"):
        interaction = await fake_discord.invoke("imagine", {"prompt": "a quiet harbour"})
        text = await private_reply(interaction)
    assert expected in text
    assert len(fake_api.requests) == attempts
    assert interaction.followups[-1].ephemeral
    assert_key_never_sent(fake_discord)
    assert not fake_discord.violations


async def test_a_rate_limit_that_clears_within_the_retries_still_delivers(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.fail_next("rate_limited", retry_after_ms=50)
    async with start_bot():
        interaction = await fake_discord.invoke("imagine", {"prompt": "a quiet harbour"})
        seen = await result(interaction)
    assert len(seen.files) == 1
    assert len(fake_api.requests) == 2


async def test_a_failed_edit_is_private_too(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    image = fake_discord.add_attachment(picture(256, 256), "image.png")
    drawn = fake_discord.add_attachment(mask(256, 256), "mask.png")
    fake_api.fail_next("content_policy")
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        interaction = await fake_discord.invoke(
            "edit", {"image": image, "mask": drawn, "prompt": "a harbour"}
        )
        text = await private_reply(interaction)
    assert "content policy" in text
    assert len(fake_api.requests) == 1


async def test_a_failure_after_a_queue_position_was_shown_is_private(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    # One job at a time: the second waits in line (its "thinking..." message shows its place),
    # then fails upstream. The queue message must go too.
    fake_api.latency = 0.5
    async with start_bot(MAX_CONCURRENT_REQUESTS="1"):
        first = await fake_discord.invoke("imagine", {"prompt": "first"})
        await first.wait_for_response()
        fake_api.queue_response()  # the first job's answer
        # The first job's request is upstream before the failure is armed for the second:
        # a deferred job may wait for other commands to defer first (JobTracker), so which of
        # two members' jobs reaches the Images API first is not fixed by their arrival.
        await fake_api.wait_for_requests(1)
        fake_api.fail_next("content_policy")
        second = await fake_discord.invoke(
            "imagine", {"prompt": "second"}, user=fake_discord.other_member
        )
        text = await private_reply(second)
        await result(first)
    assert "content policy" in text
    assert any("in line" in s.content for s in second.seen)


async def test_a_member_error_is_logged_without_a_traceback_and_ours_with_an_error_id(
    start_bot: StartBot,
    fake_discord: FakeDiscord,
    fake_api: FakeImagesAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_api.fail_next("content_policy")
    # An unexpected answer to the deferral: nothing a member could fix.
    fake_discord.fail_next("POST", "/interactions/*/callback", 400, 50035, "Invalid Form Body")
    caplog.set_level(logging.INFO)
    async with start_bot():
        broken = await fake_discord.invoke("imagine", {"prompt": "first"})
        apology = await refused_at_once(broken)
        refused = await fake_discord.invoke("imagine", {"prompt": "second"})
        text = await private_reply(refused)
    match = re.search(r"error id `([0-9a-f]{8})`", apology)
    assert match is not None, apology
    assert "Sorry, something went wrong on my side" in apology
    [logged] = [r for r in caplog.records if match[1] in r.getMessage()]
    assert logged.levelno == logging.ERROR
    assert logged.exc_info is not None
    assert "content policy" in text
    member_error = [r for r in caplog.records if "member error in /imagine" in r.getMessage()]
    assert member_error
    assert all(r.exc_info is None for r in member_error)
    assert fake_api.requests[0].fields["prompt"] == "second"


async def test_a_discord_rate_limit_on_the_private_followup_is_waited_out(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.fail_next("content_policy")
    fake_discord.rate_limit_next("POST", "/webhooks/*", retry_after=0.1)
    async with start_bot():
        interaction = await fake_discord.invoke("imagine", {"prompt": "a quiet harbour"})
        text = await private_reply(interaction)
    assert "content policy" in text
    followups = [
        r for r in fake_discord.requests if r.route == "/webhooks/{application_id}/{token}"
    ]
    assert [r.status for r in followups] == [429, 200]


async def test_a_failure_after_the_token_expired_reaches_the_member_by_dm(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.fail_next("content_policy", delay=0.3)
    async with start_bot():
        interaction = await fake_discord.invoke("imagine", {"prompt": "a quiet harbour"})
        assert (await interaction.wait_for_response()).type == 5
        fake_discord.expire_token(interaction)
        dm = await fake_discord.wait_for_message(
            lambda m: m.channel_id == fake_discord.dm_channel.id
        )
    assert dm.content.startswith("About your /imagine request: The image provider refused")
    assert not RAW_ERROR.search(dm.content)
    # Nothing public in the channel: the refusal is the member's business.
    assert [
        m for m in fake_discord.messages[fake_discord.text_channel.id] if m.source == "channel"
    ] == []


async def test_an_unknown_interaction_on_the_defer_is_discords_timeout_not_our_failure(
    start_bot: StartBot,
    fake_discord: FakeDiscord,
    fake_api: FakeImagesAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 10062: the interaction outlived Discord's 3 seconds before the bot answered it.
    fake_discord.fail_next("POST", "/interactions/*/callback", 404, 10062, "Unknown interaction")
    async with start_bot(LIMIT_WINDOW_IMAGES="2"):
        await fake_discord.invoke("imagine", {"prompt": "a quiet harbour", "n": 2})
        await eventually(
            lambda: any(r.status == 404 for r in fake_discord.requests if "callback" in r.path)
        )
        await asyncio.sleep(0.3)  # what the bot would do next: no apology, no DM
        # Nothing was charged: the allowance still covers two images.
        again = await fake_discord.invoke("imagine", {"prompt": "a quiet harbour", "n": 2})
        assert len((await result(again)).files) == 2
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not [r for r in caplog.records if r.exc_info]
    assert fake_discord.messages[fake_discord.dm_channel.id] == []
    assert not any(r.path == "/users/@me/channels" for r in fake_discord.requests)
    assert len(fake_api.requests) == 1
