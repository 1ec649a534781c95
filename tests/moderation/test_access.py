"""check_access: every rule, what the member is told, and which rule speaks first."""

from __future__ import annotations

from typing import Any

import pytest

from bot.front.explain import explain
from bot.moderation import AccessDenied, ServerSettings, check_access
from bot.moderation.access import MAX_LISTED

GUILD = 900
ART, MEMES, GENERAL = 11, 12, 13
ARTISTS, MODS = 21, 22
NOW = 1_700_000_000.0
KEY = "u-member"


def call(settings: ServerSettings | None, **overrides: Any) -> None:
    arguments: dict[str, Any] = {
        "channel_id": GENERAL,
        "channel_is_nsfw": False,
        "role_ids": (),
        "is_dm": False,
        "dms_allowed": False,
        "member_key": KEY,
        "now": NOW,
    }
    arguments.update(overrides)
    check_access(settings, **arguments)


def denied(settings: ServerSettings | None, **overrides: Any) -> AccessDenied:
    with pytest.raises(AccessDenied) as refused:
        call(settings, **overrides)
    return refused.value


def test_a_server_without_settings_lets_everyone_in_everywhere() -> None:
    call(ServerSettings(GUILD))
    call(None)
    call(ServerSettings(GUILD), channel_id=None)


def test_direct_messages_follow_the_bot_setting() -> None:
    refusal = denied(None, is_dm=True, dms_allowed=False)
    assert refusal.rule == "dms"
    assert explain(None, refusal) == (
        "Image commands don't work in direct messages with this bot. Use them on a server."
    )
    call(None, is_dm=True, dms_allowed=True)
    # Server rules do not follow a member into their DMs.
    strict = ServerSettings(GUILD, allowed_channels=frozenset({ART}), nsfw_only=True)
    call(strict, is_dm=True, dms_allowed=True)


def test_allowed_channels_are_named_as_mentions() -> None:
    one = ServerSettings(GUILD).with_channel_allowed(ART)
    call(one, channel_id=ART)
    refusal = denied(one)
    assert refusal.rule == "channel"
    assert explain(None, refusal) == f"Image commands work in <#{ART}> on this server."
    two = one.with_channel_allowed(MEMES)
    call(two, channel_id=MEMES)
    assert (
        explain(None, denied(two))
        == f"Image commands work in <#{ART}> and <#{MEMES}> on this server."
    )
    three = two.with_channel_allowed(30)
    assert explain(None, denied(three)) == (
        f"Image commands work in <#{ART}>, <#{MEMES}> and <#30> on this server."
    )


def test_a_long_channel_list_is_shortened() -> None:
    settings = ServerSettings(GUILD, allowed_channels=frozenset(range(100, 100 + MAX_LISTED + 3)))
    message = explain(None, denied(settings, channel_id=5))
    assert message.count("<#") == MAX_LISTED
    assert message.endswith(f"<#{100 + MAX_LISTED - 1}> and 3 more on this server.")


def test_a_thread_of_an_allowed_channel_is_allowed() -> None:
    settings = ServerSettings(GUILD, allowed_channels=frozenset({ART}))
    call(settings, channel_id=777, parent_channel_id=ART)
    assert denied(settings, channel_id=777, parent_channel_id=MEMES).rule == "channel"


def test_allowed_roles_are_named_as_mentions() -> None:
    one = ServerSettings(GUILD).with_role_allowed(ARTISTS)
    call(one, role_ids=[MODS, ARTISTS])
    refusal = denied(one, role_ids=[MODS])
    assert refusal.rule == "role"
    assert explain(None, refusal) == (
        f"Image commands on this server are only for members with the <@&{ARTISTS}> role."
    )
    two = one.with_role_allowed(MODS)
    call(two, role_ids=[MODS])
    assert explain(None, denied(two)) == (
        "Image commands on this server are only for members with one of these roles: "
        f"<@&{ARTISTS}> or <@&{MODS}>."
    )


def test_allowing_the_everyone_role_allows_everyone() -> None:
    settings = ServerSettings(GUILD).with_role_allowed(GUILD)  # @everyone has the server's id
    call(settings, role_ids=[])


def test_age_restricted_only() -> None:
    settings = ServerSettings(GUILD, nsfw_only=True)
    call(settings, channel_is_nsfw=True)
    refusal = denied(settings, channel_is_nsfw=False)
    assert refusal.rule == "nsfw"
    assert (
        explain(None, refusal)
        == "Image commands work only in age-restricted channels on this server."
    )


def test_a_blocked_member_is_told_until_when() -> None:
    until = NOW + 3600.2
    settings = ServerSettings(GUILD).with_member_blocked(KEY, until=until, now=NOW)
    refusal = denied(settings)
    assert refusal.rule == "blocked"
    assert refusal.until == until
    epoch = 1_700_003_601  # rounded up: never shows a time before the block ends
    assert explain(None, refusal) == (
        f"You're blocked from using the bot on this server until <t:{epoch}:f> (<t:{epoch}:R>)."
    )
    call(settings, now=until)  # over
    call(settings, member_key="u-someone-else")


def test_an_indefinite_block_names_no_end() -> None:
    settings = ServerSettings(GUILD).with_member_blocked(KEY, until=None, now=NOW)
    assert explain(None, denied(settings, now=NOW + 10**8)) == (
        "You're blocked from using the bot on this server."
    )


def test_the_most_useful_rule_speaks_first() -> None:
    everything = (
        ServerSettings(GUILD, nsfw_only=True)
        .with_channel_allowed(ART)
        .with_role_allowed(ARTISTS)
        .with_member_blocked(KEY, until=NOW + 60, now=NOW)
    )
    assert denied(everything).rule == "blocked"
    unblocked = everything.without_member_blocked(KEY, now=NOW)
    assert denied(unblocked).rule == "role"
    assert denied(unblocked, role_ids=[ARTISTS]).rule == "channel"
    assert denied(unblocked, role_ids=[ARTISTS], channel_id=ART).rule == "nsfw"
    call(unblocked, role_ids=[ARTISTS], channel_id=ART, channel_is_nsfw=True)
