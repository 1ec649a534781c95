"""ServerSettings as a value: changes, caps with messages, effective limits, the stored form."""

from __future__ import annotations

import json
import math
import re

import pytest

from bot.front.explain import explain
from bot.limits.policy import LimitPolicy, RolePolicies
from bot.moderation import FOREVER, InvalidSetting, ServerSettings
from bot.moderation.settings import (
    MAX_ALLOWED_CHANNELS,
    MAX_ALLOWED_ROLES,
    MAX_BLOCKED_MEMBERS,
    MAX_BLOCKED_TERMS,
)

GUILD = 111
NOW = 1_700_000_000.0
DEFAULT = LimitPolicy(window_seconds=3600, window_images=10, daily_images=30)


def test_a_server_that_saved_nothing_has_no_restrictions() -> None:
    settings = ServerSettings(GUILD)
    assert settings.is_default
    assert settings.allowed_channels == frozenset()
    assert settings.allowed_roles == frozenset()
    assert settings.blocked_terms == ()
    assert settings.modlog_channel is None
    assert not settings.nsfw_only
    assert settings.blocked_until("u-someone", now=NOW) is None
    assert settings.limit_policy(DEFAULT) == DEFAULT


def test_changes_return_new_values_and_leave_the_old_one_alone() -> None:
    before = ServerSettings(GUILD)
    after = before.with_channel_allowed(5).with_role_allowed(7).with_nsfw_only(True)
    assert after.allowed_channels == {5}
    assert after.allowed_roles == {7}
    assert after.nsfw_only
    assert before.is_default
    assert not after.is_default
    assert after.without_channel_allowed(5).without_role_allowed(7).with_nsfw_only(False) == before


def test_collections_are_frozen_whatever_was_passed() -> None:
    settings = ServerSettings(
        GUILD,
        allowed_channels={1, 2},  # type: ignore[arg-type]
        blocked_terms=["bad"],  # type: ignore[arg-type]
        blocked_members={"u-a": NOW + 60},
    )
    assert isinstance(settings.allowed_channels, frozenset)
    assert settings.blocked_terms == ("bad",)
    with pytest.raises(TypeError):
        settings.blocked_members["u-b"] = 1.0  # type: ignore[index]
    assert hash(settings) == hash(ServerSettings(GUILD, frozenset({1, 2}), blocked_terms=("bad",)))


@pytest.mark.parametrize("bad_id", [0, -4, True])
def test_ids_must_be_snowflakes(bad_id: int) -> None:
    with pytest.raises(ValueError, match="positive integer"):
        ServerSettings(GUILD).with_channel_allowed(bad_id)
    with pytest.raises(ValueError, match="positive integer"):
        ServerSettings(GUILD).with_role_allowed(bad_id)
    with pytest.raises(ValueError, match="positive integer"):
        ServerSettings(GUILD).with_modlog(bad_id)


def test_the_allowed_channels_and_roles_are_capped() -> None:
    settings = ServerSettings(GUILD)
    for channel in range(1, MAX_ALLOWED_CHANNELS + 1):
        settings = settings.with_channel_allowed(channel)
    assert settings.with_channel_allowed(1) == settings  # already there: fine at the cap
    with pytest.raises(InvalidSetting) as refused:
        settings.with_channel_allowed(10_000)
    assert re.search(f"at most {MAX_ALLOWED_CHANNELS} channels", explain(None, refused.value))
    for role in range(1, MAX_ALLOWED_ROLES + 1):
        settings = settings.with_role_allowed(role)
    with pytest.raises(InvalidSetting) as refused:
        settings.with_role_allowed(10_000)
    assert re.search(f"at most {MAX_ALLOWED_ROLES} roles", explain(None, refused.value))


def test_blocked_terms_are_normalised_deduplicated_and_capped() -> None:
    settings = ServerSettings(GUILD).with_blocked_term("  Bád ").with_blocked_term("BAD")
    assert settings.blocked_terms == ("bad",)
    settings = settings.with_blocked_term("B.A.D")
    assert settings.blocked_terms == ("bad",)
    for number in range(MAX_BLOCKED_TERMS - 1):
        settings = settings.with_blocked_term(f"term{number}")
    assert len(settings.blocked_terms) == MAX_BLOCKED_TERMS
    assert settings.with_blocked_term("BAD") is settings  # a duplicate is fine at the cap
    with pytest.raises(InvalidSetting) as refused:
        settings.with_blocked_term("one too many")
    assert explain(None, refused.value) == (
        f"A server can block at most {MAX_BLOCKED_TERMS} terms; remove some first."
    )


