"""JobTracker: commands that have deferred let the ones still owing Discord an answer go first."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import discord

from bot.front.jobs import JobTracker

# JobTracker only keeps the interaction to tell its member about a cancellation later.
NO_INTERACTION = cast(discord.Interaction, object())


async def _tracked(jobs: JobTracker, body: Any) -> asyncio.Task[Any]:
    started = asyncio.Event()

    async def job() -> Any:
        await started.wait()
        return await body()

    task = asyncio.create_task(job())
    jobs.add(task, NO_INTERACTION)
    started.set()
    return task


async def test_an_answered_job_waits_until_the_others_have_answered() -> None:
    jobs = JobTracker()
    order: list[str] = []
    second_may_answer = asyncio.Event()

    async def first() -> None:
        jobs.answered(asyncio.current_task())
        order.append("first answered")
        await jobs.let_first_answers_go(5.0)
        order.append("first goes on")

    async def second() -> None:
        await second_may_answer.wait()
        order.append("second answered")
        jobs.answered(asyncio.current_task())
        await asyncio.sleep(0.05)  # still running: only its answer counts

    one = await _tracked(jobs, first)
    two = await _tracked(jobs, second)
    await asyncio.sleep(0.05)
    assert order == ["first answered"]
    second_may_answer.set()
    await asyncio.gather(one, two)
    assert order == ["first answered", "second answered", "first goes on"]


async def test_a_job_that_ends_without_answering_does_not_hold_the_others() -> None:
    jobs = JobTracker()
    refused = asyncio.Event()

    async def waiting() -> float:
        jobs.answered(asyncio.current_task())
        loop = asyncio.get_running_loop()
        start = loop.time()
        await jobs.let_first_answers_go(5.0)
        return loop.time() - start

    async def ends_early() -> None:
        await refused.wait()  # e.g. refused with a private message, then done

    waiter = await _tracked(jobs, waiting)
    ender = await _tracked(jobs, ends_early)
    await asyncio.sleep(0.05)
    assert not waiter.done()
    refused.set()
    await ender
    assert await asyncio.wait_for(waiter, 1.0) < 1.0


async def test_the_wait_is_bounded() -> None:
    jobs = JobTracker()
    never = asyncio.Event()

    async def waiting() -> bool:
        jobs.answered(asyncio.current_task())
        await jobs.let_first_answers_go(0.1)
        return True

    stuck = await _tracked(jobs, never.wait)
    waiter = await _tracked(jobs, waiting)
    assert await asyncio.wait_for(waiter, 2.0)
    assert not stuck.done()
    stuck.cancel()
    await asyncio.gather(stuck, return_exceptions=True)


async def test_nothing_to_wait_for_returns_at_once() -> None:
    jobs = JobTracker()

    async def only() -> bool:
        jobs.answered(asyncio.current_task())
        await jobs.let_first_answers_go(5.0)
        return True

    task = await _tracked(jobs, only)
    assert await asyncio.wait_for(task, 0.5)
