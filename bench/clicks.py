"""Scenario of issue 12: 50 members click a result's Re-roll at once.

One member's `/imagine` (dall-e-2, n=1) makes a result; then 50 other members click its Re-roll
button together. Each click is a new request of the clicker (access, quota, the job record's
replay read from the state store), deferred privately before anything goes upstream. The
figure: the click's INTERACTION_CREATE sent by the fake Discord -> its deferral (type 5)
received, for the 50 clicks; target p99 < 50 ms. Every click's images must arrive too.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bench.context import HIGH_LIMITS, Context, world
from bench.stats import Window, spread
from tests.fakes.discord.models import SeenMessage

MEMBERS = 51  # the first asks, the other 50 click
UPSTREAM_SECONDS = 0.5
CLICK_SETTINGS = {**HIGH_LIMITS, "IMAGE_MODEL": "dall-e-2"}
TARGET_P99 = 0.050


def _has_files(seen: SeenMessage) -> bool:
    return bool(seen.files)


async def clicks(ctx: Context) -> dict[str, Any]:
    """A result, then 50 Re-roll clicks at once: click -> deferral, and every result arrives."""
    timeout = ctx.scale.job_timeout
    async with world(members=MEMBERS, latency=UPSTREAM_SECONDS, pngs=None) as w:
        asker, *clickers = w.members
        async with ctx.bot(w, "clicks", CLICK_SETTINGS) as bot:
            asked = await w.discord.invoke("imagine", {"prompt": "a fox", "n": 1}, user=asker)
            result = await asked.wait_for_final(timeout, predicate=_has_files)
            reroll = next(
                c["custom_id"]
                for row in result.components
                for c in row.get("components", [])
                if str(c.get("custom_id", "")).startswith("imagine:roll:")
            )
            window = Window(bot)
            sent = await asyncio.gather(
                *(
                    w.discord.click(result.message_id, reroll, user=member, timeout=timeout)
                    for member in clickers
                )
            )
            answers = await asyncio.gather(*(i.wait_for_response(timeout) for i in sent))
            finals = await asyncio.gather(
                *(i.wait_for_final(timeout, predicate=_has_files) for i in sent),
                return_exceptions=True,
            )
            window.close()
    deferrals = [a.elapsed for a in answers if a.type == 5 and a.elapsed is not None]
    return {
        "clicks": len(sent),
        "deferred": len(deferrals),
        "errors": sum(1 for f in finals if isinstance(f, BaseException))
        + sum(1 for a in answers if a.type != 5),
        "click_to_deferral": spread(deferrals),
        "target_p99_seconds": TARGET_P99,
        **window.figures(),
    }