def test_a_term_is_removed_however_it_is_written() -> None:
    settings = ServerSettings(GUILD).with_blocked_term("bad").with_blocked_term("worse")
    assert settings.without_blocked_term("B.A.D").blocked_terms == ("worse",)
    assert settings.without_blocked_term("Bäd").blocked_terms == ("worse",)
    assert settings.without_blocked_term("never added") == settings
    assert settings.without_blocked_term("***") == settings  # could never have been saved


def test_an_invalid_term_is_refused_with_a_message() -> None:
    with pytest.raises(InvalidSetting) as refused:
        ServerSettings(GUILD).with_blocked_term("!!")  # swaps only: no letter or digit
    assert re.search("at least one letter or digit", explain(None, refused.value))


@pytest.mark.parametrize(
    ("changes", "complaint"),
    [
        ({"window_images": 0}, "Images per window must be a whole number from 1 to 10,000."),
        ({"daily_images": 10_001}, "Images per day must be a whole number from 1 to 10,000."),
        ({"window_seconds": 0}, "The window must be a whole number from 1 to 86,400 seconds."),
        ({"window_seconds": 86_401}, "from 1 to 86,400 seconds"),
        ({"window_images": 2.5}, "Images per window must be a whole number"),
        ({"daily_images": True}, "Images per day must be a whole number"),
    ],
)
def test_limits_are_checked(changes: dict[str, object], complaint: str) -> None:
    with pytest.raises(InvalidSetting) as refused:
        ServerSettings(GUILD).with_limits(**changes)  # type: ignore[arg-type]
    assert complaint in explain(None, refused.value)


def test_limits_can_be_set_in_parts_and_cleared() -> None:
    settings = ServerSettings(GUILD).with_limits(daily_images=5)
    settings = settings.with_limits(window_images=2)
    assert (settings.window_images, settings.daily_images, settings.window_seconds) == (2, 5, None)
    assert settings.has_limits
    cleared = settings.without_limits()
    assert not cleared.has_limits
    assert cleared.is_default


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        # (window_images, daily_images, window_seconds) -> (window_seconds, window_images, daily)
        ((None, None, None), (3600, 10, 30)),
        ((None, 5, None), (3600, 10, 5)),  # tighter daily cap: as asked
        ((2, None, None), (3600, 2, 30)),
        ((1, None, 600), (600, 1, 30)),  # 6 an hour is within 10 an hour: as asked
        ((3, None, 300), (1080, 3, 30)),  # 36 an hour: the window grows to keep 10 an hour
        ((10, None, 60), (3600, 10, 30)),
        ((50, 100, 7200), (7200, 10, 30)),  # cannot exceed the default's numbers
        ((None, None, 86400), (86400, 10, 30)),  # a longer window is stricter: as asked
    ],
)
def test_a_server_can_only_tighten_the_default_limits(
    limits: tuple[int | None, int | None, int | None], expected: tuple[int, int, int]
) -> None:
    window_images, daily_images, window_seconds = limits
    settings = ServerSettings(
        GUILD,
        window_images=window_images,
        daily_images=daily_images,
        window_seconds=window_seconds,
    )
    policy = settings.limit_policy(DEFAULT)
    assert (policy.window_seconds, policy.window_images, policy.daily_images) == expected
    assert policy.daily_images <= DEFAULT.daily_images
    rate = policy.window_images / policy.window_seconds
    assert rate <= DEFAULT.window_images / DEFAULT.window_seconds


def test_an_operator_may_let_servers_exceed_the_default() -> None:
    settings = ServerSettings(GUILD, window_images=50, daily_images=100, window_seconds=60)
    assert settings.limit_policy(DEFAULT, may_exceed_default=True) == LimitPolicy(
        window_seconds=60, window_images=50, daily_images=100
    )


def test_role_policies_keep_overrides_and_exempt_roles() -> None:
    generous = LimitPolicy(window_seconds=3600, window_images=50, daily_images=200)
    configured = RolePolicies(
        default=DEFAULT, overrides={42: generous}, exempt_roles=frozenset({9})
    )
    assert ServerSettings(GUILD).role_policies(configured) is configured
    tightened = ServerSettings(GUILD, daily_images=3).role_policies(configured)
    assert tightened.default == LimitPolicy(window_seconds=3600, window_images=10, daily_images=3)
    assert tightened.resolve([42]) == generous
    assert tightened.resolve([9]) == configured.resolve([9])
    assert tightened.resolve([]) == tightened.default


