"""The benchmark suite: `python -m bench [--quick] [--only NAMES] [--latency S] [--profile]`.

Starts the real bot (`bot.__main__.run`, in a child process) against the fake Discord and the
fake Images API (in this process) on 127.0.0.1, drives simulated members, prints a table of
every figure next to its target, and writes the figures as JSON (bench/results/latest.json).

Scenarios (each starts fresh fakes and a fresh bot process):
  deferral    INTERACTION_CREATE written -> deferral callback received, for 1 interaction at a
              time, then 50, 200 and 500 arriving at once
  overhead    the bot's own time per job: end to end (INTERACTION_CREATE written -> message with
              the files received) minus the Images API's own time (request arrived -> answer
              written), for n=1, 4, 10 at 1024x1024, base64 (gpt-image-1) and URL (dall-e-2)
  throughput  jobs per second with an instant Images API and every limit set high
  memory      the bot's peak RSS with 50 jobs of n=10 at 1024x1024 in flight
  prepare     bot.imaging.prepare_edit / prepare_variation (DALL-E 2 rules) on a 4 MB photo
The event loop's lag (how late a 10 ms sleep wakes up, inside the bot) is reported for every
load of the first four.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import io
import json
import math
import platform
import resource
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from bench.world import (
    API_KEY,
    REPO,
    BenchImagesAPI,
    BotProcess,
    Job,
    noisy_image,
    realistic_pngs,
    roomy_listen_backlog,
    run_job,
)
from tests.fakes.discord import FakeDiscord, FakeMember

RESULTS = REPO / "bench" / "results"
SCENARIOS = ("deferral", "overhead", "throughput", "memory", "prepare")
MIB = 1024 * 1024

# Targets on the reference machine (2 cores); a figure is compared with its target if it has one.
DEFERRAL_P99_TARGET = 0.100  # with 500 interactions at once
OVERHEAD_P50_TARGET = 0.030  # per job at n=4, 1024x1024
PEAK_RSS_TARGET_MIB = 300.0  # 50 jobs of n=10 in flight
LAG_P99_TARGET = 0.020  # throughout

# Limits high enough never to refuse or hold back a benchmark's job.
HIGH_LIMITS = {
    "LIMIT_WINDOW_IMAGES": "1000000",
    "LIMIT_DAILY_IMAGES": "1000000",
    "IMAGES_PER_MINUTE": "1000000",
    "MAX_CONCURRENT_REQUESTS": "1000",
    "QUEUE_MAX": "100000",
    "QUEUE_MAX_PER_MEMBER": "1000",
    "IMAGES_MAX_ATTEMPTS": "1",  # one upstream call per job, so its time is the job's
}
B64_MODEL = {"IMAGE_MODEL": "gpt-image-1"}
URL_MODEL = {"IMAGE_MODEL": "dall-e-2", "IMAGE_RESPONSE_FORMAT": "url"}


@dataclass(frozen=True)
class Scale:
    """How much of each scenario to run."""

    singles: int  # deferrals measured one at a time
    bursts: tuple[int, ...]
    burst_repeats: int  # how many times the biggest burst runs
    overhead_jobs: int  # per (format, n)
    overhead_ns: tuple[int, ...]
    throughput_seconds: float
    throughput_warmup: float
    throughput_workers: int
    throughput_realistic: bool
    memory_jobs: int
    memory_concurrency: tuple[int, ...]  # MAX_CONCURRENT_REQUESTS of each memory run
    prepare_runs: int
    job_timeout: float


FULL = Scale(
    singles=20,
    bursts=(50, 200, 500),
    burst_repeats=5,
    overhead_jobs=20,
    overhead_ns=(1, 4, 10),
    throughput_seconds=20.0,
    throughput_warmup=3.0,
    throughput_workers=64,
    throughput_realistic=True,
    memory_jobs=50,
    memory_concurrency=(4, 50),
    prepare_runs=9,
    job_timeout=180.0,
)
QUICK = Scale(
    singles=5,
    bursts=(50, 200, 500),
    burst_repeats=2,
    overhead_jobs=5,
    overhead_ns=(1, 4, 10),
    throughput_seconds=6.0,
    throughput_warmup=2.0,
    throughput_workers=64,
    throughput_realistic=False,
    memory_jobs=50,
    memory_concurrency=(4,),
    prepare_runs=3,
    job_timeout=120.0,
)


# --- statistics --------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100), interpolating between the closest ranks; None if empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def spread(values: Sequence[float]) -> dict[str, float | int | None]:
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
    }


def cpu_self() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Window:
    """A stretch of load: its wall time and the CPU both processes used in it."""

    bot: BotProcess
    start: float = field(default_factory=time.monotonic)
    end: float = 0.0
    bot_cpu: float = 0.0
    fakes_cpu: float = 0.0

    def __post_init__(self) -> None:
        self._bot_cpu0 = self.bot.cpu_seconds()
        self._fakes_cpu0 = cpu_self()

    def close(self) -> Window:
        self.end = time.monotonic()
        self.bot_cpu = self.bot.cpu_seconds() - self._bot_cpu0
        self.fakes_cpu = cpu_self() - self._fakes_cpu0
        return self

    def figures(self) -> dict[str, Any]:
        """Wall time, CPU use and the bot's event-loop lag (once the bot has exited)."""
        wall = self.end - self.start
        lag = self.bot.stats.lag_between(self.start, self.end)
        return {
            "wall_seconds": wall,
            "bot_cpu_percent": 100 * self.bot_cpu / wall if wall else None,
            "fakes_cpu_percent": 100 * self.fakes_cpu / wall if wall else None,
            "lag": spread(lag),
        }


