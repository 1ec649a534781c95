"""A moderator's list of the server's waiting requests (`/imagine-settings queue`, issue 12):
the member's thinking message, with its Cancel button, is private, so the moderator cancels from
the list. End to end through the fake Discord and the fake Images API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.cogs.support import result
from tests.cogs.test_progress import _queued as queued  # the member's job waits
from tests.cogs.test_progress import imagine, used
from tests.conftest import StartBot, eventually
from tests.fakes.discord import FakeDiscord, FakeInteraction
from tests.fakes.images_api import FakeImagesAPI


@pytest.fixture(autouse=True)
async def nothing_discord_would_refuse(fake_discord: FakeDiscord) -> AsyncIterator[None]:
    """Every payload the bot sent in the test was one Discord accepts (the fake validates)."""
    yield
    assert not fake_discord.violations


async def queue_list(fake: FakeDiscord, *, user: Any, locale: str = "en-US") -> FakeInteraction:
    interaction = await fake.invoke(
        "imagine-settings", {}, subcommand="queue", user=user, locale=locale
    )
    response = await interaction.wait_for_response()
    assert (response.type, response.ephemeral) == (4, True), "the list is private"
    return interaction


def content(interaction: FakeInteraction) -> str:
    assert interaction.original is not None
    return interaction.original.content


def buttons(interaction: FakeInteraction) -> list[dict[str, Any]]:
    assert interaction.original is not None
    return [item for row in interaction.original.components for item in row["components"]]


async def test_a_moderator_lists_and_cancels_a_members_waiting_request(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.latency = 1.0
    async with start_bot(MAX_CONCURRENT_REQUESTS="1") as bot:
        waiting = await queued(fake_discord, fake_api)
        assert await used(bot, fake_discord) == 1
        listed = await queue_list(fake_discord, user=fake_discord.moderator)
        text = content(listed)
        assert "Requests waiting in this server: 1" in text
        assert f"#1 · <@{fake_discord.member.id}> · /imagine · asked <t:" in text
        [button] = buttons(listed)
        assert button["label"] == "Cancel #1"
        assert listed.original is not None
        click = await fake_discord.click(
            listed.original.id, button["custom_id"], user=fake_discord.moderator
        )
        assert (await click.wait_for_response()).type == 7  # the list itself is updated
        assert f"Cancelled <@{fake_discord.member.id}>'s /imagine" in content(listed)
        assert "No request from this server is waiting" in content(listed)
        assert buttons(listed) == []
        # The member's own private message says who cancelled it, and its button is gone.
        member_message = waiting.original
        assert member_message is not None
        await eventually(lambda: "Cancelled by" in member_message.content)
        assert f"<@{fake_discord.moderator.id}>" in member_message.content
        assert member_message.components == []
        assert await used(bot, fake_discord) == 0  # refunded
        await asyncio.sleep(1.5)  # the first job ends: the cancelled one never goes
    assert len(fake_api.requests) == 1


async def test_a_member_who_is_not_a_moderator_can_neither_list_nor_cancel(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.latency = 1.0
    async with start_bot(MAX_CONCURRENT_REQUESTS="1") as bot:
        await queued(fake_discord, fake_api)
        refused = await fake_discord.invoke(
            "imagine-settings", {}, subcommand="queue", user=fake_discord.other_member
        )
        answer = await refused.wait_for_response()
        assert (answer.type, answer.ephemeral) == (4, True)
        assert answer.data is not None
        assert "Only moderators (Manage Messages)" in answer.data["content"]
        # A list's button reached by someone else is refused too (the button's own rule).
        listed = await queue_list(fake_discord, user=fake_discord.moderator)
        [button] = buttons(listed)
        assert listed.original is not None
        click = await fake_discord.click(
            listed.original.id, button["custom_id"], user=fake_discord.other_member
        )
        answer = await click.wait_for_response()
        assert (answer.type, answer.ephemeral) == (4, True)
        assert answer.data is not None
        assert "Only the member who asked" in answer.data["content"]
        assert await used(bot, fake_discord) == 1  # still waiting, still held
        await eventually(lambda: len(fake_api.requests) == 2, timeout=5)  # and it goes


async def test_an_empty_queue_says_there_is_nothing_to_cancel(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot():
        listed = await queue_list(fake_discord, user=fake_discord.moderator)
    assert "No request from this server is waiting its turn" in content(listed)
    assert buttons(listed) == []


async def test_the_list_in_chinese(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.latency = 1.0
    async with start_bot(MAX_CONCURRENT_REQUESTS="1"):
        await queued(fake_discord, fake_api)
        listed = await queue_list(fake_discord, user=fake_discord.moderator, locale="zh-CN")
        assert "本服务器正在排队的请求：1 个" in content(listed)  # noqa: RUF001
        assert f"第 1 位 · <@{fake_discord.member.id}> · /imagine" in content(listed)
        [button] = buttons(listed)
        assert button["label"] == "取消第 1 位"
        assert listed.original is not None
        click = await fake_discord.click(
            listed.original.id, button["custom_id"], user=fake_discord.moderator, locale="zh-CN"
        )
        assert (await click.wait_for_response()).type == 7
        assert f"已取消 <@{fake_discord.member.id}> 的 /imagine" in content(listed)
        assert "本服务器目前没有正在排队的请求" in content(listed)


async def test_past_25_requests_the_list_turns_to_select_menus(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    """Discord allows 25 buttons: with 26 requests waiting, one select menu per 25 instead."""
    fake_api.latency = 3.0
    others = [fake_discord.add_user(f"waiter{k}") for k in range(25)]
    for user in others:
        fake_discord.add_member(fake_discord.guild, user)
    # No grace at the end: the 25 jobs still waiting are simply stopped.
    async with start_bot(MAX_CONCURRENT_REQUESTS="1", SHUTDOWN_GRACE_SECONDS="0") as bot:
        await imagine(fake_discord, user=fake_discord.other_member)
        await eventually(lambda: len(fake_api.requests) == 1)
        for user in others:
            await imagine(fake_discord, user=user)
        await eventually(lambda: bot.limiter.queue.waiting == 25)
        waiting = await imagine(fake_discord)
        await waiting.wait_until(lambda i: any(s.components for s in i.seen), timeout=5)
        listed = await queue_list(fake_discord, user=fake_discord.moderator)
        text = content(listed)
        assert "Requests waiting in this server: 26" in text
        assert "…and 1 more (1 of them in the menus below)." in text
        menus = buttons(listed)
        assert [menu["type"] for menu in menus] == [3, 3]  # two select menus, no buttons
        assert [len(menu["options"]) for menu in menus] == [25, 1]
        [option] = menus[1]["options"]
        assert option["label"] == "#26 · Member · /imagine"
        assert listed.original is not None
        click = await fake_discord.click(
            listed.original.id,
            menus[1]["custom_id"],
            user=fake_discord.moderator,
            values=[option["value"]],
        )
        assert (await click.wait_for_response()).type == 7
        assert "Requests waiting in this server: 25" in content(listed)
        assert len(buttons(listed)) == 25  # back to buttons
        member_message = waiting.original
        assert member_message is not None
        await eventually(lambda: f"<@{fake_discord.moderator.id}>" in member_message.content)
        assert await used(bot, fake_discord) == 0


async def test_a_request_from_a_result_button_is_listed_by_its_command(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    """A Re-roll click is a new /imagine: the list names the command, not the click."""
    async with start_bot(MAX_CONCURRENT_REQUESTS="1"):
        first = await result(await fake_discord.invoke("imagine", {"prompt": "a red fox"}))
        fake_api.latency = 1.0
        await imagine(fake_discord, user=fake_discord.other_member)
        await eventually(lambda: len(fake_api.requests) == 2)
        roll = next(
            c["custom_id"]
            for row in first.components
            for c in row["components"]
            if c["custom_id"].startswith("imagine:roll:")
        )
        click = await fake_discord.click(first.message_id, roll)
        await click.wait_until(lambda i: any(s.components for s in i.seen), timeout=5)
        listed = await queue_list(fake_discord, user=fake_discord.moderator)
        assert f"#1 · <@{fake_discord.member.id}> · /imagine · asked" in content(listed)
