"""Scenario of issue 12: live previews, 50 members at once.

Each member's `/imagine` (gpt-image-1, n=1, 1024x1024) is answered as a stream with two partial
images (`PREVIEW_PARTIAL_IMAGES=2`), realistic 1024x1024 PNGs, 0.5 s apart after 0.5 s. The
figure: the first partial image event written by the fake Images API -> the preview edit
(the PATCH of the "thinking" message with the picture) read whole by the fake Discord, for the
50 jobs; target p99 < 100 ms. The edit's arrival (its headers) is reported beside it.

The floor beside it: the same 50 members at once against a bot of discord.py alone
(`BENCH_BARE_DISCORD_PY=preview` in bench/launcher.py), which defers, waits the upstream's
0.5 s and edits its "thinking" message with a realistic 1024x1024 PNG of the same kind (made at
its start) as `preview.png`, the 50 edits starting within milliseconds of each other. Timed the
same way but from the moment its edit starts (written in the edit's text), since it reads no
stream: the picture's bytes are already in hand, the fair equivalent of "the event written".
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from bench.context import HIGH_LIMITS, Context, job_errors, world
from bench.stats import Window, spread
from bench.world import run_job

MEMBERS = 50
UPSTREAM_SECONDS = 0.5
EVENT_SPACING = 0.5
PREVIEW_SETTINGS = {
    **HIGH_LIMITS,
    "IMAGE_MODEL": "gpt-image-1",
    "PREVIEW_PARTIAL_IMAGES": "2",
}
TARGET_P99 = 0.100


async def previews(ctx: Context) -> dict[str, Any]:
    """50 members at once, streamed answers with 2 previews each: realistic pictures (the
    figure), then tiny ones (what the same path costs without megabytes to carry), then the
    realistic ones again through discord.py alone (the floor)."""
    picture = ctx.pngs[0] if ctx.pngs else None
    realistic = await previews_run(ctx, "realistic", picture)
    print("  our bot, realistic pictures: done")
    tiny = await previews_run(ctx, "tiny", None)
    print("  our bot, tiny pictures: done")
    bare = {"BENCH_BARE_DISCORD_PY": "preview", "BENCH_BARE_WAIT": str(UPSTREAM_SECONDS)}
    alone = await previews_run(ctx, "discord.py-alone", picture, bare)
    print("  discord.py alone, realistic pictures: done")
    return {**realistic, "tiny": tiny, "reference": alone}


async def previews_run(
    ctx: Context, name: str, picture: bytes | None, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """One run: every streamed event carries `picture` (None: the fake's tiny solid PNG)."""
    async with world(members=MEMBERS, latency=UPSTREAM_SECONDS, pngs=ctx.pngs) as w:
        w.api.stream_event_delay = EVENT_SPACING
        if picture is not None:
            w.api.stream_b64 = base64.b64encode(picture).decode()
        async with ctx.bot(w, f"previews-{name}", {**PREVIEW_SETTINGS, **(env or {})}) as bot:
            window = Window(bot)
            jobs = await asyncio.gather(
                *(
                    run_job(w.discord, member, tag=f"p-{i}", n=1, timeout=ctx.scale.job_timeout)
                    for i, member in enumerate(w.members)
                )
            )
            window.close()
            peak = bot.status_kib("VmHWM")  # what previews outside the byte budget cost
        arrived, read = _floor_latencies(w) if env else _preview_latencies(w)
    return {
        "jobs": len(jobs),
        "picture_bytes": len(picture) if picture is not None else None,
        "errors": job_errors(jobs),
        "previews_measured": len(read),
        "first_preview_read": spread(read),
        "first_preview_arrived": spread(arrived),
        "first_preview_read_each": sorted(read),
        "target_p99_seconds": TARGET_P99,
        "rss_peak_mib": peak / 1024,
        **window.figures(),
    }


def _preview_latencies(w: Any) -> tuple[list[float], list[float]]:
    """Per job: first partial event written -> the preview edit's arrival, and its body read."""
    by_tag: dict[str, float] = {}
    for request in w.api.requests:
        sent = w.api.partials_sent.get(request.request_id)
        if sent:
            by_tag[str(request.fields.get("prompt", "")).split(" ", 1)[0]] = sent[0]
    arrived: list[float] = []
    read: list[float] = []
    for interaction in w.discord.interactions:
        prompt = _prompt_of(interaction)
        first_sent = by_tag.get(prompt.split(" ", 1)[0])
        if first_sent is None:
            continue
        edits = [
            r
            for r in interaction.original_edits
            if r.files and all(f.filename.startswith("preview.") for f in r.files)
        ]
        if edits and edits[0].at >= first_sent:
            arrived.append(edits[0].at - first_sent)
            if edits[0].body_at is not None:
                read.append(edits[0].body_at - first_sent)
    return arrived, read


def _floor_latencies(w: Any) -> tuple[list[float], list[float]]:
    """Per job of the discord.py-alone bot: its edit started (its text says when) -> the edit's
    arrival, and its body read."""
    arrived: list[float] = []
    read: list[float] = []
    for interaction in w.discord.interactions:
        for edit in interaction.original_edits:
            started = str((edit.json or {}).get("content") or "")
            if not edit.files or not started.startswith("started "):
                continue
            began = float(started.split(" ", 1)[1])
            arrived.append(edit.at - began)
            if edit.body_at is not None:
                read.append(edit.body_at - began)
    return arrived, read


def _prompt_of(interaction: Any) -> str:
    for option in interaction.payload.get("data", {}).get("options", []):
        if option.get("name") == "prompt":
            return str(option.get("value", ""))
    return ""