# --- the world ---------------------------------------------------------------------------------


@dataclass
class World:
    discord: FakeDiscord
    api: BenchImagesAPI
    members: list[FakeMember]


@contextlib.asynccontextmanager
async def world(*, members: int, latency: float, pngs: list[bytes] | None) -> AsyncIterator[World]:
    """Fresh fakes with `members` members (added before the bot starts, as on a real server)."""
    async with contextlib.AsyncExitStack() as stack:
        with roomy_listen_backlog():
            discord = await stack.enter_async_context(FakeDiscord(patch_discord=False))
            api = await stack.enter_async_context(
                BenchImagesAPI(api_key=API_KEY, latency=latency, pngs=pngs)
            )
        people = [discord.add_member(discord.guild, f"bench{i}") for i in range(members)]
        yield World(discord, api, people)
        if api.violations:
            print(f"  ! the fake Images API saw {len(api.violations)} invalid requests")
        if discord.internal_errors:
            print(f"  ! the fake Discord had {len(discord.internal_errors)} internal errors")


def job_errors(jobs: Sequence[Job]) -> dict[str, int]:
    errors: dict[str, int] = {}
    for job in jobs:
        if job.error:
            errors[job.error] = errors.get(job.error, 0) + 1
    return errors


@dataclass
class Context:
    scale: Scale
    latency: float
    profile: bool
    pngs: list[bytes]
    bot_env: dict[str, str] = field(default_factory=dict)  # extra environment for every bot
    logs: Path = RESULTS / "logs"

    def bot(self, w: World, name: str, settings: dict[str, str]) -> BotProcess:
        profile = RESULTS / "profiles" / f"{name}.prof" if self.profile else None
        if profile is not None:
            profile.parent.mkdir(parents=True, exist_ok=True)
        return BotProcess(
            w.discord,
            w.api,
            name=name,
            settings={**settings, **self.bot_env},
            logs=self.logs,
            profile=profile,
        )


# --- 1. deferral -------------------------------------------------------------------------------


async def burst_of(
    w: World, size: int, tag: str, timeout: float, *, images: bool = True
) -> list[Job]:
    """`size` members type /imagine at the same moment."""
    return await asyncio.gather(
        *(
            run_job(
                w.discord,
                w.members[i],
                tag=f"{tag}{size}-{i}",
                n=1,
                timeout=timeout,
                images=images,
            )
            for i in range(size)
        )
    )


