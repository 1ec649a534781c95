"""The member-quota contract, run against every backend (memory, SQLite, Redis)."""

from __future__ import annotations

import asyncio
import random

import pytest

from bot.front.allowance import describe_usage
from bot.front.explain import explain
from bot.limits import (
    EXEMPT,
    Limiter,
    LimitPolicy,
    LimitReached,
    RequestTooLarge,
    RolePolicies,
    Window,
)
from bot.limits.quota import MemberQuotas
from bot.limits.store import Store
from tests.limits.conftest import DAY_START, NEXT_MIDNIGHT, START, FakeClock, StoreFactory

HOURLY = LimitPolicy(window_seconds=3600, window_images=10, daily_images=100)
MEMBER = "u-0123456789abcdef0123456789abcdef"
OTHER = "u-fedcba9876543210fedcba9876543210"


def quotas(store: Store, clock: FakeClock, ttl: float = 900.0) -> MemberQuotas:
    return MemberQuotas(store, reservation_ttl=ttl, clock=clock)


async def used(q: MemberQuotas, policy: LimitPolicy = HOURLY, member: str = MEMBER) -> int:
    return (await q.usage(member, policy)).window(Window.ROLLING).used


async def test_reserve_commit_and_refund(store: Store, clock: FakeClock) -> None:
    q = quotas(store, clock)
    kept = await q.reserve(MEMBER, images=3, policy=HOURLY)
    given_back = await q.reserve(MEMBER, images=2, policy=HOURLY)
    assert await used(q) == 5
    await kept.commit()
    assert await given_back.refund() is True
    assert (kept.state, given_back.state) == ("committed", "refunded")
    assert await used(q) == 3
    # Idempotent, and a settled reservation can't be settled the other way.
    await kept.commit()
    assert await kept.refund() is False
    assert await given_back.refund() is False
    await given_back.commit()
    assert await used(q) == 3
    assert await used(q, member=OTHER) == 0


async def test_usage_numbers(store: Store, clock: FakeClock) -> None:
    q = quotas(store, clock)
    await (await q.reserve(MEMBER, images=2, policy=HOURLY)).commit()
    clock.advance(600)
    await q.reserve(MEMBER, images=3, policy=HOURLY)  # still in progress
    usage = await q.usage(MEMBER, HOURLY)
    rolling, daily = usage.window(Window.ROLLING), usage.window(Window.DAILY)
    assert (rolling.used, rolling.limit, rolling.remaining, rolling.pending) == (5, 10, 5, 3)
    assert rolling.resets_at == START + 3600  # the first 2 images leave the window then
    assert (daily.used, daily.limit, daily.remaining, daily.pending) == (5, 100, 95, 3)
    assert daily.resets_at == NEXT_MIDNIGHT
    assert usage.remaining == 5
    assert not usage.exempt
    text = describe_usage(None, usage)
    assert "In the last hour: 5 of 10 images used (3 in progress), 5 left." in text
    assert f"More free up <t:{int(START + 3600)}:R>." in text
    assert (
        f"Today: 5 of 100 images used (3 in progress), 95 left. Resets <t:{int(NEXT_MIDNIGHT)}:R>."
    ) in text


async def test_empty_usage_has_no_reset_time(store: Store, clock: FakeClock) -> None:
    usage = await quotas(store, clock).usage(MEMBER, HOURLY)
    assert [(w.used, w.resets_at) for w in usage.windows] == [(0, None), (0, None)]


async def test_rolling_window_frees_images_as_they_age_out(store: Store, clock: FakeClock) -> None:
    q = quotas(store, clock)
    await (await q.reserve(MEMBER, images=4, policy=HOURLY)).commit()
    clock.advance(1200)
    await (await q.reserve(MEMBER, images=6, policy=HOURLY)).commit()
    with pytest.raises(LimitReached) as refused:
        await q.reserve(MEMBER, images=1, policy=HOURLY)
    err = refused.value
    assert (err.window, err.used, err.limit, err.requested) == (Window.ROLLING, 10, 10, 1)
    assert err.resets_at == START + 3600  # when the first 4 leave the window
    assert explain(None, err) == (
        "You've used 10 of your 10 images in the last hour. "
        f"You can make more <t:{int(START + 3600)}:R>."
    )
    clock.advance(3600 - 1200 - 0.001)  # one millisecond early: still full
    with pytest.raises(LimitReached):
        await q.reserve(MEMBER, images=1, policy=HOURLY)
    clock.advance(0.001)
    await q.reserve(MEMBER, images=4, policy=HOURLY)
    with pytest.raises(LimitReached) as refused:
        await q.reserve(MEMBER, images=1, policy=HOURLY)
    assert refused.value.resets_at == START + 1200 + 3600  # when the 6 leave


