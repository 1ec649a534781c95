"""The shared images-per-minute budget and its pause, run against every backend."""

from __future__ import annotations

import asyncio

import pytest

from bot.front.explain import explain
from bot.limits import EXEMPT, GlobalBudget, Limiter, LimitPolicy, RequestTooLarge, Window
from bot.limits.store import Store
from tests.conftest import eventually
from tests.limits.conftest import START, FakeClock, StoreFactory

POLICY = LimitPolicy(window_seconds=3600, window_images=10, daily_images=100)


async def test_budget_hands_out_images_per_minute(store: Store, clock: FakeClock) -> None:
    budget = GlobalBudget(store, images_per_minute=5, clock=clock)
    assert await budget.try_take(2) is None
    clock.advance(10)
    assert await budget.try_take(3) is None
    clock.advance(10)
    assert await budget.try_take(1) == START + 60  # when the first 2 leave the minute
    assert await budget.try_take(3) == START + 10 + 60  # needs the 3 to leave too
    clock.now = START + 60 - 0.001
    assert await budget.try_take(1) == START + 60
    clock.now = START + 60
    assert await budget.try_take(2) is None
    assert await budget.try_take(1) == START + 70


async def test_request_larger_than_the_budget_is_refused(clock: FakeClock, store: Store) -> None:
    limiter = Limiter(store, images_per_minute=4, clock=clock, sleep=clock.sleep)
    with pytest.raises(RequestTooLarge) as refused:
        async with limiter.slot("u-a", images=5, policy=POLICY):
            pytest.fail("must not run")
    err = refused.value
    assert (err.window, err.requested, err.limit) == (Window.GLOBAL, 5, 4)
    assert explain(None, err) == (
        "You asked for 5 images, but this bot can make at most 4 images per minute. "
        "Ask for 4 or fewer."
    )
    assert (await limiter.usage("u-a", POLICY)).window(Window.ROLLING).used == 0


async def test_pause_stops_the_budget_and_never_shortens(store: Store, clock: FakeClock) -> None:
    budget = GlobalBudget(store, images_per_minute=50, clock=clock)
    assert await budget.paused_until() is None
    await budget.pause_until(START + 30)
    await budget.pause_until(START + 10)  # a shorter pause changes nothing
    assert await budget.paused_until() == START + 30
    assert await budget.try_take(1) == START + 30
    clock.advance(30)
    assert await budget.paused_until() is None
    assert await budget.try_take(1) is None


async def test_waiting_job_goes_when_the_minute_frees_up(store: Store, clock: FakeClock) -> None:
    limiter = Limiter(store, images_per_minute=3, max_concurrent=10, clock=clock, sleep=clock.sleep)
    for member in ("u-a", "u-b", "u-c"):
        async with limiter.slot(member, images=1, policy=POLICY):
            pass
    positions: list[int] = []
    started = asyncio.Event()

    async def fourth() -> None:
        async def on_position(position: int) -> None:
            positions.append(position)

        async with limiter.slot("u-d", images=1, policy=EXEMPT, on_position=on_position):
            started.set()

    task = asyncio.create_task(fourth())
    await eventually(lambda: clock.sleeping == 1)
    assert positions == [1]
    assert not started.is_set()
    clock.advance(59.999)
    await asyncio.sleep(0.01)
    assert not started.is_set()
    clock.advance(0.001)
    await asyncio.wait_for(task, 5)
    assert started.is_set()


async def test_pause_is_shared_between_processes(
    open_shared: StoreFactory, clock: FakeClock
) -> None:
    first = Limiter(await open_shared(), clock=clock, sleep=clock.sleep)
    second = Limiter(await open_shared(), clock=clock, sleep=clock.sleep)
    await first.pause_for(30)
    assert await second.budget.paused_until() == START + 30
    positions: list[int] = []

    async def on_position(position: int) -> None:
        positions.append(position)

    async def job() -> float:
        async with second.slot("u-a", images=2, policy=POLICY, on_position=on_position):
            return clock()

    task = asyncio.create_task(job())
    await eventually(lambda: clock.sleeping == 1)
    assert positions == [1]
    clock.advance(30)
    assert await asyncio.wait_for(task, 5) == START + 30


async def test_budget_is_shared_between_processes(
    open_shared: StoreFactory, clock: FakeClock
) -> None:
    budgets = [
        GlobalBudget(await open_shared(), images_per_minute=10, clock=clock) for _ in range(2)
    ]
    results = await asyncio.gather(*(budget.try_take(1) for budget in budgets * 15))
    assert results.count(None) == 10
    assert all(r == START + 60 for r in results if r is not None)


async def test_pause_wakes_waiting_jobs_in_this_process(store: Store, clock: FakeClock) -> None:
    # The job at the front is waiting for the minute to free up; a pause that ends later
    # must hold it back until the pause ends.
    limiter = Limiter(store, images_per_minute=1, clock=clock, sleep=clock.sleep)
    async with limiter.slot("u-a", images=1, policy=POLICY):
        pass
    task = asyncio.create_task(_timed_slot(limiter, clock, "u-b"))
    await eventually(lambda: clock.sleeping == 1)
    await limiter.pause_until(START + 90)
    clock.advance(60)  # the minute has freed up, but the pause goes on
    await asyncio.sleep(0.02)
    assert not task.done()
    clock.advance(30)
    assert await asyncio.wait_for(task, 5) == START + 90


async def _timed_slot(limiter: Limiter, clock: FakeClock, member: str) -> float:
    async with limiter.slot(member, images=1, policy=POLICY):
        return clock()