def bursts_figures(bursts: list[list[Job]]) -> dict[str, Any]:
    """One burst's p99 is its few slowest deferrals, which one hiccup of the machine moves by
    100 ms; the burst is repeated and the one with the median p99 is reported, with the range."""
    spreads = [spread([j.deferral for j in burst if j.deferral is not None]) for burst in bursts]
    ranked = sorted(range(len(bursts)), key=lambda k: spreads[k]["p99"] or math.inf)
    median = ranked[(len(ranked) - 1) // 2]
    jobs = [job for burst in bursts for job in burst]
    return {
        "jobs": len(jobs),
        "bursts": len(bursts),
        "deferral": spreads[median],
        "bursts_p99": [sp["p99"] for sp in spreads],
        "errors": job_errors(jobs),
    }


async def deferral(ctx: Context) -> dict[str, Any]:
    """Deferral latency one at a time, then bursts (tiny images: this is about the deferral)."""
    scale = ctx.scale
    biggest = max(scale.bursts)
    results: list[dict[str, Any]] = []
    windows: list[tuple[int, list[list[Job]], Window]] = []
    async with world(members=biggest, latency=ctx.latency, pngs=None) as w:
        async with ctx.bot(w, "deferral", {**HIGH_LIMITS, **B64_MODEL}) as bot:
            window = Window(bot)
            singles = [
                await run_job(
                    w.discord, w.members[i], tag=f"d1-{i}", n=1, timeout=scale.job_timeout
                )
                for i in range(scale.singles)
            ]
            windows.append((1, [singles], window.close()))
            for size in scale.bursts:
                repeats = scale.burst_repeats if size == biggest else 1
                window = Window(bot)
                bursts = []
                for k in range(repeats):
                    await asyncio.sleep(0.5)
                    bursts.append(await burst_of(w, size, f"d{k}-", scale.job_timeout))
                windows.append((size, bursts, window.close()))
                print(f"  {size} at once: done" + (f" ({repeats} times)" if repeats > 1 else ""))
        late = sum(1 for v in w.discord.violations if v.kind == "deadline")
    reference = await bare_discord_py_burst(ctx, biggest)
    for size, bursts, window in windows:
        jobs = [job for burst in bursts for job in burst]
        if len(bursts) > 1:
            figures = bursts_figures(bursts)
        else:
            figures = {
                "jobs": len(jobs),
                "deferral": spread([j.deferral for j in jobs if j.deferral is not None]),
                "errors": job_errors(jobs),
            }
        results.append(
            {
                "at_once": size,
                **figures,
                "end_to_end": spread([e for j in jobs if (e := j.end_to_end) is not None]),
                **window.figures(),
            }
        )
    return {
        "upstream_latency": ctx.latency,
        "late_callbacks": late,
        "runs": results,
        "reference": reference,
    }


async def bare_discord_py_burst(ctx: Context, size: int) -> dict[str, Any]:
    """The same bursts answered by a discord.py bot whose command only defers (none of our
    code), on the same event loop and fakes: the floor that discord.py itself sets here."""
    async with world(members=size, latency=ctx.latency, pngs=None) as w:
        settings = {**HIGH_LIMITS, **B64_MODEL, "BENCH_BARE_DISCORD_PY": "1"}
        async with ctx.bot(w, "deferral-discord.py-alone", settings) as bot:
            await run_job(w.discord, w.members[0], tag="warm", n=1, images=False)
            window = Window(bot)
            bursts = []
            for k in range(ctx.scale.burst_repeats):
                await asyncio.sleep(0.5)
                bursts.append(
                    await burst_of(w, size, f"bare{k}-", ctx.scale.job_timeout, images=False)
                )
            window.close()
        print(f"  {size} at once, discord.py alone: done")
    return {"at_once": size, **bursts_figures(bursts), **window.figures()}


# --- 2. overhead -------------------------------------------------------------------------------


def overhead_of(job: Job, api: BenchImagesAPI) -> dict[str, float] | None:
    calls = api.calls.get(job.tag, [])
    if (
        job.end_to_end is None
        or job.sent_at is None
        or job.final_at is None
        or job.delivered_at is None
        or job.final_request_at is None
        or len(calls) != 1
    ):
        return None
    call = calls[0]
    # The bot's part ends when the last byte of its upload has reached Discord; what the fake
    # Discord then does with the 10 MB (parsing, storing) is Discord's work, reported apart.
    delivered = job.delivered_at - job.sent_at
    return {
        "end_to_end": job.end_to_end,
        "upstream": call.seconds,
        "overhead": delivered - call.seconds,
        "before_upstream": call.arrived - job.sent_at,  # defer, reserve, queue, send
        "after_upstream": job.delivered_at - call.answered,  # read, decode, check, upload
        # From the headers of the request with the files to its last byte read by the fake.
        "upload": job.delivered_at - job.final_request_at,
        # The fake Discord parsing and storing that request: not in the overhead.
        "discord_parse": job.final_at - job.delivered_at,
    }


async def overhead(ctx: Context) -> dict[str, Any]:
    """Sequential jobs (one in flight), so the figure is the bot's own time, not queueing."""
    scale = ctx.scale
    runs: list[dict[str, Any]] = []
    for fmt, model in (("b64_json", B64_MODEL), ("url", URL_MODEL)):
        pending: list[tuple[dict[str, Any], list[Job], Window]] = []
        async with world(members=4, latency=ctx.latency, pngs=ctx.pngs) as w:
            async with ctx.bot(w, f"overhead-{fmt}", {**HIGH_LIMITS, **model}) as bot:
                # One job first: connections, lazy imports and caches warm up, as in a bot
                # that has been running for a while.
                await run_job(w.discord, w.members[0], tag=f"warm-{fmt}", n=1)
                for n in scale.overhead_ns:
                    window = Window(bot)
                    jobs = [
                        await run_job(
                            w.discord,
                            w.members[i % len(w.members)],
                            tag=f"o-{fmt}-{n}-{i}",
                            n=n,
                            timeout=scale.job_timeout,
                        )
                        for i in range(scale.overhead_jobs)
                    ]
                    pending.append(({"format": fmt, "n": n}, jobs, window.close()))
                    print(f"  {fmt} n={n}: done")
            for info, jobs, window in pending:
                parts = [p for j in jobs if (p := overhead_of(j, w.api)) is not None]
                runs.append(
                    {
                        **info,
                        "jobs": len(jobs),
                        "measured": len(parts),
                        "errors": job_errors(jobs),
                        **{
                            key: spread([p[key] for p in parts])
                            for key in (
                                "overhead",
                                "end_to_end",
                                "upstream",
                                "before_upstream",
                                "after_upstream",
                                "upload",
                                "discord_parse",
                            )
                        },
                        **window.figures(),
                    }
                )
    return {
        "upstream_latency": ctx.latency,
        "images": "noisy PNG, ~2.2 MB each",
        "runs": runs,
    }


# --- 3. throughput -----------------------------------------------------------------------------


async def throughput_run(ctx: Context, name: str, pngs: list[bytes] | None) -> dict[str, Any]:
    scale = ctx.scale
    workers = scale.throughput_workers
    done: list[Job] = []
    async with (
        world(members=workers, latency=0.0, pngs=pngs) as w,
        ctx.bot(w, f"throughput-{name}", {**HIGH_LIMITS, **B64_MODEL}) as bot,
    ):
        started = time.monotonic()
        measure_from = started + scale.throughput_warmup
        stop_at = measure_from + scale.throughput_seconds

        async def member(index: int) -> None:
            count = 0
            while time.monotonic() < stop_at:
                job = await run_job(
                    w.discord, w.members[index], tag=f"t{index}-{count}", n=1, timeout=60
                )
                done.append(job)
                count += 1

        async def open_window() -> Window:
            await asyncio.sleep(max(0.0, measure_from - time.monotonic()))
            return Window(bot)

        opener = asyncio.create_task(open_window())
        await asyncio.gather(*(member(i) for i in range(workers)))
        window = (await opener).close()
    counted = [j for j in done if j.final_at is not None and measure_from <= j.final_at <= stop_at]
    in_window = [j for j in done if j.sent_at is not None and measure_from <= j.sent_at <= stop_at]
    return {
        "images": name,
        "members_in_a_loop": workers,
        "seconds": scale.throughput_seconds,
        "jobs_per_second": len(counted) / scale.throughput_seconds,
        "jobs_finished": len(counted),
        "errors": job_errors(done),
        "deferral": spread([j.deferral for j in in_window if j.deferral is not None]),
        "end_to_end": spread([e for j in in_window if (e := j.end_to_end) is not None]),
        **window.figures(),
    }


async def throughput(ctx: Context) -> dict[str, Any]:
    """Closed loop: each simulated member sends its next /imagine as soon as the last one's
    images arrived; n=1, 1024x1024, Images API answering at once."""
    runs = [await throughput_run(ctx, "solid colour (tiny)", None)]
    print("  tiny images: done")
    if ctx.scale.throughput_realistic:
        runs.append(await throughput_run(ctx, "noisy PNG ~2.2 MB", ctx.pngs))
        print("  realistic images: done")
    return {"runs": runs}


# --- 4. memory ---------------------------------------------------------------------------------


async def memory_run(ctx: Context, concurrency: int) -> dict[str, Any]:
    scale = ctx.scale
    settings = {
        **HIGH_LIMITS,
        **B64_MODEL,
        "MAX_CONCURRENT_REQUESTS": str(concurrency),
    }
    samples: list[tuple[float, int]] = []
    async with (
        world(members=scale.memory_jobs, latency=ctx.latency, pngs=ctx.pngs) as w,
        ctx.bot(w, f"memory-c{concurrency}", settings) as bot,
    ):
        baseline = bot.status_kib("VmRSS")

        async def sample() -> None:
            while True:
                samples.append((time.monotonic(), bot.status_kib("VmRSS")))
                await asyncio.sleep(0.02)

        sampler = asyncio.create_task(sample())
        window = Window(bot)
        jobs = await asyncio.gather(
            *(
                run_job(w.discord, w.members[i], tag=f"m-{i}", n=10, timeout=scale.job_timeout)
                for i in range(scale.memory_jobs)
            )
        )
        window.close()
        sampler.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampler
        peak = bot.status_kib("VmHWM")
    return {
        "jobs": len(jobs),
        "n": 10,
        "max_concurrent_requests": concurrency,
        "errors": job_errors(jobs),
        "rss_ready_mib": baseline / 1024,
        "rss_peak_mib": peak / 1024,
        "ru_maxrss_mib": bot.stats.ru_maxrss_kib / 1024,
        "rss_sampled_max_mib": max((kib for _, kib in samples), default=0) / 1024,
        # (seconds since the jobs were sent, MiB), every 20 ms, thinned to at most 300 points
        "rss_timeline": [
            (round(at - window.start, 3), round(kib / 1024, 1))
            for at, kib in samples[:: max(1, len(samples) // 300)]
        ],
        "end_to_end": spread([e for j in jobs if (e := j.end_to_end) is not None]),
        **window.figures(),
    }


async def memory(ctx: Context) -> dict[str, Any]:
    """50 members each ask for n=10 at once; the Images API answers realistic PNGs (base64)
    after the configured latency. Concurrency 4 is the default MAX_CONCURRENT_REQUESTS (the
    rest wait in the queue); 50 sends every request upstream at once."""
    runs = []
    for concurrency in ctx.scale.memory_concurrency:
        runs.append(await memory_run(ctx, concurrency))
        print(f"  MAX_CONCURRENT_REQUESTS={concurrency}: done")
    return {
        "upstream_latency": ctx.latency,
        "images": "noisy PNG, ~2.2 MB each, base64 (gpt-image-1)",
        "runs": runs,
    }


# --- 6. prepare --------------------------------------------------------------------------------


def photo_and_mask(side: int = 3000) -> tuple[bytes, bytes]:
    """A ~4 MB photo-like JPEG of side x side and an RGBA PNG mask with a transparent hole."""
    buffer = io.BytesIO()
    noisy_image((side, side), 10.0, 0).save(buffer, format="JPEG", quality=94)
    mask = Image.new("RGBA", (side, side), (255, 255, 255, 255))
    ImageDraw.Draw(mask).rectangle((side // 4, side // 4, side // 2, side // 2), (0, 0, 0, 0))
    mask_buffer = io.BytesIO()
    mask.save(mask_buffer, format="PNG")
    return buffer.getvalue(), mask_buffer.getvalue()


def prepare(ctx: Context) -> dict[str, Any]:
    """Time the DALL-E 2 normalisation of a 4 MB photo (in this process; nothing else runs)."""
    from bot import imaging
    from bot.images.profiles import build_profile

    photo, mask = photo_and_mask()
    profile = build_profile("dall-e-2", "dall-e-2")
    limits = imaging.Limits(max_bytes=25 * MIB, max_pixels=40_000_000)
    cases: dict[str, Callable[[], Any]] = {
        "prepare_edit (photo + mask)": lambda: imaging.prepare_edit(photo, mask, profile, limits),
        "prepare_variation (photo)": lambda: imaging.prepare_variation(photo, profile, limits),
    }
    runs = []
    for name, call in cases.items():
        result = call()  # warm-up: Pillow's plugins load on first use
        times = []
        for _ in range(ctx.scale.prepare_runs):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        first = result[0] if isinstance(result, tuple) else result
        runs.append(
            {
                "case": name,
                "seconds": spread(times),
                "output_bytes": len(first.data),
                "output": first.filename,
            }
        )
    return {
        "photo_bytes": len(photo),
        "photo_size": "3000x3000 JPEG (quality 94)",
        "mask_bytes": len(mask),
        "runs": runs,
    }


# --- the table ---------------------------------------------------------------------------------


def ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"


def judge(value: float | None, target: float) -> str:
    if value is None:
        return "n/a"
    return "pass" if value < target else "MISS"


def deferral_text(run: dict[str, Any]) -> str:
    d = run["deferral"]
    text = f"p50 {ms(d['p50'])}, p99 {ms(d['p99'])}, max {ms(d['max'])}"
    if run.get("bursts", 1) > 1:
        low, high = min(run["bursts_p99"]), max(run["bursts_p99"])
        text += f" (median of {run['bursts']} bursts; their p99 {ms(low)} to {ms(high)})"
    if run["errors"]:
        text += f", {sum(run['errors'].values())} failed"
    return text


def table(figures: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(measure, value, target, verdict) rows."""
    rows: list[tuple[str, str, str, str]] = []
    lags: list[tuple[str, dict[str, Any]]] = []
    if "deferral" in figures:
        runs = figures["deferral"]["runs"]
        reference = figures["deferral"].get("reference")
        for run in [*runs, *([reference] if reference else [])]:
            label = "1 at a time" if run["at_once"] == 1 else f"{run['at_once']} at once"
            target, verdict = "", ""
            if run is reference:
                label += ", discord.py alone (reference)"
            elif run["at_once"] == max(r["at_once"] for r in runs):
                target = f"p99 < {ms(DEFERRAL_P99_TARGET)}"
                verdict = judge(run["deferral"]["p99"], DEFERRAL_P99_TARGET)
            rows.append((f"1 deferral, {label}", deferral_text(run), target, verdict))
            if run is not reference:
                lags.append((f"deferral {label}", run))
    if "overhead" in figures:
        for run in figures["overhead"]["runs"]:
            o = run["overhead"]
            target, verdict = "", ""
            if run["n"] == 4:
                target = f"p50 < {ms(OVERHEAD_P50_TARGET)}"
                verdict = judge(o["p50"], OVERHEAD_P50_TARGET)
            fmt = "base64" if run["format"] == "b64_json" else "URL"
            errors = f", {sum(run['errors'].values())} failed" if run["errors"] else ""
            rows.append(
                (
                    f"2 overhead, n={run['n']}, {fmt}",
                    f"p50 {ms(o['p50'])}, p99 {ms(o['p99'])}{errors}",
                    target,
                    verdict,
                )
            )
            lags.append((f"overhead n={run['n']} {fmt}", run))
    if "throughput" in figures:
        for run in figures["throughput"]["runs"]:
            errors = f", {sum(run['errors'].values())} failed" if run["errors"] else ""
            rows.append(
                (
                    f"3 throughput, {run['images']}",
                    f"{run['jobs_per_second']:.1f} jobs/s (bot CPU "
                    f"{run['bot_cpu_percent']:.0f}%, fakes {run['fakes_cpu_percent']:.0f}%)"
                    f"{errors}",
                    "",
                    "",
                )
            )
            lags.append((f"throughput {run['images']}", run))
    if "memory" in figures:
        for run in figures["memory"]["runs"]:
            concurrency = run["max_concurrent_requests"]
            errors = f", {sum(run['errors'].values())} failed" if run["errors"] else ""
            rows.append(
                (
                    f"4 peak RSS, 50 x n=10, {concurrency} upstream at once",
                    f"{run['rss_peak_mib']:.0f} MiB (idle {run['rss_ready_mib']:.0f} MiB){errors}",
                    f"< {PEAK_RSS_TARGET_MIB:.0f} MiB",
                    judge(run["rss_peak_mib"], PEAK_RSS_TARGET_MIB),
                )
            )
            lags.append((f"memory, {concurrency} upstream at once", run))
    for label, run in lags:
        lag = run["lag"]
        rows.append(
            (
                f"5 event-loop lag, {label}",
                f"p99 {ms(lag['p99'])}, max {ms(lag['max'])}",
                f"p99 < {ms(LAG_P99_TARGET)}",
                judge(lag["p99"], LAG_P99_TARGET),
            )
        )
    if "prepare" in figures:
        for run in figures["prepare"]["runs"]:
            s = run["seconds"]
            rows.append(
                (
                    f"6 {run['case']}, 4 MB 3000x3000 JPEG",
                    f"p50 {ms(s['p50'])}, max {ms(s['max'])}",
                    "",
                    "",
                )
            )
    return rows


def render(rows: Sequence[tuple[str, str, str, str]]) -> str:
    header = ("measure", "value", "target", "result")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(4)]
    lines = [
        " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(header)).rstrip(),
        "-+-".join("-" * width for width in widths),
    ]
    lines += [" | ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in rows]
    return "\n".join(lines)


def markdown(rows: Sequence[tuple[str, str, str, str]]) -> str:
    lines = ["| measure | value | target | result |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    return "\n".join(lines)


def performance_section(report: dict[str, Any], rows: Sequence[tuple[str, str, str, str]]) -> str:
    """The README's "Performance" section for this run, in Markdown."""
    info = report["machine"]
    settings = report["settings"]
    return "\n".join(
        [
            "## Performance",
            "",
            "`.venv/bin/python -m bench` runs the real bot (in its own process) against the fake "
            "Discord and the fake Images API on 127.0.0.1 and prints these figures "
            "(`--quick` for a shorter smoke run; bench/README.md says how each is measured).",
            "",
            f"Machine: {info['cpus']} CPUs (`nproc`), {info['cpu_model']}, "
            f"Python {info['python']}; discord.py {info['packages']['discord.py']}, "
            f"aiohttp {info['packages']['aiohttp']}, Pillow {info['packages']['pillow']}, "
            f"uvloop {info['packages']['uvloop']} (the bot's event loop), "
            f"orjson {info['packages']['orjson']}. "
            f"Commit {info['commit']}"
            + (" with uncommitted changes" if info["uncommitted_changes"] else "")
            + f", {report['mode']} run of {report['when']}; fake Images API latency "
            f"{settings['latency']:g} s; realistic results are noisy 1024x1024 PNGs of about "
            "2.2 MB.",
            "",
            markdown(rows),
            "",
        ]
    )


# --- machine -----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break

    def git(*args: str) -> str:
        try:
            return subprocess.run(  # noqa: S603 - fixed git arguments
                ["git", *args],  # noqa: S607
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=10,
                check=False,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    import os

    return {
        "cpus": os.cpu_count(),
        "cpu_model": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": {
            name: metadata.version(name)
            for name in ("discord.py", "aiohttp", "pillow", "uvloop", "orjson")
        },
        "commit": git("rev-parse", "--short", "HEAD"),
        "uncommitted_changes": [line for line in git("status", "--short").splitlines() if line],
    }


# --- main --------------------------------------------------------------------------------------


async def run_all(ctx: Context, only: Sequence[str]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    steps: dict[str, Callable[[Context], Any]] = {
        "deferral": deferral,
        "overhead": overhead,
        "throughput": throughput,
        "memory": memory,
    }
    for name in SCENARIOS:
        if name not in only:
            continue
        print(f"- {name}", flush=True)
        started = time.monotonic()
        if name == "prepare":
            figures[name] = prepare(ctx)
        else:
            async with asyncio.timeout(600):
                figures[name] = await steps[name](ctx)
        figures[name]["run_seconds"] = time.monotonic() - started
    return figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="a shorter smoke run (about 1.5 minutes)"
    )
    parser.add_argument(
        "--only",
        default=",".join(SCENARIOS),
        help=f"comma-separated scenarios to run (default: all of {','.join(SCENARIOS)})",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=1.0,
        help="the fake Images API's answer time in seconds (deferral, overhead, memory; "
        "throughput always uses 0)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run each bot under cProfile (slower: figures are not comparable); "
        "stats go to bench/results/profiles/",
    )
    parser.add_argument(
        "--bot-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an extra environment variable for every bot process, e.g. MALLOC_ARENA_MAX=2 "
        "or a setting (repeatable)",
    )
    parser.add_argument("--out", type=Path, default=RESULTS / "latest.json")
    args = parser.parse_args(argv)
    extra_env: dict[str, str] = {}
    for item in args.bot_env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            parser.error(f"--bot-env takes NAME=VALUE, not {item!r}")
        extra_env[name] = value
    only = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = sorted(set(only) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")
    if args.latency < 0 or args.latency > 60:
        parser.error("--latency must be between 0 and 60 seconds")

    scale = QUICK if args.quick else FULL
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(
        f"imagine-bot benchmark ({'quick' if args.quick else 'full'}): {info['cpus']} CPUs, "
        f"{info['cpu_model']}, Python {info['python']}, commit {info['commit']}"
        + (" with uncommitted changes" if info["uncommitted_changes"] else "")
    )
    needs_pngs = {"overhead", "throughput", "memory"} & set(only)
    pngs = realistic_pngs() if needs_pngs else []
    ctx = Context(
        scale=scale, latency=args.latency, profile=args.profile, pngs=pngs, bot_env=extra_env
    )
    started = time.monotonic()
    figures = asyncio.run(run_all(ctx, only))
    rows = table(figures)
    report = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "machine": info,
        "settings": {
            "latency": args.latency,
            "scale": scale.__dict__,
            "realistic_png_bytes": [len(p) for p in pngs],
            "profiled": args.profile,
            "bot_env": extra_env,
        },
        "figures": figures,
        "table": [
            dict(zip(("measure", "value", "target", "result"), r, strict=True)) for r in rows
        ],
        "seconds": time.monotonic() - started,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2))
    args.out.with_suffix(".md").write_text(performance_section(report, rows))
    print()
    print(render(rows))
    print()
    print(
        f"took {report['seconds']:.0f} s; figures written to {args.out} "
        f"(and a README section to {args.out.with_suffix('.md')})"
    )
    if args.profile:
        print(f"cProfile stats in {RESULTS / 'profiles'} (the figures above ran profiled)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
