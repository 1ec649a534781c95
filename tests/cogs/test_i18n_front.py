"""A member whose Discord is in Chinese (zh-CN) reads the front's words in Chinese: the apology
with its error id, restarts, a result's caption (and the channel reads it in the asker's
language), the thinking and progress lines, a button's refusal, broken payloads, late and owed
images, and what a restart tells them. A French member (a language the bot does not ship)
reads the English. Through the fake Discord."""

# Chinese is written with its own punctuation.
# ruff: noqa: RUF001

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest
from discord import app_commands

from bot.front.handover import resolve_interrupted
from bot.front.i18n import Words
from bot.front.tree import _check_failed
from bot.records import JobRecord, Stage, now_ms
from tests.cogs.support import eventually, picture, private_reply, refused_at_once, result
from tests.cogs.test_settings import configure
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord, FakeInteraction
from tests.fakes.images_api import FakeImagesAPI

CHINESE = "zh-CN"
# A Chinese reply is Chinese: none of the English sentence it replaces is left in it.
ENGLISH_WORDS = re.compile(r"\b(?:Sorry|your|the|and|try|again|Please|request|asked by)\b")
ORIGINAL = "/webhooks/*/messages/@original"


def chinese(text: str) -> str:
    assert not ENGLISH_WORDS.search(text), text
    return text


async def test_a_chinese_member_reads_the_apology_with_its_error_id(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    # An unexpected answer to the deferral: our failure, not the member's.
    fake_discord.fail_next("POST", "/interactions/*/callback", 400, 50035, "Invalid Form Body")
    async with start_bot():
        broken = await fake_discord.invoke("imagine", {"prompt": "a fox"}, locale=CHINESE)
        apology = chinese(await refused_at_once(broken))
    assert apology.startswith("抱歉，我这边出了问题，你的请求没能完成。")
    assert re.search(r"请把错误编号 `[0-9a-f]{8}` 告诉服务器所有者。$", apology), apology


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (CHINESE, "机器人正在重启，暂时不接受新的请求。请过一分钟再试。"),
        ("fr", "The bot is restarting and isn't taking new requests right now."),
    ],
    ids=[CHINESE, "fr"],
)
async def test_a_member_is_told_the_bot_is_restarting_in_their_language(
    start_bot: StartBot,
    fake_discord: FakeDiscord,
    fake_api: FakeImagesAPI,
    locale: str,
    expected: str,
) -> None:
    fake_api.latency = 0.5
    async with start_bot() as bot:
        running = await fake_discord.invoke("imagine", {"prompt": "one last picture"})
        assert (await running.wait_for_response()).type == 5
        stopping = asyncio.create_task(bot.shutdown())
        await asyncio.sleep(0.05)
        late = await fake_discord.invoke(
            "imagine", {"prompt": "too late"}, user=fake_discord.other_member, locale=locale
        )
        text = await refused_at_once(late)
        await result(running)
        await asyncio.wait_for(stopping, 5)
    assert text.startswith(expected)


