"""/quota end to end: each window's use, what is left, and when it resets, privately."""

from __future__ import annotations

import asyncio
import time

from tests.cogs.test_limits import delivered, imagine, quota, refused_at_once, relative_times
from tests.conftest import StartBot, eventually
from tests.fakes.discord import FakeDiscord
from tests.fakes.images_api import FakeImagesAPI


async def test_quota_of_a_new_member(start_bot: StartBot, fake_discord: FakeDiscord) -> None:
    async with start_bot(LIMIT_WINDOW_IMAGES="6", LIMIT_DAILY_IMAGES="20"):
        shown = await quota(fake_discord)
    assert shown == (
        "**Your image allowance**\n"
        "In the last hour: 0 of 6 images used, 6 left.\n"
        "Today: 0 of 20 images used, 20 left."
    )


async def test_quota_shows_use_in_progress_and_reset_times(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    settings = {"LIMIT_WINDOW_SECONDS": "120", "LIMIT_WINDOW_IMAGES": "5"}
    async with start_bot(**settings):
        made_at = time.time()
        await delivered(await imagine(fake_discord, n=2), images=2)
        fake_api.fail_next("slow", delay=0.5)
        slow = await imagine(fake_discord, n=1)
        await eventually(lambda: len(fake_api.requests) == 2)
        shown = await quota(fake_discord)
        await delivered(slow, images=1)
        after = await quota(fake_discord)

    rolling, daily = shown.splitlines()[1:]
    assert rolling.startswith("In the last 2 minutes: 3 of 5 images used (1 in progress), 2 left.")
    [frees_at] = relative_times(rolling)
    assert made_at + 120 - 1 <= frees_at <= time.time() + 120 + 1
    assert daily.startswith("Today: 3 of 30 images used (1 in progress), 27 left. Resets <t:")
    [midnight] = relative_times(daily)
    assert midnight % 86_400 == 0  # 00:00 UTC
    assert 0 < midnight - made_at <= 86_400
    assert "3 of 5 images used, 2 left." in after  # no longer in progress


async def test_a_short_rolling_window_frees_its_images(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    settings = {"LIMIT_WINDOW_SECONDS": "1", "LIMIT_WINDOW_IMAGES": "2"}
    async with start_bot(**settings):
        await delivered(await imagine(fake_discord, n=2), images=2)
        text = await refused_at_once(await imagine(fake_discord))
        assert text.startswith("You've used 2 of your 2 images in the last second.")
        await asyncio.sleep(1.05)
        shown = await quota(fake_discord)
        assert "In the last second: 0 of 2 images used, 2 left." in shown
        assert "Today: 2 of 30 images used, 28 left." in shown  # the daily cap still counts
        await delivered(await imagine(fake_discord, n=2), images=2)