async def test_partial_room_says_how_many_are_left(store: Store, clock: FakeClock) -> None:
    q = quotas(store, clock)
    await q.reserve(MEMBER, images=5, policy=HOURLY)
    clock.advance(60)
    await q.reserve(MEMBER, images=3, policy=HOURLY)
    with pytest.raises(LimitReached) as refused:
        await q.reserve(MEMBER, images=4, policy=HOURLY)
    err = refused.value
    assert (err.used, err.remaining, err.requested) == (8, 2, 4)
    # 8 + 4 - 10 = 2 must leave: the first reservation (5 images) frees enough.
    assert err.resets_at == START + 3600
    assert explain(None, err) == (
        "You asked for 4 images, but only 2 of your 10 images per hour are left. "
        f"Ask for 2 or fewer, or try again <t:{int(START + 3600)}:R>."
    )


async def test_daily_cap_resets_at_utc_midnight(store: Store, clock: FakeClock) -> None:
    policy = LimitPolicy(window_seconds=60, window_images=5, daily_images=8)
    q = quotas(store, clock)
    await (await q.reserve(MEMBER, images=5, policy=policy)).commit()
    clock.advance(60)
    await (await q.reserve(MEMBER, images=3, policy=policy)).commit()
    clock.advance(60)
    with pytest.raises(LimitReached) as refused:
        await q.reserve(MEMBER, images=1, policy=policy)
    err = refused.value
    assert (err.window, err.used, err.limit) == (Window.DAILY, 8, 8)
    assert err.resets_at == NEXT_MIDNIGHT
    assert err.resets_at_datetime.isoformat() == "2023-11-16T00:00:00+00:00"
    assert explain(None, err).startswith("You've used 8 of your 8 images today.")
    clock.now = NEXT_MIDNIGHT - 0.001
    with pytest.raises(LimitReached):
        await q.reserve(MEMBER, images=1, policy=policy)
    clock.now = NEXT_MIDNIGHT
    await q.reserve(MEMBER, images=5, policy=policy)
    usage = await q.usage(MEMBER, policy)
    assert usage.window(Window.DAILY).used == 5


async def test_refusal_names_the_window_that_frees_last(store: Store, clock: FakeClock) -> None:
    # Both windows are full; the daily one frees at midnight, long after the hourly one.
    policy = LimitPolicy(window_seconds=3600, window_images=4, daily_images=4)
    q = quotas(store, clock)
    await q.reserve(MEMBER, images=4, policy=policy)
    with pytest.raises(LimitReached) as refused:
        await q.reserve(MEMBER, images=1, policy=policy)
    assert refused.value.window is Window.DAILY
    assert refused.value.resets_at == NEXT_MIDNIGHT


async def test_refusal_advice_holds_in_every_window(store: Store, clock: FakeClock) -> None:
    # The hour is full and the day has 2 left: "ask for 2" would be refused too, so the
    # message names the full hour, and the 3 asked for fit only at midnight.
    policy = LimitPolicy(window_seconds=3600, window_images=10, daily_images=30)
    q = quotas(store, clock)
    clock.now = DAY_START + 1
    for images in (10, 8, 10):
        await (await q.reserve(MEMBER, images=images, policy=policy)).commit()
        clock.advance(3600)
    clock.advance(-3600)  # the last 10 were made just now
    with pytest.raises(LimitReached) as refused:
        await q.reserve(MEMBER, images=3, policy=policy)
    err = refused.value
    assert (err.window, err.used, err.limit, err.remaining) == (Window.ROLLING, 10, 10, 0)
    assert err.resets_at == NEXT_MIDNIGHT
    assert explain(None, err) == (
        "You've used 10 of your 10 images in the last hour. "
        f"You can make 3 more <t:{int(NEXT_MIDNIGHT)}:R>."
    )
    with pytest.raises(LimitReached):
        await q.reserve(MEMBER, images=2, policy=policy)
    # An hour on, the hour is empty and the day has 2 left: now the day is named.
    clock.advance(3600)
    with pytest.raises(LimitReached) as refused:
        await q.reserve(MEMBER, images=3, policy=policy)
    err = refused.value
    assert (err.window, err.remaining, err.resets_at) == (Window.DAILY, 2, NEXT_MIDNIGHT)
    assert explain(None, err).startswith(
        "You asked for 3 images, but only 2 of your 30 images for today are left. Ask for 2"
    )
    await q.reserve(MEMBER, images=2, policy=policy)