async def test_a_chinese_members_job_stopped_by_a_restart_is_told_in_chinese(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.fail_next("slow", delay=10.0)
    async with start_bot(SHUTDOWN_GRACE_SECONDS="0.3") as bot:
        interaction = await fake_discord.invoke(
            "imagine", {"prompt": "a very slow picture"}, locale=CHINESE
        )
        assert (await interaction.wait_for_response()).type == 5
        await eventually(lambda: bool(fake_api.requests))
        await asyncio.wait_for(bot.shutdown(), 5)
        text = await private_reply(interaction)
    assert chinese(text) == "你的请求还没完成，机器人就不得不重启，所以请求已停止。请过一分钟再试。"


async def test_a_result_caption_is_in_the_language_of_the_member_who_asked(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot(IMAGE_MODEL="dall-e-3", PREVIEW_PARTIAL_IMAGES="0"):
        asked = await fake_discord.invoke("imagine", {"prompt": "a red fox"}, locale=CHINESE)
        seen = await result(asked)
        french = await fake_discord.invoke(
            "imagine", {"prompt": "a grey wolf"}, user=fake_discord.other_member, locale="fr"
        )
        seen_fr = await result(french)
    lines = seen.content.splitlines()
    assert lines[0] == "**a red fox**"  # the member's own words, as typed
    assert lines[1] == "-# 模型将提示词改写为：A detailed rendering of: a red fox"
    assert re.fullmatch(
        rf"-# /imagine · 1024x1024 · dall-e-3 · 由 <@{fake_discord.member.id}> 请求 · \d+\.\d 秒",
        lines[2],
    ), lines[2]
    # The private note that replaces "thinking..." before the images are posted.
    assert asked.seen[0].content == "你的图片已生成，正在发布到频道…"
    french_lines = seen_fr.content.splitlines()
    assert french_lines[1].startswith("-# The model rewrote the prompt as: A detailed")
    assert f"· asked by <@{fake_discord.other_member.id}> ·" in french_lines[2]
    assert french.seen[0].content == "Your images are ready: posting them in the channel…"


async def test_a_chinese_vary_by_edit_says_so_in_chinese(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot(IMAGE_MODEL="gpt-image-1", PREVIEW_PARTIAL_IMAGES="0"):
        image = fake_discord.add_attachment(picture(512, 512), "cat.png")
        interaction = await fake_discord.invoke("vary", {"image": image}, locale=CHINESE)
        seen = await result(interaction)
    assert "-# 这个模型不支持生成变体" in seen.content
    assert "由 <@" in seen.content


async def _queued(fake_discord: FakeDiscord, fake_api: FakeImagesAPI) -> FakeInteraction:
    """A first job holding the only running place, and a Chinese member's waiting behind it."""
    await fake_discord.invoke("imagine", {"prompt": "first"}, user=fake_discord.other_member)
    await eventually(lambda: len(fake_api.requests) == 1)
    second = await fake_discord.invoke("imagine", {"prompt": "second"}, locale=CHINESE)
    await second.wait_until(lambda i: any(s.components for s in i.seen), timeout=5)
    return second


async def test_the_progress_lines_and_a_buttons_refusal_are_in_chinese(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.latency = 1.0
    async with start_bot(MAX_CONCURRENT_REQUESTS="1", PREVIEW_PARTIAL_IMAGES="0"):
        waiting = await _queued(fake_discord, fake_api)
        shown = waiting.seen[-1]
        [row] = shown.components
        [button] = row["components"]
        assert button["label"] == "取消"
        assert chinese(shown.content).startswith("机器人正忙，你的请求正在排队：你排在第 1 位")
        assert waiting.original is not None
        other = await fake_discord.click(
            waiting.original.id,
            str(button["custom_id"]),
            user=fake_discord.other_member,
            locale=CHINESE,
        )
        answer = await other.wait_for_response()
        assert (answer.type, answer.ephemeral) == (4, True)
        assert answer.data is not None
        assert chinese(answer.data["content"]).startswith("只有发起请求的成员或版主")
        await result(waiting)
    lines = [s.content for s in waiting.seen if not s.files]
    assert any(line.startswith("轮到你了：正在生成你的图片…") for line in lines), lines


@pytest.mark.parametrize(
    ("locale", "expected"),
    [
        (CHINESE, "选项 n 必须是整数，但收到的不是。请从 Discord 的命令菜单重新运行这个斜杠命令"),
        ("fr", "The option n must be a whole number, and it didn't arrive that way. Run the"),
    ],
    ids=[CHINESE, "fr"],
)
async def test_a_broken_payload_is_refused_in_the_members_language(
    start_bot: StartBot,
    fake_discord: FakeDiscord,
    fake_api: FakeImagesAPI,
    locale: str,
    expected: str,
) -> None:
    options: list[dict[str, Any]] = [
        {"name": "prompt", "type": 3, "value": "a lighthouse"},
        {"name": "n", "type": 4, "value": "3"},
        {"name": "seed", "type": 4, "value": 1},
    ]
    async with start_bot():
        interaction = await fake_discord.invoke("imagine", options, locale=locale)
        text = await refused_at_once(interaction)
    lines = text.splitlines()
    assert len(lines) == 3  # a heading and both problems
    assert expected in text
    if locale == CHINESE:
        assert chinese(lines[0]) == "这个请求有几处问题："
        assert lines[2] == (
            "- Discord 发来了这个斜杠命令没有的选项。请从 Discord 的命令菜单重新运行这个斜杠命令"
            "（如果反复出现，请重启 Discord）。"
        )
    assert fake_api.requests == []


async def test_late_images_and_a_late_refusal_are_in_chinese(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.latency = 0.3
    async with start_bot():
        interaction = await fake_discord.invoke(
            "imagine", {"prompt": "a late train"}, locale=CHINESE
        )
        assert (await interaction.wait_for_response()).type == 5
        fake_discord.expire_token(interaction)  # 15 minutes pass while the API works
        seen = await interaction.wait_for_final(predicate=lambda s: bool(s.files))
        fake_api.fail_next("content_policy", delay=0.3)
        refused = await fake_discord.invoke("imagine", {"prompt": "a storm"}, locale=CHINESE)
        assert (await refused.wait_for_response()).type == 5
        fake_discord.expire_token(refused)
        dm = await fake_discord.wait_for_message(
            lambda m: m.channel_id == fake_discord.dm_channel.id
        )
    assert seen.via == "channel"
    assert seen.content.startswith(f"<@{fake_discord.member.id}>，你的 /imagine 图片已生成。")
    assert dm.content.startswith("关于你的 /imagine 请求：")


async def test_owed_images_are_offered_in_the_language_of_the_next_command(
    start_bot: StartBot, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    fake_discord.fail_next("PATCH", ORIGINAL, 400, 50035, "Invalid Form Body")
    fake_discord.fail_next("POST", "/channels/*/messages", 403, 50013, "Missing Permissions", 2)
    async with start_bot() as bot:
        lost = await fake_discord.invoke("imagine", {"prompt": "a garden", "n": 2})
        await lost.wait_for_final(predicate=lambda seen: seen.ephemeral)
        folder = tmp_path / "data" / "outbox" / str(lost.id)
        await eventually(lambda: not bot.live_jobs)
        later = await fake_discord.invoke("imagine", {"prompt": "a meadow"}, locale=CHINESE)
        await result(later)
        await eventually(lambda: not folder.exists())
        [offered] = [m for m in later.followups if m.ephemeral and len(m.attachments) == 2]
    assert re.fullmatch(r"有 2 张图片已准备好，来自你于 <t:\d+:f> 提交的请求：", offered.content)


# Told by DM (the private "thinking" message is out of reach): dated, as bot.front.handover
# words it away from the request (`restart.later.*`).
@pytest.mark.parametrize(
    ("locale", "refunded", "lost"),
    [
        (
            CHINESE,
            "你的 /imagine 请求（发出于 <t:",
            "）因机器人重启而中断，当时它已经发往图片服务",
        ),
        (
            "fr",
            "Your /imagine request of <t:",
            "was stopped by a restart of the bot after it was sent",
        ),
    ],
    ids=[CHINESE, "fr"],
)
async def test_what_a_restart_tells_the_member_is_in_the_language_they_asked_in(
    start_bot: StartBot, fake_discord: FakeDiscord, locale: str, refunded: str, lost: str
) -> None:
    async with start_bot() as bot:
        # Records as a crash leaves them (never sent / sent, no answer), in the language the
        # member asked in; no "thinking" message to edit, so they are told by DM.
        member = fake_discord.member.id
        for job, stage in (("1001", Stage.RESERVED), ("1002", Stage.SENT)):
            record = JobRecord(
                job_id=job,
                member_key=bot.member_ids(member),
                command="imagine",
                reservation_id=f"r-{job}",
                images=1,
                created_ms=now_ms(),
                stage=stage,
                discord_id=member,
                guild_id=fake_discord.guild.id,
                details={"locale": locale},
            )
            await bot.records.put(record)
        await resolve_interrupted(bot)
        dms = [
            m.content
            for m in fake_discord.all_messages()
            if m.channel_id == fake_discord.dm_channel.id
        ]
    assert all(dm.startswith(refunded) for dm in dms), dms
    assert any(lost in dm for dm in dms), dms
    assert len(dms) == 2


async def test_a_record_from_before_languages_were_kept_is_told_in_english(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot() as bot:
        member = fake_discord.member.id
        record = JobRecord(
            job_id="1003",
            member_key=bot.member_ids(member),
            command="imagine",
            reservation_id="r-1003",
            images=1,
            created_ms=now_ms(),
            discord_id=member,
        )
        await bot.records.put(record)
        await resolve_interrupted(bot)
        [dm] = [
            m.content
            for m in fake_discord.all_messages()
            if m.channel_id == fake_discord.dm_channel.id
        ]
    assert dm.startswith("Your /imagine request of <t:")
    assert "was stopped by a restart of the bot before it reached the image service" in dm


async def test_the_job_record_keeps_the_language_the_member_asked_in(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot() as bot:
        interaction = await fake_discord.invoke("imagine", {"prompt": "a fox"}, locale=CHINESE)
        await result(interaction)
        await eventually(lambda: not bot.live_jobs)
        record = await bot.records.get(str(interaction.id))
    assert record is not None
    assert record.details.get("locale") == CHINESE


async def test_an_outdated_command_is_explained_in_chinese(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot(IMAGE_MODEL="gpt-image-2"):
        pass
    # The sync fails (the daily quota is spent): Discord still offers /edit, which dall-e-3
    # can't do and the bot no longer has.
    fake_discord.fail_next(
        "PUT", "/applications/*/commands", 429, 30034, "Max number of daily application commands"
    )
    async with start_bot(IMAGE_MODEL="dall-e-3"):
        image = fake_discord.add_attachment(b"\x89PNG", "a.png")
        stale = await fake_discord.invoke(
            "edit", {"image": image, "prompt": "a boat"}, locale=CHINESE
        )
        text = await refused_at_once(stale)
    assert chinese(text) == (
        "这个斜杠命令刚刚更新，而 Discord 显示的仍是旧版本。请等一分钟（或重启 Discord）后再试。"
    )


def test_discord_pys_own_check_failures_are_worded_from_the_catalogue() -> None:
    chinese_words, french_words = Words(CHINESE), Words("fr")
    not_here = "你不能在这里使用这个斜杠命令。"
    assert _check_failed(chinese_words, app_commands.NoPrivateMessage()) == (
        "这个斜杠命令不能在私信中使用。"
    )
    generic = app_commands.CheckFailure("The check functions for command 'imagine' failed.")
    assert _check_failed(chinese_words, generic) == not_here
    missing = app_commands.MissingPermissions(["manage_guild"])
    assert _check_failed(chinese_words, missing) == not_here
    assert _check_failed(french_words, app_commands.CheckFailure()) == (
        "You can't use this command here."
    )
    # A cog's own check raises the member's words already (cogs/settings.py): kept as they are.
    ours = app_commands.CheckFailure("只有拥有“管理服务器”权限的成员才能更改这些设置。")
    assert _check_failed(chinese_words, ours) == str(ours)


async def test_the_mod_log_shows_a_refused_vary_without_prompt_in_the_servers_language(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    modlog = fake_discord.add_channel(fake_discord.guild, "mod-log")
    fake_discord.guild.preferred_locale = CHINESE
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        await configure(fake_discord, "modlog", {"channel": modlog})
        fake_api.fail_next("content_policy")
        image = fake_discord.add_attachment(picture(256, 256), "cat.png")
        refused = await fake_discord.invoke("vary", {"image": image}, locale="en-US")
        await private_reply(refused)
        entry = await fake_discord.wait_for_message(
            lambda m: m.channel_id == modlog.id and bool(m.embeds)
        )
    assert entry.embeds[0]["description"] == "（一张图片，没有提示词）"
