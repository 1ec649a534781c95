"""Withdrawing a waiting job from the fair queue (a member's Cancel)."""

from __future__ import annotations

import asyncio

import pytest

from bot.limits import FairQueue, Withdrawal, Withdrawn
from tests.conftest import eventually


async def _hold(queue: FairQueue, member: str, release: asyncio.Event) -> None:
    async with queue.turn(member):
        await release.wait()


async def test_a_waiting_job_leaves_at_once_and_the_next_goes() -> None:
    queue = FairQueue(max_concurrent=1)
    release = asyncio.Event()
    running = asyncio.create_task(_hold(queue, "u-a", release))
    await eventually(lambda: queue.running == 1)
    withdrawal = Withdrawal()
    served: list[str] = []

    async def wait(member: str, withdrawal: Withdrawal | None = None) -> None:
        async with queue.turn(member, withdrawal=withdrawal):
            served.append(member)

    cancelled = asyncio.create_task(wait("u-b", withdrawal))
    later = asyncio.create_task(wait("u-c"))
    await eventually(lambda: queue.waiting == 2)
    assert withdrawal.withdraw(by=42)
    with pytest.raises(Withdrawn) as raised:
        await cancelled
    assert raised.value.by == 42
    assert queue.waiting == 1  # it left the line at once, not when its turn would have come
    release.set()
    await asyncio.gather(running, later)
    assert served == ["u-c"]


async def test_withdrawn_before_reaching_the_queue_never_waits() -> None:
    queue = FairQueue(max_concurrent=1)
    withdrawal = Withdrawal()
    assert withdrawal.withdraw(by="moderator")
    with pytest.raises(Withdrawn):
        async with queue.turn("u-a", withdrawal=withdrawal):
            pytest.fail("a withdrawn job ran")
    assert queue.waiting == 0
    assert queue.running == 0


async def test_too_late_once_the_turn_began() -> None:
    queue = FairQueue(max_concurrent=1)
    withdrawal = Withdrawal()
    async with queue.turn("u-a", withdrawal=withdrawal):
        assert withdrawal.started
        assert not withdrawal.withdraw(by=1)
    assert not withdrawal.withdrawn
