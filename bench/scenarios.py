"""The scenarios: deferral, overhead, throughput, memory and prepare, each returning figures
(nearcap and burst are in `bench.hostile`)."""

from __future__ import annotations

import asyncio
import io
import math
import time
from collections.abc import Callable, Sequence
from typing import Any

from PIL import Image, ImageDraw

from bench.clicks import clicks
from bench.context import (
    B64_MODEL,
    HIGH_LIMITS,
    SCENARIOS,
    URL_MODEL,
    Context,
    World,
    job_errors,
    world,
)
from bench.hostile import burst, nearcap
from bench.previews import previews
from bench.shards import shards
from bench.stats import Window, rss_samples, rss_timeline, spread
from bench.world import BenchImagesAPI, Job, noisy_image, run_job

MIB = 1024 * 1024


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
    async with (
        world(members=scale.memory_jobs, latency=ctx.latency, pngs=ctx.pngs) as w,
        ctx.bot(w, f"memory-c{concurrency}", settings) as bot,
    ):
        baseline = bot.status_kib("VmRSS")
        window = Window(bot)
        async with rss_samples(bot) as samples:
            jobs = await asyncio.gather(
                *(
                    run_job(w.discord, w.members[i], tag=f"m-{i}", n=10, timeout=scale.job_timeout)
                    for i in range(scale.memory_jobs)
                )
            )
        window.close()
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
        "rss_timeline": rss_timeline(samples, window.start),
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


# --- main --------------------------------------------------------------------------------------


async def run_all(ctx: Context, only: Sequence[str]) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    steps: dict[str, Callable[[Context], Any]] = {
        "deferral": deferral,
        "overhead": overhead,
        "throughput": throughput,
        "memory": memory,
        "nearcap": nearcap,
        "burst": burst,
        "previews": previews,
        "clicks": clicks,
        "shards": shards,
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
