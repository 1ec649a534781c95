"""Several processes, one service (issue 14): jobs per second with 1, 2 and 4 bot processes
sharing one Redis, each on its own shard, and the per-job time on Redis against SQLite.

A redis-server of its own (on a free port, no persistence) stands for the shared store. Each
run puts one server on every shard (the fake Discord routes each server's events to shard
`(guild_id >> 22) % SHARD_COUNT`, as Discord does), with the members spread over them, and
64 members in a closed loop as in `throughput` (n=1, tiny images, instant Images API).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import redis.asyncio as redis

from bench.context import B64_MODEL, HIGH_LIMITS, Context, World, job_errors, world
from bench.stats import spread
from bench.world import BotProcess, Job, run_job

PROCESSES = (1, 2, 4)
SEQUENTIAL_JOBS = 30


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway redis-server on 127.0.0.1; its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("the shards benchmark needs redis-server on the PATH")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    workdir = tempfile.mkdtemp(prefix="imagine-bench-redis-")
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", workdir]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)  # noqa: S603
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)


async def _flush(url: str) -> None:
    client = redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def _processes(
    ctx: Context, w: World, count: int, settings: dict[str, str]
) -> AsyncIterator[list[BotProcess]]:
    async with contextlib.AsyncExitStack() as stack:
        bots = []
        for shard in range(count):
            env = {**settings, "SHARD_COUNT": str(count), "SHARD_IDS": str(shard)}
            bot = ctx.bot(w, f"shards-{count}-{shard}", env)
            bots.append(await stack.enter_async_context(bot))
        yield bots


async def processes_run(ctx: Context, count: int, url: str | None) -> dict[str, Any]:
    """`count` processes on one Redis (`url`; None: one process on SQLite, the reference),
    64 members in a closed loop over `count` servers."""
    scale = ctx.scale
    workers = scale.throughput_workers
    if url is not None:
        await _flush(url)
    done: list[Job] = []
    async with world(members=0, latency=0.0, pngs=None) as w:
        places = []
        for shard in range(count):
            guild = w.discord.add_guild(f"Shard {shard}", on_shard=(shard, count))
            places.append((guild, w.discord.add_channel(guild, "images").id))
        members = [
            (w.discord.add_member(places[i % count][0], f"m{i}"), places[i % count][1])
            for i in range(workers)
        ]
        settings = {**HIGH_LIMITS, **B64_MODEL, "DISCORD_GUILD_ID": ""}
        if url is not None:
            settings["STATE_URL"] = url
        async with _processes(ctx, w, count, settings):
            measure_from = time.monotonic() + scale.throughput_warmup
            stop_at = measure_from + scale.throughput_seconds

            async def member(index: int) -> None:
                who, channel = members[index]
                count_ = 0
                while time.monotonic() < stop_at:
                    job = await run_job(
                        w.discord,
                        who,
                        tag=f"s{index}-{count_}",
                        n=1,
                        timeout=60,
                        channel_id=channel,
                    )
                    done.append(job)
                    count_ += 1

            await asyncio.gather(*(member(i) for i in range(workers)))
    counted = [j for j in done if j.final_at is not None and measure_from <= j.final_at <= stop_at]
    return {
        "state": "sqlite" if url is None else "redis",
        "processes": count,
        "members_in_a_loop": workers,
        "seconds": scale.throughput_seconds,
        "jobs_per_second": len(counted) / scale.throughput_seconds,
        "errors": job_errors(done),
        "end_to_end": spread([e for j in done if (e := j.end_to_end) is not None]),
    }


async def one_at_a_time(ctx: Context, state: str, url: str | None) -> dict[str, Any]:
    """One process, one job at a time: end to end with an instant Images API (tiny images)."""
    if url is not None:
        await _flush(url)
    settings = {**HIGH_LIMITS, **B64_MODEL}
    if url is not None:
        settings["STATE_URL"] = url
    async with (
        world(members=1, latency=0.0, pngs=None) as w,
        ctx.bot(w, f"per-job-{state}", settings),
    ):
        await run_job(w.discord, w.members[0], tag="warm-up", n=1, timeout=60)
        jobs = [
            await run_job(w.discord, w.members[0], tag=f"j{i}", n=1, timeout=60)
            for i in range(SEQUENTIAL_JOBS)
        ]
    return {
        "state": state,
        "jobs": len(jobs),
        "errors": job_errors(jobs),
        "end_to_end": spread([e for j in jobs if (e := j.end_to_end) is not None]),
    }


async def shards(ctx: Context) -> dict[str, Any]:
    """Jobs per second with 1, 2 and 4 processes on Redis; per-job time Redis vs SQLite."""
    with redis_server() as url:
        runs = [await processes_run(ctx, 1, None)]
        print(f"  1 process on SQLite: {runs[-1]['jobs_per_second']:.1f} jobs/s", flush=True)
        for count in PROCESSES:
            runs.append(await processes_run(ctx, count, url))
            print(f"  {count} processes: {runs[-1]['jobs_per_second']:.1f} jobs/s", flush=True)
        per_job = [await one_at_a_time(ctx, "sqlite", None), await one_at_a_time(ctx, "redis", url)]
    return {"runs": runs, "per_job": per_job}
