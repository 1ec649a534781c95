"""The mod-log and the buttons end to end: what moderators see, and who may press what.

Generations and refusals are posted to the server's mod-log channel; result messages carry a
Delete button for the member who asked and for moderators; mod-log entries carry "Delete
result" (Manage Messages) and a menu that blocks the member (Moderate Members or Manage
Server). The buttons keep their state in their custom ids, so they still work for a message
a previous run of the bot posted.
"""

from __future__ import annotations

import io
import re
import time
from typing import Any

from PIL import Image

from tests.cogs.support import eventually, refused_at_once, result
from tests.cogs.test_moderation import field
from tests.cogs.test_settings import (  # noqa: F401 - the autouse check
    configure,
    imagine,
    nothing_discord_would_refuse,
)
from tests.conftest import StartBot
from tests.fakes.discord import FakeChannel, FakeDiscord, FakeInteraction, FakeMessage

BLOCK_END = re.compile(r"until <t:(\d+):f> \(<t:\1:R>\)")

ONLY_OWNER = "Only the member who asked for these images, or a moderator, can delete them."
ONLY_MODS = "Only moderators with the Manage Messages permission can delete results."
ONLY_BLOCKERS = (
    "Only moderators with the Timeout Members (Moderate Members) or Manage Server permission "
    "can block members from the bot."
)
BLOCKED = "You're blocked from using the bot on this server."


def with_modlog(fake: FakeDiscord) -> FakeChannel:
    return fake.add_channel(fake.guild, "mod-log")


async def entry_for(fake: FakeDiscord, modlog: FakeChannel, title: str) -> FakeMessage:
    """The mod-log entry whose embed has this title (waits for it)."""
    message: FakeMessage = await fake.wait_for_message(
        lambda m: m.channel_id == modlog.id and bool(m.embeds) and m.embeds[0]["title"] == title
    )
    return message


async def answer(interaction: FakeInteraction) -> tuple[str, bool]:
    """What a click was answered with: the message text and whether it was private."""
    response = await interaction.wait_for_response()
    assert response.ok, response
    assert response.type == 4
    assert response.data is not None
    return response.data["content"], response.ephemeral


def custom_id(message: FakeMessage, prefix: str) -> str:
    [found] = [c for c in message.custom_ids() if c.startswith(prefix)]
    return found