def test_member_blocks_end_on_time_and_can_last_forever() -> None:
    settings = ServerSettings(GUILD).with_member_blocked("u-a", until=NOW + 60, now=NOW)
    settings = settings.with_member_blocked("u-b", until=None, now=NOW)
    assert settings.blocked_until("u-a", now=NOW) == NOW + 60
    assert settings.blocked_until("u-a", now=NOW + 60) is None
    assert settings.blocked_until("u-b", now=NOW + 10**9) == FOREVER
    assert settings.blocked_until("u-c", now=NOW) is None
    lifted = settings.without_member_blocked("u-b", now=NOW)
    assert lifted.blocked_until("u-b", now=NOW) is None
    assert lifted.blocked_until("u-a", now=NOW) == NOW + 60


def test_expired_blocks_are_dropped_on_the_next_change() -> None:
    settings = ServerSettings(GUILD).with_member_blocked("u-a", until=NOW + 60, now=NOW)
    later = settings.with_member_blocked("u-b", until=NOW + 600, now=NOW + 120)
    assert dict(later.blocked_members) == {"u-b": NOW + 600}
    assert later.without_member_blocked("u-b", now=NOW + 120).is_default


@pytest.mark.parametrize("until", [NOW, NOW - 1, math.nan])
def test_a_block_must_end_in_the_future(until: float) -> None:
    with pytest.raises(InvalidSetting) as refused:
        ServerSettings(GUILD).with_member_blocked("u-a", until=until, now=NOW)
    assert re.search("must end in the future", explain(None, refused.value))


def test_member_blocks_are_capped() -> None:
    members = {f"u-{n}": NOW + 60 for n in range(MAX_BLOCKED_MEMBERS)}
    settings = ServerSettings(GUILD, blocked_members=members)
    assert settings.with_member_blocked("u-0", until=NOW + 120, now=NOW) != settings
    with pytest.raises(InvalidSetting) as refused:
        settings.with_member_blocked("u-new", until=NOW + 60, now=NOW)
    assert re.search(f"at most {MAX_BLOCKED_MEMBERS} members", explain(None, refused.value))
    # Once the old blocks expired, there is room again.
    assert (
        settings.with_member_blocked("u-new", until=NOW + 600, now=NOW + 61).blocked_until(
            "u-new", now=NOW + 61
        )
        == NOW + 600
    )


def test_a_member_key_must_be_given() -> None:
    with pytest.raises(ValueError, match="member key"):
        ServerSettings(GUILD).with_member_blocked("", until=None, now=NOW)


def full_settings() -> ServerSettings:
    return (
        ServerSettings(GUILD)
        .with_channel_allowed(1001)
        .with_channel_allowed(1002)
        .with_role_allowed(2001)
        .with_limits(window_images=4, daily_images=12, window_seconds=1800)
        .with_blocked_term("bad thing")
        .with_blocked_term("nsfw*")
        .with_modlog(3001)
        .with_nsfw_only(True)
        .with_member_blocked("u-temporary", until=NOW + 3600.5, now=NOW)
        .with_member_blocked("u-forever", until=None, now=NOW)
    )


def test_the_stored_form_round_trips_every_field() -> None:
    settings = full_settings()
    text = settings.to_json()
    assert ServerSettings.from_json(GUILD, text) == settings
    document = json.loads(text)  # strict JSON: no Infinity
    assert document["version"] == 1
    assert document["blocked_members"] == {"u-forever": None, "u-temporary": NOW + 3600.5}
    assert ServerSettings.from_json(GUILD, ServerSettings(GUILD).to_json()).is_default


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[]",
        '{"version": 2}',
        '{"version": 1, "allowed_channels": "1001"}',
        '{"version": 1, "allowed_channels": [true]}',
        '{"version": 1, "blocked_terms": [1]}',
        '{"version": 1, "nsfw_only": "yes"}',
        '{"version": 1, "limits": []}',
        '{"version": 1, "blocked_members": {"u-a": "soon"}}',
    ],
)
def test_an_unreadable_stored_form_is_refused(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - any ValueError: the store wraps them all
        ServerSettings.from_json(GUILD, text)
