"""Issue 10: a request takes its place in line when it arrives, so a burst's checks see each
other and a member's requests start in the order they came, whatever reaches its turn first."""

from __future__ import annotations

import asyncio

import pytest

from bot.front.explain import explain
from bot.limits import (
    Limiter,
    LimitError,
    LimitPolicy,
    QueueFull,
    TooManyWaiting,
    queue_capacity,
)
from bot.limits.store.memory import MemoryStore
from tests.conftest import eventually
from tests.limits.conftest import FakeClock

POLICY = LimitPolicy(window_seconds=3600, window_images=10, daily_images=100)


class Requests:
    """Runs requests the way a command does: arrive, check, (await things), then the turn."""

    def __init__(self, limiter: Limiter) -> None:
        self.limiter = limiter
        self.started: list[str] = []
        self.checked: dict[str, asyncio.Event] = {}
        self.go_on: dict[str, asyncio.Event] = {}
        self.running_until = asyncio.Event()  # jobs of member "x" hold their place until set

    def send(self, label: str, *, images: int = 1) -> asyncio.Task[None]:
        """Request `label` of member "u-<first letter>"; it waits after its checks until
        `go_on[label]` is set (like deferring and screening, which take varying times)."""
        member = "u-" + label[0]
        self.checked[label] = asyncio.Event()
        self.go_on[label] = asyncio.Event()

        async def request() -> None:
            self.limiter.arrived()
            await asyncio.sleep(0)  # reading the server's settings, say
            self.limiter.check_room(member, images=images)
            held = await self.limiter.reserve(member, images=images, policy=POLICY)
            self.checked[label].set()
            await self.go_on[label].wait()
            async with held, self.limiter.turn(member, images=images):
                self.started.append(label)
                if member == "u-x":
                    await self.running_until.wait()
                await held.commit()

        return asyncio.create_task(request(), name=label)

    async def send_all(self, labels: list[str]) -> list[asyncio.Task[None]]:
        tasks = [self.send(label) for label in labels]
        await asyncio.gather(*(self.checked[label].wait() for label in labels))
        return tasks


async def test_a_members_requests_start_in_the_order_they_arrived() -> None:
    clock = FakeClock()
    limiter = Limiter(MemoryStore(), max_concurrent=1, clock=clock, sleep=clock.sleep)
    requests = Requests(limiter)
    tasks = await requests.send_all(["a1", "a2", "a3"])
    # The last one is through deferring first (it had no one left to wait for), then the rest.
    for label in ["a3", "a2", "a1"]:
        requests.go_on[label].set()
        await asyncio.sleep(0.01)
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert requests.started == ["a1", "a2", "a3"]


async def test_turns_alternate_across_members_and_each_keeps_its_order() -> None:
    clock = FakeClock()
    limiter = Limiter(MemoryStore(), max_concurrent=1, clock=clock, sleep=clock.sleep)
    requests = Requests(limiter)
    tasks = await requests.send_all(["x1", "a1", "a2", "b1", "a3", "b2"])
    requests.go_on["x1"].set()
    await eventually(lambda: requests.started == ["x1"])  # holds the only running place
    for label in ["b2", "a3", "a2", "b1", "a1"]:
        requests.go_on[label].set()
        await asyncio.sleep(0.01)
    requests.running_until.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert requests.started == ["x1", "a1", "b1", "a2", "b2", "a3"]


async def test_others_go_while_a_members_earlier_request_is_not_ready() -> None:
    clock = FakeClock()
    limiter = Limiter(MemoryStore(), max_concurrent=1, clock=clock, sleep=clock.sleep)
    requests = Requests(limiter)
    tasks = await requests.send_all(["a1", "a2", "b1"])
    requests.go_on["a2"].set()
    requests.go_on["b1"].set()
    # a2 waits for a1 (still downloading its picture, say); b1 does not.
    await eventually(lambda: requests.started == ["b1"])
    await asyncio.sleep(0.01)
    assert requests.started == ["b1"]
    requests.go_on["a1"].set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert requests.started == ["b1", "a1", "a2"]