async def test_yesterdays_images_do_not_count_today(store: Store, clock: FakeClock) -> None:
    clock.now = DAY_START - 1
    policy = LimitPolicy(window_seconds=60, window_images=5, daily_images=5)
    q = quotas(store, clock)
    await q.reserve(MEMBER, images=5, policy=policy)
    clock.advance(61)
    await q.reserve(MEMBER, images=5, policy=policy)
    assert (await q.usage(MEMBER, policy)).window(Window.DAILY).used == 5


async def test_request_larger_than_a_window_can_never_succeed(
    store: Store, clock: FakeClock
) -> None:
    q = quotas(store, clock)
    with pytest.raises(RequestTooLarge) as refused:
        await q.reserve(MEMBER, images=11, policy=HOURLY)
    err = refused.value
    assert (err.window, err.requested, err.limit) == (Window.ROLLING, 11, 10)
    assert explain(None, err) == (
        "You asked for 11 images, but your limit is 10 images per hour. Ask for 10 or fewer."
    )
    daily = LimitPolicy(window_seconds=3600, window_images=10, daily_images=3)
    with pytest.raises(RequestTooLarge) as refused:
        await q.reserve(MEMBER, images=4, policy=daily)
    assert refused.value.window is Window.DAILY
    assert "your limit is 3 images per day" in explain(None, refused.value)
    assert await used(q) == 0


async def test_roles_pick_the_policy(store: Store, clock: FakeClock) -> None:
    booster, artist, staff = 111, 222, 333
    roles = RolePolicies(
        default=LimitPolicy(window_seconds=3600, window_images=2, daily_images=2),
        overrides={
            booster: LimitPolicy(window_seconds=3600, window_images=5, daily_images=20),
            artist: LimitPolicy(window_seconds=3600, window_images=8, daily_images=40),
        },
        exempt_roles=frozenset({staff}),
    )
    q = quotas(store, clock)
    generous = await q.reserve("u-a", images=8, policy=roles.resolve([booster, artist]))
    assert generous.images == 8
    assert not generous.exempt
    with pytest.raises(RequestTooLarge):
        await q.reserve("u-b", images=3, policy=roles.resolve([999]))
    exempt = roles.resolve([booster, staff])
    assert exempt is EXEMPT
    reservations = [await q.reserve("u-c", images=50, policy=exempt) for _ in range(3)]
    assert all(r.exempt for r in reservations)
    usage = await q.usage("u-c", exempt)
    assert usage.exempt
    assert usage.remaining is None
    assert usage.windows == ()
    assert describe_usage(None, usage) == "You have no personal image limits here."
    # Exempt images are not recorded: losing the role later starts from zero.
    assert await used(q, member="u-c") == 0
    assert await reservations[0].refund() is True


async def test_concurrent_reservations_never_over_admit(store: Store, clock: FakeClock) -> None:
    q = quotas(store, clock)
    results = await asyncio.gather(
        *(q.reserve(MEMBER, images=1, policy=HOURLY) for _ in range(100)),
        return_exceptions=True,
    )
    admitted = [r for r in results if not isinstance(r, BaseException)]
    refused = [r for r in results if isinstance(r, BaseException)]
    assert len(admitted) == 10
    assert all(isinstance(r, LimitReached) for r in refused)
    assert await used(q) == 10


async def test_concurrent_mixed_sizes_never_over_admit(store: Store, clock: FakeClock) -> None:
    policy = LimitPolicy(window_seconds=3600, window_images=25, daily_images=100)
    sizes = random.Random(7).choices([1, 2, 3], k=100)
    q = quotas(store, clock)
    results = await asyncio.gather(
        *(q.reserve(MEMBER, images=n, policy=policy) for n in sizes), return_exceptions=True
    )
    admitted = sum(n for n, r in zip(sizes, results, strict=True) if not isinstance(r, Exception))
    refused_ones = [n for n, r in zip(sizes, results, strict=True) if isinstance(r, Exception)]
    assert admitted <= 25
    if 1 in refused_ones:  # a 1-image request is refused only when the window is full
        assert admitted == 25
    assert await used(q, policy) == admitted


async def test_two_processes_share_one_quota(open_shared: StoreFactory, clock: FakeClock) -> None:
    first, second = quotas(await open_shared(), clock), quotas(await open_shared(), clock)
    results = await asyncio.gather(
        *(q.reserve(MEMBER, images=1, policy=HOURLY) for q in [first, second] * 50),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, BaseException) for r in results) == 10
    assert await used(first) == await used(second) == 10


