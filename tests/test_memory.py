"""The memory budget: decodes and result images reserve bytes, first come first served."""

from __future__ import annotations

import asyncio
import platform
import threading

import pytest

from bot.memory import BUDGET_BYTES, MemoryBudget, release_freed_blocks, result_bytes
from tests.cogs.support import picture, private_reply, result
from tests.conftest import StartBot, eventually
from tests.fakes.discord import FakeDiscord


class Job:
    """A task that takes room for `images`, then holds it until the test lets it end."""

    def __init__(self, room: MemoryBudget, images: int, *, timeout: float = 5.0) -> None:
        self.has_room = asyncio.Event()
        self.end = asyncio.Event()
        self.task = asyncio.create_task(self._run(room, images, timeout))

    async def _run(self, room: MemoryBudget, images: int, timeout: float) -> None:
        await room.take(images, timeout=timeout)
        self.has_room.set()
        await self.end.wait()


async def test_room_is_held_until_the_task_ends_and_goes_first_come_first_served() -> None:
    room = MemoryBudget(10)
    first, second = Job(room, 6), Job(room, 4)
    await eventually(lambda: second.has_room.is_set())
    big, small = Job(room, 8), Job(room, 1)
    await asyncio.sleep(0.01)
    # The full room: both wait, and the small one does not overtake the big one.
    assert not big.has_room.is_set()
    assert not small.has_room.is_set()
    first.end.set()
    await asyncio.sleep(0.01)
    assert room.free == 6
    assert not big.has_room.is_set()
    second.end.set()
    await eventually(lambda: big.has_room.is_set() and small.has_room.is_set())
    assert room.free == 1
    big.end.set()
    small.end.set()
    await asyncio.gather(first.task, second.task, big.task, small.task)
    await eventually(lambda: room.free == 10)


async def test_a_job_larger_than_the_room_takes_all_of_it() -> None:
    room = MemoryBudget(10)
    job = Job(room, 25)
    await eventually(lambda: job.has_room.is_set())
    assert room.free == 0
    job.end.set()
    await job.task
    await eventually(lambda: room.free == 10)


async def test_a_task_that_fails_gives_the_room_back() -> None:
    room = MemoryBudget(4)

    async def failing() -> None:
        await room.take(4, timeout=5)
        raise RuntimeError("the delivery failed")

    with pytest.raises(RuntimeError):
        await asyncio.create_task(failing())
    await eventually(lambda: room.free == 4)  # once the task's end is seen


async def test_taking_again_in_the_same_task_keeps_what_it_has() -> None:
    room = MemoryBudget(4)

    async def retried() -> int:
        await room.take(3, timeout=5)
        await room.take(3, timeout=5)  # e.g. a second attempt at the same answer
        return room.free

    assert await asyncio.create_task(retried()) == 1
    await eventually(lambda: room.free == 4)


async def test_a_cancelled_wait_leaves_the_line_and_lets_the_next_one_in() -> None:
    room = MemoryBudget(4)
    holder = Job(room, 3)
    await eventually(lambda: holder.has_room.is_set())
    big, small = Job(room, 4), Job(room, 1)
    await asyncio.sleep(0.01)
    assert not small.has_room.is_set()  # behind the big one
    big.task.cancel()
    await eventually(lambda: small.has_room.is_set())
    holder.end.set()
    small.end.set()
    await asyncio.gather(holder.task, small.task)
    with pytest.raises(asyncio.CancelledError):
        await big.task
    await eventually(lambda: room.free == 4)


async def test_after_the_timeout_a_job_goes_on_without_room(
    caplog: pytest.LogCaptureFixture,
) -> None:
    room = MemoryBudget(2)
    holder = Job(room, 2)
    await eventually(lambda: holder.has_room.is_set())
    late = Job(room, 2, timeout=0.05)
    await asyncio.wait_for(late.has_room.wait(), 5)
    assert "no room for 2 bytes of result images" in caplog.text
    late.end.set()
    await late.task
    await asyncio.sleep(0.01)
    assert room.free == 0  # it took none, so it gave none back
    holder.end.set()
    await holder.task
    await eventually(lambda: room.free == 2)


