"""Scenarios of issue 10: near-cap pictures from many members at once, and a wide burst.

- `nearcap`: 16 members at once attach pictures at the default pixel cap (a square palette PNG
  of a few KB, and a JPEG of the same size), through /vary (DALL-E 2) and /edit with a mask
  (GPT image); the bot's peak RSS, and every job served or refused clearly.
- `burst`: 300 members type /imagine at the same moment, the Images API answers after 2 s with
  realistic 1024x1024 PNGs, limits raised: how long the burst takes to drain, against the
  upstream's time, and the peak RSS.
"""

from __future__ import annotations

import asyncio
import io
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from PIL import Image, ImageDraw

from bench.context import B64_MODEL, HIGH_LIMITS, Context, World, job_errors, world
from bench.stats import Window, rss_samples, rss_timeline, spread
from bench.world import Job, UpstreamCall, run_job
from bot.config.table import MAX_IMAGE_PIXELS
from tests.fakes.discord import FakeMember
from tests.fakes.discord.models import SeenMessage

# The largest square picture the default MAX_IMAGE_PIXELS lets in (5000x5000 at 25 million; the
# issue's 6300x6300 at the earlier 40 million).
NEAR_CAP_SIDE = math.isqrt(MAX_IMAGE_PIXELS.default)
NEAR_CAP_MEMBERS = 16
BURST_MEMBERS = 300
BURST_UPSTREAM_SECONDS = 2.0
_EPHEMERAL = 64


# --- the pictures ------------------------------------------------------------------------------