async def test_failed_request_costs_nothing(store: Store, clock: FakeClock) -> None:
    q = quotas(store, clock)
    held = await q.reserve(MEMBER, images=4, policy=HOURLY)

    async def failing_call() -> None:
        async with held:
            assert await used(q) == 4
            raise RuntimeError("upstream failed")

    with pytest.raises(RuntimeError, match="upstream failed"):
        await failing_call()
    assert held.state == "refunded"
    assert await used(q) == 0
    async with await q.reserve(MEMBER, images=4, policy=HOURLY) as held:
        pass
    assert held.state == "committed"
    assert await used(q) == 4


async def test_early_commit_survives_a_later_failure(store: Store, clock: FakeClock) -> None:
    q = quotas(store, clock)

    async def request() -> None:
        async with await q.reserve(MEMBER, images=2, policy=HOURLY) as held:
            await held.commit()  # the API call succeeded
            raise OSError("post failed")

    with pytest.raises(OSError, match="post failed"):
        await request()
    assert await used(q) == 2


async def test_cancelled_request_costs_nothing(store: Store, clock: FakeClock) -> None:
    q = quotas(store, clock)
    started = asyncio.Event()

    async def request() -> None:
        async with await q.reserve(MEMBER, images=3, policy=HOURLY):
            started.set()
            await asyncio.Event().wait()  # the API call, never finishing

    task = asyncio.create_task(request())
    await started.wait()
    assert await used(q) == 3
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await used(q) == 0


async def test_cancelled_while_reserving_costs_nothing(store: Store, clock: FakeClock) -> None:
    q = quotas(store, clock)
    for step in range(40):  # cancel at different points of the store's round trip
        task = asyncio.create_task(q.reserve(MEMBER, images=1, policy=HOURLY))
        await asyncio.sleep(step * 0.00004)
        task.cancel()
        try:
            reservation = await task
        except asyncio.CancelledError:
            assert await used(q) == 0
        else:  # it finished before the cancellation arrived
            assert await used(q) == 1
            assert await reservation.refund() is True


async def test_unsettled_reservation_counts_as_used_after_expiry(
    store: Store, clock: FakeClock
) -> None:
    q = quotas(store, clock, ttl=900)
    crashed = await q.reserve(MEMBER, images=3, policy=HOURLY)
    assert crashed.expires_at == START + 900
    clock.advance(899)
    assert (await q.usage(MEMBER, HOURLY)).window(Window.ROLLING).pending == 3
    clock.advance(1)
    rolling = (await q.usage(MEMBER, HOURLY)).window(Window.ROLLING)
    assert (rolling.used, rolling.pending) == (3, 0)
    assert await crashed.refund() is False  # too late: it counts as committed
    assert await used(q) == 3
    clock.advance(3600 - 900)  # it ages out of the window like any used image
    assert await used(q) == 0
    await (await q.reserve(MEMBER, images=10, policy=HOURLY)).commit()


async def test_by_default_a_reservation_stays_refundable_through_a_long_wait(
    store: Store, clock: FakeClock
) -> None:
    # A job may queue behind a long line of slow, retried calls and still fail in the end.
    q = MemberQuotas(store, clock=clock)
    held = await q.reserve(MEMBER, images=3, policy=HOURLY)
    clock.advance(2 * 3600)
    assert (await q.usage(MEMBER, HOURLY)).window(Window.DAILY).pending == 3
    assert await held.refund() is True
    assert (await q.usage(MEMBER, HOURLY)).window(Window.DAILY).used == 0


async def test_commit_after_expiry_still_counts(store: Store, clock: FakeClock) -> None:
    q = quotas(store, clock, ttl=60)
    slow = await q.reserve(MEMBER, images=2, policy=HOURLY)
    clock.advance(120)
    await slow.commit()
    assert slow.state == "committed"
    assert await used(q) == 2


async def test_limiter_reserve_and_usage_use_the_store(store: Store, clock: FakeClock) -> None:
    limiter = Limiter(store, clock=clock, sleep=clock.sleep)
    await (await limiter.reserve(MEMBER, images=6, policy=HOURLY)).commit()
    usage = await limiter.usage(MEMBER, HOURLY)
    assert usage.remaining == 4
    with pytest.raises(LimitReached):
        await limiter.reserve(MEMBER, images=5, policy=HOURLY)


async def test_zero_images_is_a_programming_error(store: Store, clock: FakeClock) -> None:
    with pytest.raises(ValueError, match="1 or more"):
        await quotas(store, clock).reserve(MEMBER, images=0, policy=HOURLY)
