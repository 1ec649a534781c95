"""/imagine-settings end to end: admins only, every answer private, settings that survive a
restart and take effect on the image commands.

Fake Discord -> the real bot (entry point, settings cog, SQLite store by default) -> the fake
Images API. Nothing of ours is patched.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from bot.moderation import ServerSettings
from bot.moderation.settings import MAX_ALLOWED_CHANNELS, MAX_ALLOWED_ROLES
from tests.cogs.support import refused_at_once, result
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord, FakeMember, FakeUser, Permission
from tests.fakes.images_api import FakeImagesAPI

Who = FakeUser | FakeMember | None
BLOCK_END = re.compile(r"until <t:(\d+):f> \(<t:\1:R>\)")

NOT_ADMIN = (
    "Only members with the Manage Server permission can see or change the image bot's settings."
)


@pytest.fixture(autouse=True)
async def nothing_discord_would_refuse(fake_discord: FakeDiscord) -> AsyncIterator[None]:
    """Every payload the bot sent in the test was one Discord accepts (the fake validates)."""
    yield
    assert not fake_discord.violations


async def configure(
    fake: FakeDiscord, subcommand: str, options: dict[str, Any] | None = None, *, user: Who = None
) -> str:
    """Run `/imagine-settings <subcommand>` (as the owner by default); the private answer."""
    interaction = await fake.invoke(
        "imagine-settings", options or {}, subcommand=subcommand, user=user or fake.owner
    )
    response = await interaction.wait_for_response()
    assert response.ok, response
    assert (response.type, response.ephemeral) == (4, True), "settings answers are private"
    assert response.data is not None
    content: str = response.data["content"]
    return content


async def imagine(
    fake: FakeDiscord, prompt: str = "a lighthouse at dusk", *, user: Who = None, **where: Any
) -> Any:
    return await fake.invoke("imagine", {"prompt": prompt}, user=user, **where)


async def quota(fake: FakeDiscord, *, user: Who = None) -> str:
    interaction = await fake.invoke("quota", user=user)
    response = await interaction.wait_for_response()
    assert response.data is not None
    content: str = response.data["content"]
    return content


async def test_the_group_is_registered_for_server_managers_only(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot():
        pass
    [group] = [
        c
        for c in fake_discord.registered_commands(fake_discord.guild.id)
        if c["name"] == "imagine-settings"
    ]
    assert group["default_member_permissions"] == str(Permission.MANAGE_GUILD) == "32"
    assert group["contexts"] == [0]  # servers only, never DMs
    subcommands = {
        " ".join(filter(None, (option["name"], sub.get("name")))): sub
        for option in group["options"]
        for sub in (option.get("options") if option["type"] == 2 else [{}])
    }
    assert set(subcommands) == {
        "show",
        "channels add",
        "channels remove",
        "roles add",
        "roles remove",
        "terms add",
        "terms remove",
        "terms list",
        "limits set",
        "limits clear",
        "modlog",
        "nsfw-only",
        "result-buttons",  # issue 12: who may use a result's buttons
        "queue",  # issue 12: a moderator cancels waiting requests
        "block",
        "unblock",
    }
    [block] = [option for option in group["options"] if option["name"] == "block"]
    [duration] = [option for option in block["options"] if option["name"] == "duration"]
    assert [choice["name"] for choice in duration["choices"]] == [
        "1 hour",
        "1 day",
        "1 week",
        "30 days",
        "until unblocked",
    ]
    assert not fake_discord.violations  # every name, description and choice within limits


async def test_settings_round_trip_survive_a_restart_and_take_effect(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    guild = fake_discord.guild
    artists = fake_discord.add_role(guild, "Artists")
    artist = fake_discord.add_member(guild, "artist", roles=[artists])
    modlog = fake_discord.add_channel(guild, "mod-log")
    studio = fake_discord.other_channel
    async with start_bot():
        done = await configure(fake_discord, "channels add", {"channel": studio})
        assert done.startswith(f"The image commands now work in <#{studio.id}> (and only there")
        await configure(fake_discord, "roles add", {"role": artists})
        await configure(fake_discord, "terms add", {"term": "Dragon*"})
        await configure(fake_discord, "limits set", {"per_window": 3, "per_day": 5})
        await configure(fake_discord, "modlog", {"channel": modlog})
        shown = await configure(fake_discord, "show")
    assert shown == (
        "**Image bot settings for this server**\n"
        f"Works in: <#{studio.id}>\n"
        f"Who may use it: <@&{artists.id}>\n"
        "Only in age-restricted channels: no\n"
        "Result buttons (Re-roll, Vary, Edit): anyone in the channel\n"
        "Per-member limits: 3 images per hour and 5 per day (UTC) (this server's own)\n"
        "Blocked terms: 1 (see `/imagine-settings terms list`)\n"
        f"Mod-log: <#{modlog.id}>\n"
        "Members blocked now: 0"
    )

    # A new process on the same DATA_DIR (SQLite by default) reads them back.
    async with start_bot():
        assert await configure(fake_discord, "show") == shown
        listed = await configure(fake_discord, "terms list")
        assert listed.endswith("\n`dragon*`")

        # And they apply: the wrong channel, then the wrong role, each says where and who.
        text = await refused_at_once(await imagine(fake_discord, user=artist))
        assert text == f"Image commands work in <#{studio.id}> on this server."
        text = await refused_at_once(await imagine(fake_discord, channel_id=studio.id))
        assert text == (
            f"Image commands on this server are only for members with the <@&{artists.id}> role."
        )
        assert "In the last hour: 0 of 3 images used" in await quota(fake_discord)
        text = await refused_at_once(
            await imagine(fake_discord, "dragons at dawn", user=artist, channel_id=studio.id)
        )
        assert "term this server has blocked" in text
        await result(await imagine(fake_discord, user=artist, channel_id=studio.id))
        assert "In the last hour: 1 of 3 images used" in await quota(fake_discord, user=artist)
        assert "Today: 1 of 5 images used" in await quota(fake_discord, user=artist)
    assert len(fake_api.requests) == 1


async def test_members_without_manage_server_change_nothing(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    guild = fake_discord.guild
    # Manage Server alone is enough: not the owner, no other permission.
    manager = fake_discord.add_member(guild, "manager", permissions=Permission.MANAGE_GUILD)
    attempts: list[tuple[str, dict[str, Any]]] = [
        ("show", {}),
        ("channels add", {"channel": fake_discord.other_channel}),
        ("roles add", {"role": fake_discord.moderator_role}),
        ("terms add", {"term": "anything"}),
        ("limits set", {"per_window": 1}),
        ("modlog", {"channel": fake_discord.other_channel}),
        ("nsfw-only", {"enabled": True}),
        ("block", {"member": fake_discord.other_member, "duration": "1 day"}),
    ]
    async with start_bot() as bot:
        # Discord would hide the group from them (default_member_permissions), but a server
        # can re-grant it in its Integrations settings: the bot checks again itself.
        for who in (fake_discord.member, fake_discord.moderator):
            for subcommand, options in attempts:
                text = await configure(fake_discord, subcommand, options, user=who)
                assert text == NOT_ADMIN, (who, subcommand)
        assert await bot.server_settings.get(guild.id) == ServerSettings(guild.id)

        done = await configure(fake_discord, "nsfw-only", {"enabled": True}, user=manager)
        assert done.startswith("The image commands now work only in age-restricted channels.")
        assert (await bot.server_settings.get(guild.id)).nsfw_only


async def test_server_limits_only_tighten_unless_the_owner_allows_more(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot(LIMIT_WINDOW_IMAGES="10", LIMIT_DAILY_IMAGES="30"):
        done = await configure(fake_discord, "limits set", {"per_window": 50, "per_day": 100})
        assert done.startswith(
            "Members now get 10 images per hour and 30 per day (UTC). That is less than you "
            "asked for: a server can only tighten the bot's own limits"
        )
        assert "0 of 10 images used" in await quota(fake_discord)
        # 3 per 5 minutes would be 36 an hour: the window grows to keep 10 an hour.
        done = await configure(fake_discord, "limits set", {"per_window": 3, "window_minutes": 5})
        assert done.startswith("Members now get 3 images per 18 minutes and 30 per day (UTC).")
        assert "In the last 18 minutes: 0 of 3 images used" in await quota(fake_discord)
        done = await configure(fake_discord, "limits clear")
        assert (
            "Per-member limits: 10 images per hour and 30 per day (UTC) (the bot's defaults)"
            in (done)
        )
        text = await configure(fake_discord, "limits set")
        assert text == "Give at least one of per_window, window_minutes or per_day."

    async with start_bot(LIMIT_WINDOW_IMAGES="10", SERVER_LIMITS_MAY_EXCEED_DEFAULT="true"):
        done = await configure(fake_discord, "limits set", {"per_window": 50, "per_day": 100})
        assert done.startswith("Members now get 50 images per hour and 100 per day (UTC).\n")
        assert "0 of 50 images used" in await quota(fake_discord)


async def test_lists_say_when_something_was_not_on_them(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    studio = fake_discord.other_channel
    async with start_bot():
        text = await configure(fake_discord, "channels remove", {"channel": studio})
        assert text == f"<#{studio.id}> isn't on the allowed list."
        await configure(fake_discord, "channels add", {"channel": studio})
        text = await configure(fake_discord, "channels remove", {"channel": studio})
        assert text.startswith(
            f"Removed <#{studio.id}>. No channel is listed now, so they work in all."
        )
        role = fake_discord.moderator_role
        text = await configure(fake_discord, "roles remove", {"role": role})
        assert text == f"<@&{role.id}> isn't on the allowed list."
        # Allowing @everyone (whose id is the server's) lets members without any role in.
        everyone = fake_discord.guild.everyone_role
        text = await configure(fake_discord, "roles add", {"role": everyone})
        assert "\nWho may use it: @everyone\n" in text
        await result(await imagine(fake_discord))

        assert await configure(fake_discord, "terms list") == "No terms are blocked on this server."
        await configure(fake_discord, "terms add", {"term": "B.A.D thing"})
        assert (await configure(fake_discord, "terms list")).endswith("\n`bad thing`")
        text = await configure(fake_discord, "terms remove", {"term": "bad"})
        assert text.startswith("That term isn't on the blocked list")
        # Removed written any way that saves the same.
        text = await configure(fake_discord, "terms remove", {"term": "BAD  Thing"})
        assert text.startswith("Removed the term from the blocked list.")
        text = await configure(fake_discord, "terms add", {"term": "b*d"})
        assert text == "A blocked term can have * only at its start or end (like bad* or *bad)."

        text = await configure(fake_discord, "unblock", {"member": fake_discord.member})
        assert text == f"<@{fake_discord.member.id}> isn't blocked."


async def test_a_long_term_list_comes_as_a_file(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    terms = [f"forbiddenword{index:03d}" for index in range(120)]
    async with start_bot() as bot:
        for term in terms:
            await bot.server_settings.add_blocked_term(fake_discord.guild.id, term)
        interaction = await fake_discord.invoke(
            "imagine-settings", subcommand="terms list", user=fake_discord.owner
        )
        seen = await interaction.wait_for_final()
    assert seen.ephemeral
    assert seen.content.startswith("**Blocked terms (120)**")
    [listing] = seen.files
    assert listing.filename == "blocked-terms.txt"
    assert listing.data.decode().splitlines() == terms


async def test_block_and_unblock_a_member(start_bot: StartBot, fake_discord: FakeDiscord) -> None:
    member = fake_discord.member
    async with start_bot():
        before = time.time()
        done = await configure(fake_discord, "block", {"member": member, "duration": "1 day"})
        [until] = [int(epoch) for epoch in BLOCK_END.findall(done)]
        assert before + 86_400 <= until <= time.time() + 86_400 + 1
        assert done == f"<@{member.id}> is blocked from the image commands until <t:{until}:f> " + (
            f"(<t:{until}:R>)."
        )
        assert "Members blocked now: 1" in await configure(fake_discord, "show")

        text = await refused_at_once(await imagine(fake_discord))
        assert text == (
            f"You're blocked from using the bot on this server until <t:{until}:f> (<t:{until}:R>)."
        )
        # Someone else is not.
        await result(await imagine(fake_discord, user=fake_discord.other_member))

        done = await configure(fake_discord, "unblock", {"member": member})
        assert done == f"<@{member.id}> may use the image commands again."
        await result(await imagine(fake_discord))

        await configure(fake_discord, "block", {"member": member, "duration": "until unblocked"})
        text = await refused_at_once(await imagine(fake_discord))
        assert text == "You're blocked from using the bot on this server."


async def test_a_modlog_channel_the_bot_cannot_post_in_is_refused(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    guild = fake_discord.guild
    # Embeds off for the bot's role and for @everyone: the bot could post, but not its entries.
    for role in guild.roles.values():
        if role.managed or role.id == guild.id:
            role.permissions &= ~Permission.EMBED_LINKS
    async with start_bot() as bot:
        text = await configure(fake_discord, "modlog", {"channel": fake_discord.other_channel})
        assert text == (
            f"I can't post the mod-log in <#{fake_discord.other_channel.id}>: I need Embed Links "
            "there. Give my role those permissions in the channel's settings, then try again."
        )
        assert (await bot.server_settings.get(guild.id)).modlog_channel is None


async def test_the_modlog_answer_warns_when_everyone_can_read_it(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    guild = fake_discord.guild
    modlog = fake_discord.add_channel(guild, "mod-log")
    async with start_bot():
        done = await configure(fake_discord, "modlog", {"channel": modlog})
        assert done.startswith(
            f"The mod-log is now <#{modlog.id}>. Note: everyone on the server can see "
            f"<#{modlog.id}>, and its entries show refused prompts and the blocked terms they hit"
        )
        assert f"Mod-log: <#{modlog.id}>" in done
        done = await configure(fake_discord, "modlog")
        assert done.startswith("The mod-log is off.\n\n")
        assert "Mod-log: off" in done

    # A server where @everyone sees no channel (moderators get theirs through roles).
    guild.everyone_role.permissions &= ~Permission.VIEW_CHANNEL
    async with start_bot():
        done = await configure(fake_discord, "modlog", {"channel": modlog})
        assert done.startswith(f"The mod-log is now <#{modlog.id}>.\n\n")


async def test_full_lists_still_fit_in_one_message(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    guild_id = fake_discord.guild.id
    async with start_bot() as bot:
        store = bot.server_settings
        for index in range(MAX_ALLOWED_CHANNELS - 1):
            await store.allow_channel(guild_id, 1_000_000_000_000_000_000 + index)
        for index in range(MAX_ALLOWED_ROLES):
            await store.allow_role(guild_id, 2_000_000_000_000_000_000 + index)
        done = await configure(
            fake_discord, "channels add", {"channel": fake_discord.other_channel}
        )
        text = await configure(fake_discord, "channels add", {"channel": fake_discord.text_channel})
    assert "and 30 more\n" in done
    assert "and 5 more\n" in done
    assert len(done) <= 2000
    assert text == (
        "A server can allow at most 50 channels; remove one first (or allow none, which means "
        "every channel)."
    )
