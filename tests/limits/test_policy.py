"""Policies, role resolution, and the messages members see."""

from __future__ import annotations

import pytest

from bot.front.explain import explain
from bot.limits import (
    EXEMPT,
    LimitPolicy,
    LimitReached,
    QueueFull,
    RequestTooLarge,
    RolePolicies,
    TooManyWaiting,
    Window,
)
from bot.limits.errors import LimitError

DEFAULT = LimitPolicy(window_seconds=3600, window_images=5, daily_images=20)
BOOSTER = LimitPolicy(window_seconds=3600, window_images=10, daily_images=50)
ARTIST = LimitPolicy(window_seconds=600, window_images=5, daily_images=50)  # same day, faster
NEWCOMER = LimitPolicy(window_seconds=3600, window_images=2, daily_images=5)
ROLES = RolePolicies(
    default=DEFAULT,
    overrides={1: BOOSTER, 2: ARTIST, 3: NEWCOMER},
    exempt_roles=frozenset({9}),
)


@pytest.mark.parametrize(
    ("role_ids", "expected"),
    [
        ([], DEFAULT),
        ([100, 200], DEFAULT),  # roles without numbers of their own
        ([3], NEWCOMER),  # an override applies even when stricter than the default
        ([3, 1], BOOSTER),
        ([1, 2], ARTIST),  # same daily cap, more images per second
        ([2, 1, 3], ARTIST),
        ([1, 9], EXEMPT),
        ([9], EXEMPT),
    ],
)
def test_roles_resolve_to_a_policy(role_ids: list[int], expected: object) -> None:
    assert ROLES.resolve(role_ids) == expected


def test_role_policies_cannot_change_after_start_up() -> None:
    overrides = {1: BOOSTER}
    roles = RolePolicies(overrides=overrides)
    overrides[2] = ARTIST
    assert roles.resolve([2]) == LimitPolicy()
    with pytest.raises(TypeError):
        roles.overrides[3] = ARTIST  # type: ignore[index]


@pytest.mark.parametrize(
    "numbers",
    [
        {"window_seconds": 0},
        {"window_seconds": 86_401},
        {"window_images": 0},
        {"daily_images": -1},
    ],
)
def test_policy_numbers_are_checked(numbers: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="must be"):
        LimitPolicy(**numbers)


@pytest.mark.parametrize(
    ("seconds", "during"),
    [
        (60, "in the last minute"),
        (90, "in the last 90 seconds"),
        (1800, "in the last 30 minutes"),
        (7200, "in the last 2 hours"),
        (86_400, "in the last 24 hours"),
    ],
)
def test_limit_message_names_the_window(seconds: int, during: str) -> None:
    err = LimitReached(
        window=Window.ROLLING, window_seconds=seconds, used=3, limit=3, requested=1, resets_at=5.5
    )
    assert (
        explain(None, err) == f"You've used 3 of your 3 images {during}. You can make more <t:6:R>."
    )


def test_limit_message_in_the_singular() -> None:
    err = LimitReached(
        window=Window.DAILY, window_seconds=86_400, used=4, limit=5, requested=2, resets_at=10
    )
    assert explain(None, err) == (
        "You asked for 2 images, but only 1 of your 5 images for today is left. "
        "Ask for 1 or fewer, or try again <t:10:R>."
    )
    one = LimitReached(
        window=Window.ROLLING, window_seconds=3600, used=1, limit=1, requested=1, resets_at=10
    )
    assert explain(None, one).startswith("You've used 1 of your 1 image in the last hour.")


def test_limit_message_when_full_says_when_the_request_fits() -> None:
    err = LimitReached(
        window=Window.ROLLING, window_seconds=3600, used=10, limit=10, requested=3, resets_at=10
    )
    assert explain(None, err) == (
        "You've used 10 of your 10 images in the last hour. You can make 3 more <t:10:R>."
    )


def test_used_above_the_limit_reads_as_full() -> None:
    # e.g. after the server owner lowered the limit
    err = LimitReached(
        window=Window.ROLLING, window_seconds=3600, used=12, limit=10, requested=1, resets_at=10
    )
    assert err.used == 12
    assert err.remaining == 0
    assert explain(None, err).startswith("You've used 10 of your 10 images")


def test_every_refusal_is_a_user_facing_limit_error() -> None:
    errors = [
        LimitReached(
            window=Window.DAILY, window_seconds=86_400, used=1, limit=1, requested=1, resets_at=0
        ),
        RequestTooLarge(window=Window.ROLLING, window_seconds=3600, requested=2, limit=1),
        QueueFull(waiting=20, limit=20),
        TooManyWaiting(waiting=1, limit=1),
    ]
    for err in errors:
        assert isinstance(err, LimitError)
        assert err.message == str(err)
    assert explain(None, errors[1]) == (
        "You asked for 2 images, but your limit is 1 image per hour. Ask for 1 or fewer."
    )
    assert explain(None, errors[3]).startswith("You already have 1 request waiting.")
