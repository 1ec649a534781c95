# ruff: noqa: RUF001
"""Issue 13 end to end: access refusals, each screening layer, /imagine-settings and the
mod-log in the reader's language.

A `zh-CN` member reads Simplified Chinese and a `fr` member English. The mod-log, which every
moderator reads, is in the server's preferred language; what one person reads privately (a
button's refusal, an admin's answer) is in that person's.
"""

from __future__ import annotations

from typing import Any

from tests.cogs.support import private_reply, refused_at_once, result
from tests.cogs.test_moderation import (  # noqa: F401 - fake_moderation is a fixture
    fake_moderation,
    field,
    moderated,
)
from tests.cogs.test_modlog import answer, custom_id, entry_for, with_modlog
from tests.cogs.test_settings import (  # noqa: F401 - the autouse check
    configure,
    nothing_discord_would_refuse,
)
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord, FakeInteraction
from tests.fakes.images_api import FakeImagesAPI
from tests.fakes.moderation_api import FakeModerationAPI

CHINESE = "zh-CN"


async def imagine(
    fake: FakeDiscord, prompt: str = "a lighthouse at dusk", *, locale: str = CHINESE, **where: Any
) -> FakeInteraction:
    return await fake.invoke("imagine", {"prompt": prompt}, locale=locale, **where)


async def settings_reply(
    fake: FakeDiscord, subcommand: str, options: dict[str, Any] | None = None, **how: Any
) -> str:
    """`/imagine-settings <subcommand>`, by the owner in Chinese unless told: the answer."""
    how = {"user": fake.owner, "locale": CHINESE, **how}
    interaction = await fake.invoke("imagine-settings", options or {}, subcommand=subcommand, **how)
    response = await interaction.wait_for_response()
    assert (response.type, response.ephemeral) == (4, True)
    assert response.data is not None
    content: str = response.data["content"]
    return content


