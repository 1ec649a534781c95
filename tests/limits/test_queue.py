"""The fair queue: round-robin order, positions, caps, cancellation (in memory, per process)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable

import pytest

from bot.front.explain import explain
from bot.limits import (
    FairQueue,
    Limiter,
    LimitPolicy,
    QueueFull,
    TooManyWaiting,
    Window,
)
from bot.limits.store import MemoryStore
from tests.conftest import eventually
from tests.limits.conftest import START, FakeClock

POLICY = LimitPolicy(window_seconds=3600, window_images=10, daily_images=100)


class Jobs:
    """Starts jobs in a queue; each holds its running place until the test releases it."""

    def __init__(self, queue: FairQueue) -> None:
        self.queue = queue
        self.served: list[str] = []
        self.positions: dict[str, list[int]] = {}
        self.release: dict[str, asyncio.Event] = {}
        self.tasks: dict[str, asyncio.Task[None]] = {}

    def start(self, label: str, *, hold: bool = False) -> asyncio.Task[None]:
        member = "u-" + label[0]
        self.positions[label] = []
        self.release[label] = asyncio.Event()
        if not hold:
            self.release[label].set()

        async def on_position(position: int) -> None:
            self.positions[label].append(position)

        async def job() -> None:
            async with self.queue.turn(member, on_position=on_position):
                self.served.append(label)
                await self.release[label].wait()

        self.tasks[label] = asyncio.create_task(job())
        return self.tasks[label]

    async def start_waiting(self, label: str, *, waiting: int, hold: bool = False) -> None:
        """Start a job and let it take its place in the queue."""
        self.start(label, hold=hold)
        await eventually(lambda: self.queue.waiting == waiting and bool(self.positions[label]))


def fair_queue(**caps: int) -> FairQueue:
    settings = {"max_concurrent": 1, "max_waiting": 50, "max_waiting_per_member": 10} | caps
    return FairQueue(**settings)


async def test_light_member_is_not_stuck_behind_a_heavy_one() -> None:
    jobs = Jobs(fair_queue())
    jobs.start("a1", hold=True)
    await eventually(lambda: jobs.served == ["a1"])
    for waiting, label in enumerate(["a2", "a3", "a4", "a5"], start=1):
        await jobs.start_waiting(label, waiting=waiting, hold=True)
    assert [jobs.positions[label] for label in ("a2", "a3", "a4", "a5")] == [[1], [2], [3], [4]]
    await jobs.start_waiting("b1", waiting=5, hold=True)
    assert jobs.positions["b1"] == [1]  # b was not served yet: it goes before a's second job
    await eventually(lambda: jobs.positions["a5"] == [4, 5])
    # Let the jobs finish one by one: a5 moves up one place each time.
    for running, expected in [("a1", 4), ("b1", 3), ("a2", 2), ("a3", 1)]:
        jobs.release[running].set()
        await eventually(lambda expected=expected: jobs.positions["a5"][-1] == expected)
    jobs.release["a4"].set()
    await eventually(lambda: jobs.served[-1] == "a5")
    jobs.release["a5"].set()
    await asyncio.wait_for(asyncio.gather(*jobs.tasks.values()), 5)
    assert jobs.served == ["a1", "b1", "a2", "a3", "a4", "a5"]
    assert jobs.positions["a1"] == []  # it went at once: no position to show
    assert jobs.positions["a5"] == [4, 5, 4, 3, 2, 1]
    assert jobs.positions["b1"] == [1]
    assert (jobs.queue.waiting, jobs.queue.running) == (0, 0)


async def test_members_take_turns() -> None:
    jobs = Jobs(fair_queue())
    jobs.start("x1", hold=True)
    await eventually(lambda: jobs.served == ["x1"])
    for waiting, label in enumerate(["a1", "a2", "a3", "b1", "b2", "b3", "c1"], start=1):
        await jobs.start_waiting(label, waiting=waiting)
    jobs.release["x1"].set()
    await asyncio.wait_for(asyncio.gather(*jobs.tasks.values()), 5)
    assert jobs.served == ["x1", "a1", "b1", "c1", "a2", "b2", "a3", "b3"]


async def test_concurrency_cap_is_respected() -> None:
    queue = fair_queue(max_concurrent=3)
    running = peak = 0

    async def job() -> None:
        nonlocal running, peak
        async with queue.turn("u-a"):
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0.001)
            running -= 1

    await asyncio.wait_for(asyncio.gather(*(job() for _ in range(10))), 5)
    assert peak == 3


async def test_per_member_cap() -> None:
    jobs = Jobs(fair_queue(max_waiting_per_member=2))
    jobs.start("a1", hold=True)
    await eventually(lambda: jobs.served == ["a1"])
    await jobs.start_waiting("a2", waiting=1)
    await jobs.start_waiting("a3", waiting=2)
    with pytest.raises(TooManyWaiting) as refused:
        async with jobs.queue.turn("u-a"):
            pytest.fail("must not run")
    assert (refused.value.waiting, refused.value.limit) == (2, 2)
    assert explain(None, refused.value) == (
        "You already have 2 requests waiting. Please wait for one to finish before asking for more."
    )
    await jobs.start_waiting("b1", waiting=3)  # other members still get in
    jobs.release["a1"].set()
    await asyncio.wait_for(asyncio.gather(*jobs.tasks.values()), 5)


async def test_total_cap() -> None:
    jobs = Jobs(fair_queue(max_waiting=2))
    jobs.start("a1", hold=True)
    await eventually(lambda: jobs.served == ["a1"])
    await jobs.start_waiting("b1", waiting=1)
    await jobs.start_waiting("c1", waiting=2)
    with pytest.raises(QueueFull) as refused:
        async with jobs.queue.turn("u-d"):
            pytest.fail("must not run")
    assert (refused.value.waiting, refused.value.limit) == (2, 2)
    assert explain(None, refused.value) == (
        "The bot is busy right now: too many requests are waiting. Please try again in a minute."
    )
    jobs.release["a1"].set()
    await asyncio.wait_for(asyncio.gather(*jobs.tasks.values()), 5)


async def test_cancelled_job_leaves_the_queue() -> None:
    jobs = Jobs(fair_queue())
    jobs.start("a1", hold=True)
    await eventually(lambda: jobs.served == ["a1"])
    await jobs.start_waiting("b1", waiting=1)
    await jobs.start_waiting("c1", waiting=2)
    await jobs.start_waiting("d1", waiting=3)
    jobs.tasks["c1"].cancel()
    with pytest.raises(asyncio.CancelledError):
        await jobs.tasks["c1"]
    assert jobs.queue.waiting == 2
    await eventually(lambda: jobs.positions["d1"] == [3, 2])
    assert jobs.positions["b1"] == [1]
    jobs.release["a1"].set()
    await asyncio.wait_for(asyncio.gather(*(jobs.tasks[k] for k in ("a1", "b1", "d1"))), 5)
    assert jobs.served == ["a1", "b1", "d1"]


async def test_a_failing_position_callback_keeps_the_place(
    caplog: pytest.LogCaptureFixture,
) -> None:
    queue = fair_queue()
    release = asyncio.Event()
    order: list[str] = []

    async def first() -> None:
        async with queue.turn("u-a"):
            order.append("a")
            await release.wait()

    async def broken(position: int) -> None:
        raise RuntimeError("the interaction expired")

    async def second() -> None:
        async with queue.turn("u-b", on_position=broken):
            order.append("b")

    tasks = [asyncio.create_task(first())]
    await eventually(lambda: order == ["a"])
    tasks.append(asyncio.create_task(second()))
    await eventually(lambda: queue.waiting == 1)
    await asyncio.sleep(0.005)
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert order == ["a", "b"]
    assert "Could not report queue position 1" in caplog.text


async def test_new_member_overtakes_a_job_waiting_for_the_budget() -> None:
    clock = FakeClock()
    limiter = Limiter(MemoryStore(), images_per_minute=1, clock=clock, sleep=clock.sleep)
    positions: dict[str, list[int]] = {"a1": [], "a2": [], "b1": []}
    started: list[str] = []
    release = asyncio.Event()

    def job(label: str) -> Callable[[], Awaitable[None]]:
        async def on_position(position: int) -> None:
            positions[label].append(position)

        async def run() -> None:
            member = "u-" + label[0]
            async with limiter.slot(member, images=1, policy=POLICY, on_position=on_position):
                started.append(label)
                await release.wait()

        return run

    tasks = [asyncio.create_task(job("a1")())]
    await eventually(lambda: started == ["a1"])  # took this minute's only image
    tasks.append(asyncio.create_task(job("a2")()))
    await eventually(lambda: clock.sleeping == 1)  # a2 is first, waiting for the next minute
    assert positions["a2"] == [1]
    tasks.append(asyncio.create_task(job("b1")()))
    # b was not served yet, a was: b goes first.
    await eventually(lambda: positions["a2"] == [1, 2] and positions["b1"] == [1])
    clock.advance(60)
    await eventually(lambda: started == ["a1", "b1"])
    clock.advance(60)
    await eventually(lambda: started == ["a1", "b1", "a2"])
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)


async def test_slot_settles_the_reservation() -> None:
    clock = FakeClock()
    limiter = Limiter(MemoryStore(), clock=clock, sleep=clock.sleep)
    async with limiter.slot("u-a", images=3, policy=POLICY) as held:
        assert held.state == "pending"
    assert held.state == "committed"
    with pytest.raises(RuntimeError, match="upstream"):
        async with limiter.slot("u-a", images=4, policy=POLICY) as failed:
            raise RuntimeError("upstream")
    assert failed.state == "refunded"
    usage = await limiter.usage("u-a", POLICY)
    assert usage.window(Window.ROLLING).used == 3
    assert (limiter.queue.waiting, limiter.queue.running) == (0, 0)


async def test_refused_by_the_queue_costs_nothing() -> None:
    clock = FakeClock()
    limiter = Limiter(
        MemoryStore(), max_concurrent=1, max_waiting_per_member=1, clock=clock, sleep=clock.sleep
    )
    release = asyncio.Event()

    async def hold() -> None:
        async with limiter.slot("u-a", images=1, policy=POLICY):
            await release.wait()

    tasks = [asyncio.create_task(hold()), asyncio.create_task(hold())]
    await eventually(lambda: limiter.queue.running == 1 and limiter.queue.waiting == 1)
    with pytest.raises(TooManyWaiting):
        async with limiter.slot("u-a", images=5, policy=POLICY):
            pytest.fail("must not run")
    assert (await limiter.usage("u-a", POLICY)).window(Window.ROLLING).used == 2
    release.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)


async def test_shutdown_while_waiting_refunds_and_leaves_the_queue() -> None:
    clock = FakeClock()
    limiter = Limiter(MemoryStore(), max_concurrent=1, clock=clock, sleep=clock.sleep)
    release = asyncio.Event()

    async def job(member: str) -> None:
        async with limiter.slot(member, images=2, policy=POLICY):
            await release.wait()

    running = asyncio.create_task(job("u-a"))
    waiting = asyncio.create_task(job("u-b"))
    await eventually(lambda: limiter.queue.waiting == 1)
    assert (await limiter.usage("u-b", POLICY)).window(Window.ROLLING).used == 2
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert limiter.queue.waiting == 0
    assert (await limiter.usage("u-b", POLICY)).window(Window.ROLLING).used == 0
    release.set()
    await asyncio.wait_for(running, 5)
    assert clock() == START


def test_queue_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="max_concurrent"):
        FairQueue(max_concurrent=0)


class SlowBudget:
    """An `admit` that answers only when the test says so, like a store round trip."""

    def __init__(self) -> None:
        self.answer: asyncio.Future[float | None] = asyncio.get_running_loop().create_future()
        self.asked = 0

    async def __call__(self) -> float | None:
        self.asked += 1
        return await asyncio.shield(self.answer)


async def test_a_job_being_admitted_is_not_counted_as_waiting() -> None:
    # One running place, one waiting job per member. While a1 is being admitted (the budget's
    # store has not answered yet) a2 may still queue behind it; a3 may not.
    queue = fair_queue(max_concurrent=1, max_waiting_per_member=1)
    budget = SlowBudget()
    release = asyncio.Event()
    served: list[str] = []

    async def job(label: str) -> None:
        async with queue.turn("u-a", admit=budget):
            served.append(label)
            await release.wait()

    first = asyncio.create_task(job("a1"))
    await eventually(lambda: budget.asked == 1)
    second = asyncio.create_task(job("a2"))
    await eventually(lambda: queue.waiting == 2)
    with pytest.raises(TooManyWaiting):
        queue.check_room("u-a")
    budget.answer.set_result(None)
    await eventually(lambda: served == ["a1"] and queue.waiting == 1)
    release.set()
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert served == ["a1", "a2"]


async def test_a_burst_that_fits_the_free_places_is_not_refused() -> None:
    queue = fair_queue(max_concurrent=3, max_waiting=1, max_waiting_per_member=1)
    budget = SlowBudget()
    served: list[str] = []

    async def job(label: str) -> None:
        async with queue.turn("u-a", admit=budget):
            served.append(label)

    tasks = [asyncio.create_task(job(f"a{i}")) for i in range(1, 4)]
    await eventually(lambda: queue.waiting == 3)
    # Three free places for three jobs: none of them really waits, so a fourth still fits...
    queue.check_room("u-a")
    budget.answer.set_result(None)
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert sorted(served) == ["a1", "a2", "a3"]


async def test_jobs_held_back_by_the_budget_count_as_waiting() -> None:
    clock = FakeClock()
    queue = FairQueue(
        max_concurrent=4, max_waiting=5, max_waiting_per_member=1, clock=clock, sleep=clock.sleep
    )

    async def budget_used_up() -> float | None:
        return clock() + 30

    async def job() -> None:
        async with queue.turn("u-a", admit=budget_used_up):
            pass

    task = asyncio.create_task(job())
    await eventually(lambda: clock.sleeping == 1)
    # Four free places, but the budget lets nobody go: the waiting job counts.
    with pytest.raises(TooManyWaiting):
        queue.check_room("u-a")
    queue.check_room("u-b")
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- telling places: only jobs that really wait, within a cap for the whole queue --------------


async def test_a_burst_that_fits_the_free_places_is_told_no_place() -> None:
    # Three running places, a budget slow to answer: the jobs go one after another while it
    # answers, but none of them waits for a place, so none is told one (no message edits).
    queue = fair_queue(max_concurrent=3)
    budget = SlowBudget()
    told: list[int] = []
    served: list[str] = []

    async def tell(position: int) -> None:
        told.append(position)

    async def job(label: str) -> None:
        async with queue.turn("u-" + label, admit=budget, on_position=tell):
            served.append(label)

    tasks = [asyncio.create_task(job(label)) for label in "abc"]
    await eventually(lambda: queue.waiting == 3)
    await asyncio.sleep(0.01)
    budget.answer.set_result(None)
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert served == ["a", "b", "c"]
    assert told == []


async def test_places_told_are_capped_for_the_whole_queue() -> None:
    # Room for two reports and (practically) no more: the first two jobs to wait are told
    # their place; later changes are not told, and nobody loses their turn over it.
    queue = FairQueue(
        max_concurrent=1,
        max_waiting=50,
        max_waiting_per_member=10,
        reports_per_second=0.001,
        report_burst=2,
    )
    jobs = Jobs(queue)
    jobs.start("x1", hold=True)
    await eventually(lambda: jobs.served == ["x1"])
    for waiting, label in enumerate(["a1", "b1", "c1", "d1"], start=1):
        jobs.start(label, hold=True)
        await eventually(lambda waiting=waiting: queue.waiting == waiting)
    await asyncio.sleep(0.05)
    for label in ["x1", "a1", "b1", "c1", "d1"]:
        jobs.release[label].set()
    await asyncio.wait_for(asyncio.gather(*jobs.tasks.values()), 5)
    assert jobs.served == ["x1", "a1", "b1", "c1", "d1"]
    assert {label: jobs.positions[label] for label in ["a1", "b1", "c1", "d1"]} == {
        "a1": [1],
        "b1": [2],
        "c1": [],
        "d1": [],
    }


async def test_an_edit_in_progress_ends_before_the_turn_starts() -> None:
    # The member must see "number 1 in line" before anything the job shows once it runs.
    queue = fair_queue()
    release_a = asyncio.Event()
    editing = asyncio.Event()
    finish_edit = asyncio.Event()
    shown: list[str] = []

    async def slow_edit(position: int) -> None:
        editing.set()
        await finish_edit.wait()
        shown.append(f"place {position}")

    async def a() -> None:
        async with queue.turn("u-a"):
            await release_a.wait()

    async def b() -> None:
        async with queue.turn("u-b", on_position=slow_edit):
            shown.append("running")

    tasks = [asyncio.create_task(a())]
    await eventually(lambda: queue.running == 1)
    tasks.append(asyncio.create_task(b()))
    await asyncio.wait_for(editing.wait(), 5)
    release_a.set()  # b's turn comes while its edit is still in progress
    await asyncio.sleep(0.02)
    assert shown == []
    finish_edit.set()
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert shown == ["place 1", "running"]


async def test_the_order_follows_the_round_robin_rule_whatever_arrives_when() -> None:
    # A reference model of the rule: the oldest waiting job of the member served least
    # recently goes next (a member with nothing waiting or running starts afresh).
    rng = random.Random(20_240_611)
    queue = fair_queue(max_concurrent=1, max_waiting=500, max_waiting_per_member=500)
    jobs = Jobs(queue)
    waiting: list[tuple[str, str]] = []  # (member, label), in arrival order
    last_served: dict[str, int] = {}
    served_count = 0
    expected: list[str] = []
    running: str | None = None  # the member whose job holds the place
    count = 0
    for _ in range(300):
        if running is None or (waiting and rng.random() < 0.4) or rng.random() < 0.5:
            member = rng.choice("abcde")
            label = f"{member}{count}"
            count += 1
            jobs.start(label, hold=True)
            waiting.append((member, label))
            if running is None:
                await eventually(lambda label=label: jobs.served[-1:] == [label])
                waiting.remove((member, label))
                served_count += 1
                last_served[member] = served_count
                expected.append(label)
                running = label
            else:
                now_waiting = len(waiting)
                await eventually(lambda n=now_waiting: queue.waiting == n)
            continue
        jobs.release[running].set()
        finished, running = running, None
        if not waiting:
            await eventually(lambda: queue.running == 0)
            last_served.pop(finished[0], None)
            continue
        # The running member counts as served; a member with nothing left is forgotten.
        if not any(member == finished[0] for member, _ in waiting):
            last_served.pop(finished[0], None)
        member, label = min(
            waiting, key=lambda job: (last_served.get(job[0], 0), waiting.index(job))
        )
        await eventually(lambda label=label: jobs.served[-1:] == [label])
        waiting.remove((member, label))
        served_count += 1
        last_served[member] = served_count
        expected.append(label)
        running = label
    for label in jobs.release:
        jobs.release[label].set()
    await asyncio.wait_for(asyncio.gather(*jobs.tasks.values()), 10)
    assert jobs.served[: len(expected)] == expected


async def test_waiting_jobs_lists_the_line_in_the_order_it_will_go() -> None:
    """What a moderator's list reads: a copy of the line, next first, nothing changed."""
    queue = fair_queue()
    jobs = Jobs(queue)
    assert queue.waiting_jobs() == []
    jobs.start("a1", hold=True)
    await eventually(lambda: jobs.served == ["a1"])
    await jobs.start_waiting("a2", waiting=1, hold=True)
    await jobs.start_waiting("b1", waiting=2, hold=True)
    listed = queue.waiting_jobs()
    assert [(job.place, job.member, job.images) for job in listed] == [(1, "u-b", 1), (2, "u-a", 1)]
    assert queue.waiting == 2  # reading the line left it as it was
    for event in jobs.release.values():
        event.set()
    await asyncio.gather(*jobs.tasks.values())
    assert queue.waiting_jobs() == []