@cache
def near_cap_pictures() -> dict[str, bytes]:
    """A palette PNG of a few dozen KB, a JPEG of the same size, and a mask for them."""
    side = NEAR_CAP_SIDE
    palette = Image.new("P", (side, side), 0)
    # Four colours: Pillow writes 2 bits a pixel, so the file is tiny and the pixels are not.
    palette.putpalette([30, 60, 90, 200, 40, 40, 240, 220, 60, 20, 160, 80])
    draw = ImageDraw.Draw(palette)
    for index, left in enumerate(range(0, side, side // 8)):
        draw.rectangle((left, 0, left + side // 16, side - 1), fill=index % 3 + 1)
    png = _saved(palette, "PNG", optimize=True)
    with palette.convert("RGB") as rgb:
        jpeg = _saved(rgb, "JPEG", quality=90)
    mask = Image.new("LA", (side, side), (255, 255))
    ImageDraw.Draw(mask).rectangle((side // 4, side // 4, side // 2, side // 2), (0, 0))
    return {"png": png, "jpeg": jpeg, "mask": _saved(mask, "PNG", optimize=True)}


def _saved(image: Image.Image, fmt: str, **params: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


# --- one member's picture job ------------------------------------------------------------------


@dataclass
class PictureJob:
    """/vary or /edit with attachments, as the fake Discord saw it."""

    tag: str
    outcome: str = "timeout"  # "served", "refused" (a private message) or "timeout"
    text: str = ""
    seconds: float | None = None


def _answered(seen: SeenMessage) -> bool:
    """The result (files that are not a live preview), or a private answer posted as a message
    of its own (a refusal); not the waiting states edited into the private thinking message."""
    result = any(not file.filename.startswith("preview.") for file in seen.files)
    return result or (bool(seen.flags & _EPHEMERAL) and seen.via != "edit_original")


async def picture_job(
    w: World, member: FakeMember, command: str, files: dict[str, bytes], timeout: float
) -> PictureJob:
    """A member sends `command` with `files` ({"image": ..., "mask": ...}) attached."""
    job = PictureJob(f"{command}-{member.user.id}")
    options: dict[str, Any] = {"prompt": f"{job.tag} a bench picture"} if command == "edit" else {}
    for option, data in files.items():
        kind = "jpg" if data.startswith(b"\xff\xd8") else "png"
        options[option] = w.discord.add_attachment(data, f"{option}.{kind}")
    try:
        async with asyncio.timeout(timeout):
            interaction = await w.discord.invoke(command, options, user=member, timeout=timeout)
            seen = await interaction.wait_for_final(timeout, predicate=_answered)
    except TimeoutError:
        return job
    job.outcome = "served" if seen.files else "refused"
    job.text, job.seconds = seen.content[:200], seen.elapsed
    return job


# --- nearcap -----------------------------------------------------------------------------------


async def nearcap_run(ctx: Context, model: str, command: str) -> dict[str, Any]:
    pictures = near_cap_pictures()
    half = NEAR_CAP_MEMBERS // 2
    mask = {"mask": pictures["mask"]} if command == "edit" else {}
    attached = [{"image": pictures["png"], **mask}] * half + [{"image": pictures["jpeg"]}] * half
    async with (
        world(members=NEAR_CAP_MEMBERS, latency=ctx.latency, pngs=None) as w,
        ctx.bot(w, f"nearcap-{command}", {**HIGH_LIMITS, "IMAGE_MODEL": model}) as bot,
    ):
        idle = bot.status_kib("VmRSS")
        window = Window(bot)
        jobs = await asyncio.gather(
            *(
                picture_job(w, member, command, files, ctx.scale.job_timeout)
                for member, files in zip(w.members, attached, strict=True)
            )
        )
        window.close()
        peak = bot.status_kib("VmHWM")
    return {
        "model": model,
        "command": command,
        "jobs": len(jobs),
        "outcomes": dict(Counter(job.outcome for job in jobs)),
        "refusals": sorted({job.text for job in jobs if job.outcome == "refused"}),
        "seconds": spread([job.seconds for job in jobs if job.seconds is not None]),
        "rss_ready_mib": idle / 1024,
        "rss_peak_mib": peak / 1024,
        **window.figures(),
    }


async def nearcap(ctx: Context) -> dict[str, Any]:
    """16 near-cap pictures at once, through /vary (DALL-E 2) and /edit with a mask (GPT)."""
    runs = []
    for model, command in (("dall-e-2", "vary"), ("gpt-image-1", "edit")):
        runs.append(await nearcap_run(ctx, model, command))
        print(f"  {model} /{command}: done")
    pictures = near_cap_pictures()
    return {
        "upstream_latency": ctx.latency,
        "pictures": f"{NEAR_CAP_SIDE}x{NEAR_CAP_SIDE}: palette PNG {len(pictures['png'])} B, "
        f"JPEG {len(pictures['jpeg'])} B, mask {len(pictures['mask'])} B; half PNG, half JPEG",
        "runs": runs,
    }


# --- burst -------------------------------------------------------------------------------------


async def burst(ctx: Context) -> dict[str, Any]:
    """300 members at once, 2 s upstream, realistic 1024x1024 PNGs, limits raised; then the
    same burst against discord.py and aiohttp alone (asking, decoding, posting; nothing of
    ours): the floor this machine and the fakes set."""
    ours = await burst_run(ctx, "burst", {})
    print("  our bot: done")
    obvious = await burst_run(ctx, "burst-discord.py-alone", {"BENCH_BARE_DISCORD_PY": "post"})
    print("  discord.py alone, asking and posting: done")
    wait = str(BURST_UPSTREAM_SECONDS)
    upload = {"BENCH_BARE_DISCORD_PY": "upload", "BENCH_BARE_WAIT": wait}
    floor = await burst_run(ctx, "burst-discord.py-upload-only", upload)
    print("  discord.py alone, posting only: done")
    return {**ours, "reference": obvious, "floor": floor}


async def burst_run(ctx: Context, name: str, env: dict[str, str]) -> dict[str, Any]:
    async with (
        world(members=BURST_MEMBERS, latency=BURST_UPSTREAM_SECONDS, pngs=ctx.pngs) as w,
        ctx.bot(w, name, {**HIGH_LIMITS, **B64_MODEL, **env}) as bot,
    ):
        idle = bot.status_kib("VmRSS")
        window = Window(bot)
        async with rss_samples(bot) as samples:
            jobs = await asyncio.gather(
                *(
                    run_job(w.discord, member, tag=f"w-{i}", n=1, timeout=ctx.scale.job_timeout)
                    for i, member in enumerate(w.members)
                )
            )
        window.close()
        peak = bot.status_kib("VmHWM")
    drain = _drain_seconds(jobs)
    calls = [call for calls in w.api.calls.values() for call in calls]
    return {
        "jobs": len(jobs),
        "upstream_seconds": BURST_UPSTREAM_SECONDS,
        "errors": job_errors(jobs),
        "drain_seconds": drain,
        "drain_ratio": None if drain is None else drain / BURST_UPSTREAM_SECONDS,
        "end_to_end": spread([e for job in jobs if (e := job.end_to_end) is not None]),
        "timeline": _timeline(jobs, calls),
        "rss_ready_mib": idle / 1024,
        "rss_peak_mib": peak / 1024,
        "rss_timeline": rss_timeline(samples, window.start),
        **window.figures(),
    }


def _timeline(jobs: Sequence[Job], calls: Sequence[UpstreamCall]) -> dict[str, Any]:
    """Where the drain goes, in seconds from the first INTERACTION_CREATE sent: the first and
    the last deferral, request reaching the Images API, answer written, upload begun and
    upload read by the fake Discord, and images shown."""
    sent = [job.sent_at for job in jobs if job.sent_at is not None]
    if not sent:
        return {}
    start = min(sent)

    def span(times: Sequence[float | None]) -> list[float] | None:
        known = [at - start for at in times if at is not None]
        return [min(known), max(known)] if known else None

    return {
        "deferred": span([j.sent_at + j.deferral for j in jobs if j.sent_at and j.deferral]),
        "upstream_arrived": span([call.arrived for call in calls]),
        "upstream_answered": span([call.answered for call in calls]),
        "upload_begun": span([job.final_request_at for job in jobs]),
        "upload_read": span([job.delivered_at for job in jobs]),
        "shown": span([job.final_at for job in jobs]),
    }


def _drain_seconds(jobs: Sequence[Job]) -> float | None:
    """The first INTERACTION_CREATE sent -> the last job's images shown."""
    sent = [job.sent_at for job in jobs if job.sent_at is not None]
    shown = [job.final_at for job in jobs if job.final_at is not None]
    if not sent or len(shown) < len(jobs):
        return None
    return max(shown) - min(sent)