async def test_access_refusals_in_chinese_and_in_english_for_french(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    studio = fake_discord.other_channel
    gallery = fake_discord.add_channel(fake_discord.guild, "gallery")
    async with start_bot():
        await configure(fake_discord, "channels add", {"channel": studio})
        await configure(fake_discord, "channels add", {"channel": gallery})
        text = await refused_at_once(await imagine(fake_discord))
        assert text == f"在本服务器，图片命令只能在 <#{studio.id}>和<#{gallery.id}> 中使用。"
        text = await refused_at_once(await imagine(fake_discord, locale="fr"))
        assert text == f"Image commands work in <#{studio.id}> and <#{gallery.id}> on this server."
        await configure(fake_discord, "channels remove", {"channel": studio})
        await configure(fake_discord, "channels remove", {"channel": gallery})

        await configure(fake_discord, "nsfw-only", {"enabled": True})
        text = await refused_at_once(await imagine(fake_discord))
        assert text == "在本服务器，图片命令只能在年龄限制频道中使用。"
        await configure(fake_discord, "nsfw-only", {"enabled": False})

        role = fake_discord.add_role(fake_discord.guild, "artists")
        await configure(fake_discord, "roles add", {"role": role})
        text = await refused_at_once(await imagine(fake_discord))
        assert text == f"本服务器的图片命令仅限拥有 <@&{role.id}> 身份组的成员使用。"
        await configure(fake_discord, "roles remove", {"role": role})

        await configure(
            fake_discord, "block", {"member": fake_discord.member, "duration": "until unblocked"}
        )
        text = await refused_at_once(await imagine(fake_discord))
        assert text == "你已被禁止在本服务器使用这个机器人。"
    assert fake_api.requests == []


async def test_direct_messages_are_refused_in_chinese(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot(DISCORD_GUILD_ID=""):
        dm = fake_discord.dm_channel.id
        text = await refused_at_once(await imagine(fake_discord, channel_id=dm))
    assert text == "图片命令不能在与本机器人的私信中使用，请在服务器里使用。"


async def test_each_screening_layer_refuses_in_chinese(
    start_bot: StartBot,
    fake_discord: FakeDiscord,
    fake_api: FakeImagesAPI,
    fake_moderation: FakeModerationAPI,  # noqa: F811 - the fixture imported above
) -> None:
    fake_moderation.flag("sword fight", "violence", "violence/graphic")
    async with start_bot(**moderated(fake_moderation)):
        await configure(fake_discord, "terms add", {"term": "kraken"})
        text = await refused_at_once(await imagine(fake_discord, "a KR4KEN attacks"))
        assert text == "你的提示词包含本服务器屏蔽的词语，因此没有生成图片。请换一种说法。"
        text = await private_reply(await imagine(fake_discord, "a bloody sword fight"))
        assert text == "你的提示词未通过内容审核（暴力、血腥暴力）。请换一种说法。"
        text = await private_reply(await imagine(fake_discord, "a sword fight", locale="fr"))
        assert text == (
            "The moderation check flagged your prompt (violence, graphic violence). "
            "Please rephrase it."
        )
        fake_moderation.fail_next("server_error", times=2)
        text = await private_reply(await imagine(fake_discord))
        assert text == (
            "我现在无法通过审核服务检查你的提示词，因此没有生成图片，也没有计入额度。"
            "请一分钟后再试。"
        )
        fake_api.fail_next("content_policy")
        text = await private_reply(await imagine(fake_discord, "a forbidden picture"))
        assert text == "图片服务商依据其内容政策拒绝了这个提示词。请换一种说法试试。"


async def test_imagine_settings_answers_in_the_admins_language(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot():
        shown = await settings_reply(fake_discord, "show")
        assert shown == (
            "**本服务器的图片机器人设置**\n"
            "可用频道：所有频道\n"
            "可用成员：所有人\n"
            "仅限年龄限制频道：否\n"
            "结果按钮（重新生成、变体、编辑）：频道中的任何人\n"
            "每位成员的额度：每小时 10 张图片，每天 30 张（UTC）（机器人默认值）\n"
            "屏蔽词：0 个\n"
            "管理日志：关闭\n"
            "当前被禁止的成员：0 人"
        )
        done = await settings_reply(fake_discord, "terms add", {"term": "kraken"})
        assert done.startswith("已将该词语加入屏蔽列表。\n\n**本服务器的图片机器人设置**\n")
        assert "屏蔽词：1 个（用 `/imagine-settings terms list` 查看）" in done
        refused = await settings_reply(fake_discord, "terms add", {"term": "b*d"})
        assert refused == "屏蔽词中的 * 只能出现在开头或结尾（例如 bad* 或 *bad）。"
        refused = await settings_reply(fake_discord, "limits set")
        assert refused == "请至少填写 per_window、window_minutes 或 per_day 中的一项。"
        not_admin = await settings_reply(fake_discord, "show", user=fake_discord.member)
        assert not_admin == "只有拥有“管理服务器”权限的成员才能查看或更改图片机器人的设置。"
        english = await settings_reply(fake_discord, "limits clear", locale="fr")
        assert english.startswith("Back to the bot's default limits.\n\n**Image bot settings")


async def test_the_modlog_is_written_in_the_servers_language(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    fake_discord.guild.preferred_locale = CHINESE
    modlog = with_modlog(fake_discord)
    member, moderator = fake_discord.member, fake_discord.moderator
    async with start_bot():
        await configure(fake_discord, "modlog", {"channel": modlog})
        await configure(fake_discord, "terms add", {"term": "kraken"})
        # The member writes in English: the mod-log stays in the server's language.
        await refused_at_once(await imagine(fake_discord, "a KR4KEN attacks", locale="en-US"))
        refused = await entry_for(fake_discord, modlog, "已拒绝 /imagine")
        posted = await result(await imagine(fake_discord, locale="en-US"))
        entry = await entry_for(fake_discord, modlog, "/imagine")

        # A button's refusal is in the clicker's language; the Delete label in the server's.
        delete = f"imagine:del:{member.id}"
        button = fake_discord.message(posted.message_id).component(delete)
        assert button is not None
        assert button["label"] == "删除"
        click = await fake_discord.click(
            posted.message_id, delete, user=fake_discord.other_member, locale=CHINESE
        )
        assert await answer(click) == ("只有请求这些图片的成员或管理员才能删除它们。", True)
        click = await fake_discord.click(
            posted.message_id, delete, user=fake_discord.other_member, locale="fr"
        )
        assert await answer(click) == (
            "Only the member who asked for these images, or a moderator, can delete them.",
            True,
        )
        menu = custom_id(entry, "imagine:block:")
        pick = await fake_discord.click(entry.id, menu, user=moderator, values=["0"], locale="fr")
        text, private = await answer(pick)
        assert (text, private) == (
            f"<@{member.id}> is blocked from the image commands until unblocked.",
            True,
        )
        record = await fake_discord.wait_for_message(
            lambda m: m.channel_id == modlog.id and "已被禁止" in m.content
        )

    [embed] = refused.embeds
    assert field(embed, "成员") == f"<@{member.id}>"
    assert field(embed, "拒绝方") == "本服务器的屏蔽词"
    assert field(embed, "原因") == "屏蔽词 'kraken'（写作 'kr4ken'）"
    [embed] = entry.embeds
    assert [f["name"] for f in embed["fields"]] == [
        "成员",
        "频道",
        "模型",
        "尺寸",
        "图片数量",
        "结果",
    ]
    assert field(embed, "结果").startswith("[跳转到消息](https://discord.com/channels/")
    assert [o["label"] for o in entry.component(menu)["options"]] == [  # type: ignore[index]
        "1 小时",
        "1 天",
        "1 周",
        "30 天",
        "直到解除禁止",
    ]
    assert record.content == (
        f"<@{member.id}> 已被禁止使用图片命令，直到被解除禁止。（操作者：<@{moderator.id}>）"
    )