async def test_a_bursts_checks_see_each_other_before_anyone_waits() -> None:
    # Checks happen before deferring; turns after. Without places taken at the check, the
    # whole burst passes and the queue refuses after the public "thinking...".
    limiter = Limiter(MemoryStore(), max_concurrent=1, max_waiting=2, max_waiting_per_member=5)
    deferred = asyncio.Event()

    async def check(member: str) -> None:
        limiter.check_room(member, images=1)
        await deferred.wait()

    # The first will take the running place, the next two wait: the fourth can't.
    burst = [asyncio.create_task(check(member)) for member in ("u-a", "u-b", "u-c", "u-d")]
    done, _ = await asyncio.wait(burst, timeout=0.05)
    assert [task for task in burst if task in done] == [burst[3]]
    with pytest.raises(QueueFull):
        burst[3].result()
    deferred.set()
    await asyncio.gather(*burst[:3])


async def test_a_members_burst_meets_the_per_member_cap_at_the_check() -> None:
    limiter = Limiter(MemoryStore(), max_concurrent=1, max_waiting=50, max_waiting_per_member=1)

    async def check() -> None:
        limiter.check_room("u-a", images=1)
        await asyncio.sleep(0.05)  # still holding its place, as a deferring command does

    first, second = asyncio.create_task(check()), asyncio.create_task(check())
    await asyncio.sleep(0.01)
    with pytest.raises(TooManyWaiting):
        limiter.check_room("u-a", images=1)
    await asyncio.gather(first, second)
    # Their tasks ended without asking for a turn: the places are given back.
    assert limiter.queue.waiting == 0
    limiter.check_room("u-a", images=1)


async def test_a_refused_reservation_gives_its_place_back() -> None:
    limiter = Limiter(MemoryStore(), max_concurrent=1, max_waiting=1)
    small = LimitPolicy(window_seconds=3600, window_images=1, daily_images=1)

    async def request() -> None:
        limiter.check_room("u-a", images=2)
        await limiter.reserve("u-a", images=2, policy=small)

    with pytest.raises(LimitError) as refused:
        await asyncio.create_task(request())
    assert explain(None, refused.value).startswith("You asked for 2 images")
    assert limiter.queue.waiting == 0


def test_the_default_capacity_is_what_the_budget_serves_in_discords_window() -> None:
    # 15 minutes, less three for the last job to run: 12 minutes of 50 images.
    assert queue_capacity(50, job_seconds=180) == 600
    assert queue_capacity(1, job_seconds=0) == 15
    assert queue_capacity(50, job_seconds=3600) == 1  # never nothing


async def test_the_estimated_wait_follows_the_budget_and_the_turns() -> None:
    clock = FakeClock()
    limiter = Limiter(
        MemoryStore(), images_per_minute=10, max_concurrent=1, clock=clock, sleep=clock.sleep
    )
    release = asyncio.Event()

    async def job(member: str, images: int) -> None:
        async with limiter.turn(member, images=images):
            await release.wait()

    tasks = [asyncio.create_task(job("u-a", 1))]
    await eventually(lambda: limiter.queue.running == 1)
    tasks += [asyncio.create_task(job("u-b", 4)), asyncio.create_task(job("u-c", 2))]
    await eventually(lambda: limiter.queue.waiting == 2)
    # 10 images a minute: the second in line waits for 4 + 2 images, 36 s.
    assert limiter.estimated_wait(1) == pytest.approx(24)
    assert limiter.estimated_wait(2) == pytest.approx(36)
    release.set()
    clock.advance(120)  # the first turn took two minutes: turns are the slower measure now
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert limiter.queue.typical_run is not None
    assert limiter.estimated_wait(3) >= 3 * limiter.queue.typical_run - 1e-9


async def test_images_waiting_are_capped_by_what_the_budget_starts_in_the_window() -> None:
    # 10 minutes of 50 images (15 less the 300 s timeout; 600 before issue 10 raised it)
    assert Limiter(MemoryStore()).max_waiting_images == 500
    limiter = Limiter(MemoryStore(), images_per_minute=10, max_concurrent=1, max_waiting_images=25)
    deferred = asyncio.Event()

    async def check(member: str) -> None:
        limiter.check_room(member, images=10)
        await deferred.wait()

    # Jobs of ten images: two fit in 25 (few jobs, but many images), the third does not.
    burst = [asyncio.create_task(check(member)) for member in ("u-a", "u-b", "u-c")]
    done, _ = await asyncio.wait(burst, timeout=0.05)
    assert done == {burst[2]}
    with pytest.raises(QueueFull):
        burst[2].result()
    deferred.set()
    await asyncio.gather(*burst[:2])
    assert limiter.queue.images_waiting == 0