def test_the_room_must_hold_something() -> None:
    with pytest.raises(ValueError, match="capacity"):
        MemoryBudget(0)


async def test_a_decode_waits_for_the_budget_until_the_one_before_it_ends() -> None:
    budget = MemoryBudget(100)
    first_may_end = threading.Event()
    started: list[str] = []

    def decode(name: str, release: threading.Event | None) -> str:
        started.append(name)
        if release is not None:
            release.wait(5)
        return name

    first = asyncio.create_task(budget.run_in_thread(100, decode, "first", first_may_end))
    await eventually(lambda: started == ["first"])
    second = asyncio.create_task(budget.run_in_thread(60, decode, "second", None))
    await asyncio.sleep(0.05)
    assert started == ["first"]  # a near-cap picture each, a budget for one
    first_may_end.set()
    assert await first == "first"
    assert await second == "second"
    await eventually(lambda: budget.free == 100)


async def test_a_failed_decode_gives_its_bytes_back() -> None:
    budget = MemoryBudget(100)

    def broken() -> None:
        raise ValueError("damaged")

    with pytest.raises(ValueError, match="damaged"):
        await budget.run_in_thread(80, broken)
    assert budget.free == 100


async def test_a_cancelled_decode_holds_its_bytes_until_its_thread_ends() -> None:
    budget = MemoryBudget(100)
    may_end = threading.Event()
    running = threading.Event()

    def decode() -> None:
        running.set()
        may_end.wait(5)

    task = asyncio.create_task(budget.run_in_thread(70, decode))
    await eventually(running.is_set)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert budget.free == 30  # the thread still holds the pixels
    may_end.set()
    await eventually(lambda: budget.free == 100)


async def test_a_cancelled_wait_for_a_decode_leaves_the_line() -> None:
    budget = MemoryBudget(100)
    holder = Job(budget, 100)
    await eventually(lambda: holder.has_room.is_set())
    waiting = asyncio.create_task(budget.run_in_thread(50, lambda: None))
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    holder.end.set()
    await holder.task
    await eventually(lambda: budget.free == 100)


def test_results_are_counted_in_bytes_by_their_size() -> None:
    one = result_bytes(1, "1024x1024")
    assert result_bytes(10, "1024x1024") == 10 * one
    assert result_bytes(1, "256x256") == one // 16
    assert result_bytes(1, "auto") == result_bytes(1, None) == result_bytes(1, "1536x1024")


def test_the_budget_holds_a_few_dozen_results_at_most() -> None:
    # In a 300-member burst each 1024x1024 result held added 6.6 MB of RSS; at 5 bytes a pixel
    # in 256 MiB the budget let 51 be held at once and the bot peaked at 485 MiB (target 400).
    one = result_bytes(1, "1024x1024")
    assert one >= 6_600_000
    assert BUDGET_BYTES // one <= 30


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt only")
def test_freed_blocks_are_given_back_to_the_system_on_glibc() -> None:
    assert release_freed_blocks()


# --- through the bot ---------------------------------------------------------------------------


async def test_the_bot_reserves_decodes_and_gives_everything_back(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    big = fake_discord.add_attachment(picture(2_500, 2_500), "big.png")
    broken = fake_discord.add_attachment(picture(2_500, 2_500)[:5_000], "broken.png")
    async with start_bot(IMAGE_MODEL="dall-e-2") as bot:
        budget = bot.service.memory
        served = await fake_discord.invoke("vary", {"image": big})
        refused = await fake_discord.invoke("vary", {"image": broken})
        assert len((await result(served)).files) == 1
        assert "damaged" in await private_reply(refused)
        await eventually(lambda: budget.free == budget.capacity)


async def test_the_connection_pool_follows_the_setting_in_the_running_bot(
    start_bot: StartBot,
) -> None:
    async with start_bot(MAX_CONCURRENT_REQUESTS="300") as bot:
        connector = bot.session.connector
        assert connector is not None
        assert connector.limit > 300  # aiohttp's default of 100 capped the calls
