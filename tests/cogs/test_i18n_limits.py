# ruff: noqa: RUF001
"""Issue 13 end to end: limits, the queue and /quota in the member's language.

A `zh-CN` member reads Simplified Chinese, a `fr` member (a language the bot does not ship)
reads English, word for word what an English member reads.
"""

from __future__ import annotations

import asyncio

from tests.cogs.test_limits import delivered, positions, refused_at_once, until
from tests.conftest import StartBot, eventually
from tests.fakes.discord import FakeDiscord, FakeInteraction, FakeUser
from tests.fakes.images_api import FakeImagesAPI

CHINESE = "zh-CN"


async def imagine(
    fake: FakeDiscord, *, locale: str = CHINESE, n: int = 1, user: FakeUser | None = None
) -> FakeInteraction:
    options = {"prompt": "a lighthouse at dusk", "n": n, "size": "1024x1024"}
    return await fake.invoke("imagine", options, user=user, locale=locale)


async def quota(fake: FakeDiscord, *, locale: str = CHINESE) -> str:
    interaction = await fake.invoke("quota", locale=locale)
    response = await interaction.wait_for_response()
    assert (response.type, response.ephemeral) == (4, True)
    assert response.data is not None
    content: str = response.data["content"]
    return content


async def test_each_limit_refusal_in_chinese_and_in_english_for_french(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot(LIMIT_WINDOW_IMAGES="3", LIMIT_DAILY_IMAGES="4", IMAGES_PER_MINUTE="5"):
        too_large = await refused_at_once(await imagine(fake_discord, n=4))
        assert too_large.startswith(
            "你请求了 4 张图片，但你的上限是每小时 3 张图片。请最多请求 3 张。"
        )
        everyone = await refused_at_once(await imagine(fake_discord, n=4, locale="fr"))
        assert everyone == (
            "You asked for 4 images, but your limit is 3 images per hour. Ask for 3 or fewer."
        )
        await delivered(await imagine(fake_discord, n=2), images=2)
        partial = await refused_at_once(await imagine(fake_discord, n=2))
        assert partial.startswith("你请求了 2 张图片，但你每小时的额度（3 张图片）只剩 1 张。")
        assert "请最多请求 1 张，或<t:" in partial
        french = await refused_at_once(await imagine(fake_discord, n=2, locale="fr"))
        assert french.startswith("You asked for 2 images, but only 1 of your 3 images per hour")
        await delivered(await imagine(fake_discord, n=1), images=1)
        window = await refused_at_once(await imagine(fake_discord))
        assert window.startswith("你过去一小时内的额度（3 张图片）已用完：已使用 3 张。<t:")
        assert window.endswith(":R>可以再生成 1 张。")
        french = await refused_at_once(await imagine(fake_discord, locale="fr"))
        assert french.startswith("You've used 3 of your 3 images in the last hour. You can make")

        shown = await quota(fake_discord)
        lines = shown.splitlines()
        assert lines[0] == "**你的图片额度**"
        assert lines[1].startswith("过去一小时内：已使用 3 张，共 3 张图片，剩余 0 张。<t:")
        assert lines[1].endswith(":R>会释放更多额度。")
        assert lines[2].startswith("今天：已使用 3 张，共 4 张图片，剩余 1 张。<t:")
        assert lines[2].endswith(":R>重置。")
        english = await quota(fake_discord, locale="fr")
        assert english.startswith("**Your image allowance**\nIn the last hour: 3 of 3 images used")
    async with start_bot(LIMIT_WINDOW_IMAGES="10", LIMIT_DAILY_IMAGES="3"):
        daily = await refused_at_once(await imagine(fake_discord))
        assert daily.startswith("你今天的额度（3 张图片）已用完：已使用 3 张。<t:")
    async with start_bot(IMAGES_PER_MINUTE="3", LIMIT_WINDOW_IMAGES="10"):
        budget = await refused_at_once(await imagine(fake_discord, n=4))
        assert budget == (
            "你请求了 4 张图片，但这个机器人每分钟最多只能生成 3 张图片。请最多请求 3 张。"
        )


async def test_the_queue_speaks_chinese(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.latency = 0.3
    third = fake_discord.add_member(fake_discord.guild, "third")
    settings = {"MAX_CONCURRENT_REQUESTS": "1", "QUEUE_MAX": "2", "QUEUE_MAX_PER_MEMBER": "1"}
    async with start_bot(**settings):
        running = await imagine(fake_discord)
        await eventually(lambda: len(fake_api.requests) == 1)
        waiting = await imagine(fake_discord)
        await waiting.wait_until(lambda i: any("排在第 1 位" in s.content for s in i.seen))
        mine = await refused_at_once(await imagine(fake_discord, n=2))
        assert mine == "你已有 1 个请求在排队。请等其中一个完成后再发起新的请求。"
        other = await imagine(fake_discord, user=fake_discord.other_member, locale="fr")
        await until(other, ["1"])  # English: "you're number 1 in line"
        busy = await refused_at_once(await imagine(fake_discord, user=third))
        assert busy == "机器人现在很忙：等待中的请求太多了。请一分钟后再试。"
        await asyncio.gather(*(delivered(i, images=1) for i in (running, waiting, other)))
    place = next(s.content for s in waiting.seen if "排在第" in s.content)
    # The wording is the queue's own (main words it as progress.queued): the place and the time.
    assert place.startswith("机器人正忙，你的请求")
    assert "你排在第 1 位" in place
    assert "<t:" in place
    assert "1" in positions(other)