async def test_a_generation_entry_shows_who_what_where_and_the_images(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    modlog = with_modlog(fake_discord)
    async with start_bot():
        await configure(fake_discord, "modlog", {"channel": modlog})
        interaction = await fake_discord.invoke(
            "imagine",
            {"prompt": "two *tiny* boats", "n": 2, "size": "1536x1024"},
            user=fake_discord.member,
        )
        posted = await result(interaction)
        entry = await entry_for(fake_discord, modlog, "/imagine")
    [embed] = entry.embeds
    assert embed["description"] == r"two \*tiny\* boats"  # shown as typed, not as markdown
    assert field(embed, "Member") == f"<@{fake_discord.member.id}>"
    assert field(embed, "Channel") == f"<#{fake_discord.text_channel.id}>"
    assert field(embed, "Model") == "gpt-image-2"
    assert field(embed, "Size") == "1536x1024"
    assert field(embed, "Images") == "2"
    link = (
        f"https://discord.com/channels/{fake_discord.guild.id}/{posted.channel_id}/"
        f"{posted.message_id}"
    )
    assert field(embed, "Result") == f"[Jump to it]({link})"
    [sheet] = entry.attachments
    assert sheet.filename == "thumbnails.jpg"
    assert embed["image"]["url"] == sheet.url
    with Image.open(io.BytesIO(sheet.data)) as image:
        assert (image.format, image.size) == ("JPEG", (320, 160))  # two thumbnails side by side
    assert entry.custom_ids() == [
        f"imagine:mdel:{posted.channel_id}:{posted.message_id}",
        f"imagine:block:{fake_discord.member.id}",
    ]
    assert entry.mentions == []  # nobody is pinged by the mod-log


async def test_a_refusal_entry_names_the_layer_and_the_reason(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    modlog = with_modlog(fake_discord)
    async with start_bot():
        await configure(fake_discord, "modlog", {"channel": modlog})
        await configure(fake_discord, "terms add", {"term": "kraken"})
        await refused_at_once(await imagine(fake_discord, "a KR4KEN attacks"))
        entry = await entry_for(fake_discord, modlog, "Refused /imagine")
    [embed] = entry.embeds
    assert embed["description"] == "a KR4KEN attacks"
    assert field(embed, "Member") == f"<@{fake_discord.member.id}>"
    assert field(embed, "Refused by") == "the server's blocked terms"
    assert field(embed, "Reason") == "blocked term 'kraken' (written as 'kr4ken')"
    assert entry.custom_ids() == [f"imagine:block:{fake_discord.member.id}"]  # nothing to delete


async def test_the_result_delete_button_works_for_the_requester_and_moderators_only(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot():
        first = await result(await imagine(fake_discord))
        second = await result(await imagine(fake_discord))
        button = f"imagine:del:{fake_discord.member.id}"
        # Issue 12 put Re-roll, Vary and Edit beside Delete (which shares the first row).
        assert button in first.custom_ids()

        # Another member: refused privately, and the images stay.
        click = await fake_discord.click(first.message_id, button, user=fake_discord.other_member)
        assert await answer(click) == (ONLY_OWNER, True)
        assert not fake_discord.message(first.message_id).deleted

        # The member who asked.
        click = await fake_discord.click(first.message_id, button, user=fake_discord.member)
        assert (await click.wait_for_response()).type == 6  # acknowledged without a message
        await eventually(lambda: fake_discord.message(first.message_id).deleted)

        # A moderator (Manage Messages).
        click = await fake_discord.click(second.message_id, button, user=fake_discord.moderator)
        assert (await click.wait_for_response()).type == 6
        await eventually(lambda: fake_discord.message(second.message_id).deleted)


async def test_delete_result_in_the_modlog_is_for_moderators(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    modlog = with_modlog(fake_discord)
    async with start_bot():
        await configure(fake_discord, "modlog", {"channel": modlog})
        posted = await result(await imagine(fake_discord))
        entry = await entry_for(fake_discord, modlog, "/imagine")
        button = custom_id(entry, "imagine:mdel:")

        click = await fake_discord.click(entry.id, button, user=fake_discord.member)
        assert await answer(click) == (ONLY_MODS, True)
        assert not fake_discord.message(posted.message_id).deleted

        click = await fake_discord.click(entry.id, button, user=fake_discord.moderator)
        text, private = await answer(click)
        assert (text, private) == (
            f"Deleted the result. (by <@{fake_discord.moderator.id}>)",
            False,  # in the mod-log, for the other moderators
        )
        assert fake_discord.message(posted.message_id).deleted

        click = await fake_discord.click(entry.id, button, user=fake_discord.moderator)
        text, _ = await answer(click)
        assert text.startswith("The result was already deleted.")


async def test_the_block_menu_blocks_the_member_for_the_chosen_time(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    modlog = with_modlog(fake_discord)
    member, moderator = fake_discord.member, fake_discord.moderator
    async with start_bot():
        await configure(fake_discord, "modlog", {"channel": modlog})
        await result(await imagine(fake_discord))
        entry = await entry_for(fake_discord, modlog, "/imagine")
        menu = custom_id(entry, "imagine:block:")
        assert [o["label"] for o in entry.component(menu)["options"]] == [  # type: ignore[index]
            "1 hour",
            "1 day",
            "1 week",
            "30 days",
            "Until unblocked",
        ]

        pick = await fake_discord.click(
            entry.id, menu, user=fake_discord.other_member, values=["0"]
        )
        assert await answer(pick) == (ONLY_BLOCKERS, True)
        await result(await imagine(fake_discord))  # not blocked

        before = time.time()
        pick = await fake_discord.click(entry.id, menu, user=moderator, values=["3600"])
        text, private = await answer(pick)
        assert private
        [until] = [int(epoch) for epoch in BLOCK_END.findall(text)]
        assert before + 3600 <= until <= time.time() + 3600 + 1

        refusal = await refused_at_once(await imagine(fake_discord))
        assert refusal == f"{BLOCKED[:-1]} until <t:{until}:f> (<t:{until}:R>)."
        # The mod-log records who blocked whom, until when.
        record = await fake_discord.wait_for_message(
            lambda m: (
                m.channel_id == modlog.id and m.source == "channel" and "is blocked" in m.content
            )
        )
        assert record.content == (
            f"<@{member.id}> is blocked from the image commands until <t:{until}:f> "
            f"(<t:{until}:R>). (by <@{moderator.id}>)"
        )

        await configure(fake_discord, "unblock", {"member": member})
        await fake_discord.wait_for_message(
            lambda m: m.channel_id == modlog.id and "unblocked by" in m.content
        )
        await result(await imagine(fake_discord))


async def test_the_buttons_work_on_messages_from_a_previous_run(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    modlog = with_modlog(fake_discord)
    async with start_bot():
        await configure(fake_discord, "modlog", {"channel": modlog})
        first = await result(await imagine(fake_discord))
        second = await result(await imagine(fake_discord))
        entries: list[Any] = []
        await fake_discord.wait_for_message(
            lambda m: (
                m.channel_id == modlog.id
                and len([e for e in fake_discord.messages[modlog.id] if e.embeds]) == 2
            )
        )
        entries = [e for e in fake_discord.messages[modlog.id] if e.embeds]

    async with start_bot():
        click = await fake_discord.click(
            first.message_id, f"imagine:del:{fake_discord.member.id}", user=fake_discord.member
        )
        assert (await click.wait_for_response()).type == 6
        await eventually(lambda: fake_discord.message(first.message_id).deleted)

        entry = next(e for e in entries if str(second.message_id) in str(e.embeds))
        click = await fake_discord.click(
            entry.id, custom_id(entry, "imagine:mdel:"), user=fake_discord.moderator
        )
        assert (await answer(click))[0].startswith("Deleted the result.")
        assert fake_discord.message(second.message_id).deleted

        pick = await fake_discord.click(
            entry.id, custom_id(entry, "imagine:block:"), user=fake_discord.moderator, values=["0"]
        )
        assert (await answer(pick))[0].endswith(
            "is blocked from the image commands until unblocked."
        )
        refusal = await refused_at_once(await imagine(fake_discord))
        assert refusal == BLOCKED


async def test_the_last_entry_before_a_shutdown_is_still_posted(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    modlog = with_modlog(fake_discord)
    async with start_bot():
        await configure(fake_discord, "modlog", {"channel": modlog})
        await result(await imagine(fake_discord))
        # Leaving the block shuts the bot down at once, while the entry is being made.
    [entry] = [m for m in fake_discord.messages[modlog.id] if m.embeds]
    assert entry.embeds[0]["title"] == "/imagine"
    assert [a.filename for a in entry.attachments] == ["thumbnails.jpg"]
