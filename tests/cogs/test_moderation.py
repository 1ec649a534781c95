"""Server controls and prompt screening end to end: who may use the commands where, and the
three layers that refuse a prompt (the server's blocked terms, the moderation endpoint, the
image provider).

Fake Discord -> the real bot -> the fake Images API, and the fake moderation endpoint through
MODERATION_BASE_URL. Every refusal must be private, say which layer or rule refused, cost the
member nothing and, before the provider, never reach the Images API.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.cogs.support import (
    assert_key_never_sent,
    discord_bodies,
    private_reply,
    refused_at_once,
    result,
)
from tests.cogs.test_settings import (  # noqa: F401 - the autouse check
    configure,
    imagine,
    nothing_discord_would_refuse,
    quota,
)
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord, FakeMessage
from tests.fakes.images_api import FakeImagesAPI
from tests.fakes.moderation_api import FakeModerationAPI
from tests.moderation.test_screening import BLOCKED_TERM, PROVIDER

UNUSED = "In the last hour: 0 of 10 images used, 10 left."
MODERATION_KEY = "sk-moderation-0123456789abcdefghij"

# What the member reads, word for word (the catalogue's English).
NSFW_ONLY = "Image commands work only in age-restricted channels on this server."
DMS_OFF = "Image commands don't work in direct messages with this bot. Use them on a server."
UNAVAILABLE = (
    "I couldn't check your prompt with the moderation service right now, so nothing was "
    "generated and nothing was counted. Please try again in a minute."
)


@pytest.fixture
async def fake_moderation() -> AsyncIterator[FakeModerationAPI]:
    async with FakeModerationAPI(api_key=MODERATION_KEY) as api:
        yield api
    assert not api.violations


def moderated(api: FakeModerationAPI, **env: str) -> dict[str, str]:
    """Settings that check prompts with the fake moderation endpoint, with a key of its own
    (the fake Images API takes only the images key)."""
    return {
        "MODERATION_ENABLED": "true",
        "MODERATION_BASE_URL": api.base_url,
        "MODERATION_API_KEY": MODERATION_KEY,
        **env,
    }


def public_text(fake: FakeDiscord, *, besides: int | None = None) -> str:
    """Everything anyone but the member could read (every non-ephemeral message, with its
    embeds), except in the channel `besides`."""
    parts = []
    for message in fake.all_messages():
        if message.ephemeral or message.channel_id == besides:
            continue
        parts.append(message.content)
        parts.append(json.dumps(message.embeds))
    return "\n".join(parts)


def modlog_entries(fake: FakeDiscord, channel_id: int) -> list[FakeMessage]:
    return [m for m in fake.messages[channel_id] if not m.deleted]


def field(embed: dict[str, Any], name: str) -> str:
    [value] = [f["value"] for f in embed["fields"] if f["name"] == name]
    return str(value)


# --- where and for whom ------------------------------------------------------------------------


async def test_a_disallowed_channel_is_refused_saying_where_at_no_cost(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    studio, gallery = (
        fake_discord.other_channel,
        fake_discord.add_channel(fake_discord.guild, "gallery"),
    )
    async with start_bot():
        await configure(fake_discord, "channels add", {"channel": studio})
        await configure(fake_discord, "channels add", {"channel": gallery})
        text = await refused_at_once(await imagine(fake_discord))
        assert text == f"Image commands work in <#{studio.id}> and <#{gallery.id}> on this server."
        assert await quota(fake_discord) == "**Your image allowance**\n" + UNUSED + (
            "\nToday: 0 of 30 images used, 30 left."
        )
        await result(await imagine(fake_discord, channel_id=gallery.id))
    assert len(fake_api.requests) == 1


async def test_nsfw_only_works_only_in_age_restricted_channels(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot():
        await configure(fake_discord, "nsfw-only", {"enabled": True})
        text = await refused_at_once(await imagine(fake_discord))
        assert text == NSFW_ONLY
        await result(await imagine(fake_discord, channel_id=fake_discord.nsfw_channel.id))
        await configure(fake_discord, "nsfw-only", {"enabled": False})
        await result(await imagine(fake_discord))
    assert len(fake_api.requests) == 2


async def test_direct_messages_are_off_by_default_and_on_with_allow_dms(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    dm = fake_discord.dm_channel.id
    # Global commands: server commands (DISCORD_GUILD_ID) never reach direct messages.
    async with start_bot(DISCORD_GUILD_ID=""):
        # Discord would not offer the command in DMs (contexts [0]); the bot checks anyway.
        [command] = [c for c in fake_discord.registered_commands() if c["name"] == "imagine"]
        assert command["contexts"] == [0]
        text = await refused_at_once(await imagine(fake_discord, channel_id=dm))
        assert text == DMS_OFF
    assert fake_api.requests == []
    async with start_bot(DISCORD_GUILD_ID="", ALLOW_DMS="true"):
        await result(await imagine(fake_discord, channel_id=dm))
    assert len(fake_api.requests) == 1


# --- layer 1: the server's blocked terms -------------------------------------------------------

CAUGHT = [
    "a DRAGON over the sea",  # case
    "a drágön over the sea",  # accents
    "a \uff24\uff32\uff21\uff27\uff2f\uff2e over the sea",  # full-width
    "a dr4g0n over the sea",  # character swaps
    "a d.r.a.g.o.n over the sea",  # separators inside the word
    "two red dragons",  # the term ends in *, so longer words starting with it count
    "a B\u200bAD THING in the dark",  # a phrase, with a zero-width space inside
]
PASSING = [
    "a snapdragon in a vase",  # contains "dragon", but not as the start of a word
    "badminton at noon",  # "bad" alone is not blocked, "bad thing" is
]


async def test_blocked_term_variants_are_caught_and_clean_prompts_pass(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    modlog = fake_discord.add_channel(fake_discord.guild, "mod-log")
    async with start_bot():
        await configure(fake_discord, "terms add", {"term": "dragon*"})
        await configure(fake_discord, "terms add", {"term": "bad thing"})
        await configure(fake_discord, "modlog", {"channel": modlog})
        for prompt in CAUGHT:
            text = await refused_at_once(await imagine(fake_discord, prompt))
            assert text == BLOCKED_TERM, prompt
        for prompt in PASSING:
            await result(await imagine(fake_discord, prompt))
        assert "0 of 10 images used" not in await quota(fake_discord)
        assert "2 of 10 images used" in await quota(fake_discord)
        await _wait_for_entries(fake_discord, modlog.id, len(CAUGHT) + len(PASSING))

    assert [r.fields["prompt"] for r in fake_api.requests] == PASSING
    # The moderators see which term and how it was written; nobody else sees a blocked term.
    refusals = [
        m.embeds[0]
        for m in modlog_entries(fake_discord, modlog.id)
        if "Refused" in m.embeds[0]["title"]
    ]
    assert len(refusals) == len(CAUGHT)
    assert {field(e, "Refused by") for e in refusals} == {"the server's blocked terms"}
    assert field(refusals[0], "Reason") == "blocked term 'dragon*' (written as 'dragon')"
    assert field(refusals[3], "Reason") == "blocked term 'dragon*' (written as 'dr4g0n')"
    assert field(refusals[-1], "Reason") == "blocked term 'bad thing' (written as 'bad thing')"
    outside = public_text(fake_discord, besides=modlog.id)
    for shown in [*CAUGHT, "dragon*", "dr4g0n", "bad thing", "BAD THING"]:
        assert shown not in outside


async def _wait_for_entries(fake: FakeDiscord, channel_id: int, count: int) -> None:
    await fake.wait_for_message(
        lambda m: m.channel_id == channel_id and len(fake.messages[channel_id]) >= count
    )


# --- layer 2: the moderation endpoint ----------------------------------------------------------


async def test_a_prompt_the_moderation_endpoint_flags_costs_nothing(
    start_bot: StartBot,
    fake_discord: FakeDiscord,
    fake_api: FakeImagesAPI,
    fake_moderation: FakeModerationAPI,
) -> None:
    fake_moderation.flag("sword fight", "violence", "violence/graphic")
    modlog = fake_discord.add_channel(fake_discord.guild, "mod-log")
    async with start_bot(**moderated(fake_moderation)):
        await configure(fake_discord, "modlog", {"channel": modlog})
        text = await private_reply(await imagine(fake_discord, "a bloody sword fight"))
        assert text == (
            "The moderation check flagged your prompt (violence, graphic violence). "
            "Please rephrase it."
        )
        assert UNUSED in await quota(fake_discord)
        assert fake_api.requests == []

        await result(await imagine(fake_discord, "a quiet harbour"))
        entry = await fake_discord.wait_for_message(
            lambda m: m.channel_id == modlog.id and "Refused" in m.embeds[0]["title"]
        )
    [flagged, clean] = fake_moderation.requests
    assert flagged.json == {"model": "omni-moderation-latest", "input": "a bloody sword fight"}
    assert flagged.headers["Authorization"] == f"Bearer {MODERATION_KEY}"
    assert clean.input == "a quiet harbour"
    assert [r.fields["prompt"] for r in fake_api.requests] == ["a quiet harbour"]
    embed = entry.embeds[0]
    assert field(embed, "Refused by") == "the moderation check"
    assert_key_never_sent(fake_discord)
    assert MODERATION_KEY not in discord_bodies(fake_discord)
    assert field(embed, "Reason").startswith(
        "moderation model omni-moderation-2024-09-26 flagged violence=0.93, "
        "violence/graphic=0.93 (request_id=req_mod"
    )


async def test_moderation_that_is_down_refuses_politely_unless_set_to_fail_open(
    start_bot: StartBot,
    fake_discord: FakeDiscord,
    fake_api: FakeImagesAPI,
    fake_moderation: FakeModerationAPI,
) -> None:
    fake_moderation.fail_next("server_error", times=2)  # both attempts
    async with start_bot(**moderated(fake_moderation)):
        text = await private_reply(await imagine(fake_discord))
        assert text == UNAVAILABLE
        assert UNUSED in await quota(fake_discord)
    assert fake_api.requests == []

    fake_moderation.fail_next("server_error", times=2)
    async with start_bot(**moderated(fake_moderation, MODERATION_FAIL_OPEN="true")):
        await result(await imagine(fake_discord))
    assert len(fake_moderation.requests) == 4
    assert len(fake_api.requests) == 1


# --- layer 3: the image provider ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["content_policy", "moderation_blocked"])
async def test_the_providers_refusal_is_polite_and_free(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI, kind: str
) -> None:
    modlog = fake_discord.add_channel(fake_discord.guild, "mod-log")
    fake_api.fail_next(kind)
    async with start_bot():
        await configure(fake_discord, "modlog", {"channel": modlog})
        text = await private_reply(await imagine(fake_discord, "a forbidden picture"))
        assert text == PROVIDER
        assert UNUSED in await quota(fake_discord)
        entry = await fake_discord.wait_for_message(lambda m: m.channel_id == modlog.id)
    embed = entry.embeds[0]
    assert embed["title"] == "Refused /imagine"
    assert embed["description"] == "a forbidden picture"
    assert field(embed, "Refused by") == "the image provider's content policy"
    assert re.match(
        r"the image provider refused the prompt: code=\w+ request_id=", field(embed, "Reason")
    )
    assert len(fake_api.requests) == 1


async def test_refusals_never_leave_a_public_trace(
    start_bot: StartBot,
    fake_discord: FakeDiscord,
    fake_api: FakeImagesAPI,
    fake_moderation: FakeModerationAPI,
) -> None:
    """Each layer's refusal: only the member sees it, and no public message is left."""
    fake_moderation.flag("cursed relic", "illicit")
    async with start_bot(**moderated(fake_moderation)):
        await configure(fake_discord, "terms add", {"term": "forbidden word"})
        await refused_at_once(await imagine(fake_discord, "the forbidden word"))
        await private_reply(await imagine(fake_discord, "a cursed relic"))
        fake_api.fail_next("content_policy")
        await private_reply(await imagine(fake_discord, "a harmless castle"))
    visible = [m for m in fake_discord.all_messages() if not m.ephemeral and not m.deleted]
    assert visible == []
    assert "forbidden word" not in public_text(fake_discord)
