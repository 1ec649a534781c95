"""The bot's side of a benchmark: `python -m bench.launcher`, started by bench/world.py.

Does what `python -m bot` does (settings from the environment, logging, `bot.__main__.run`
on the configured event loop until SIGTERM), with three additions that only a benchmark needs:

- discord.py is pointed at the fake Discord whose URLs are in BENCH_DISCORD_API,
  BENCH_DISCORD_GATEWAY and BENCH_DISCORD_CDN (the fake patches discord.py only in its own
  process, and this is another one);
- a task sleeps 10 ms again and again and records how late it wakes up: the event loop's lag;
- at exit it writes the lag samples, its peak RSS and its CPU time to BENCH_STATS_FILE as JSON.

With BENCH_BARE_DISCORD_PY set it runs, instead of our bot, a discord.py bot whose /imagine only
defers: the reference point for the deferral burst. Two more reference points for the wide
burst, with aiohttp and discord.py alone and no check, limit or budget of ours: set to `post`,
its /imagine also asks the Images API, decodes the base64 and posts the files (the obvious
bot); set to `upload`, it only waits BENCH_BARE_WAIT seconds (the upstream's time) and posts
one realistic 1024x1024 PNG made at start: what delivering the files alone costs here. The
floor for live previews: set to `preview`, it waits the same way, then edits the "thinking"
message with that PNG as `preview.png`, its text the moment the edit started (time.monotonic()).

`.env` is not read, so a developer's own settings never leak into a benchmark. With
BENCH_CPROFILE set, the event loop's thread runs under cProfile and its stats are saved there.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import cProfile
import io
import json
import os
import resource
import sys
import time
from array import array
from pathlib import Path

import aiohttp
import yarl

from bench.world import realistic_pngs
from bot.__main__ import run, run_forever, settings_from_environment
from bot.config import Settings

LAG_INTERVAL = 0.010
_MAX_SAMPLES = 2_000_000  # ~5.5 hours at 100 a second: a bound, never reached by a run


class LagMonitor:
    """Sleeps `interval` seconds in a loop and records how late each wake-up was."""

    def __init__(self, interval: float = LAG_INTERVAL) -> None:
        self.interval = interval
        self.started = array("d")  # time.monotonic() when each sleep began (same clock as parent)
        self.late = array("d")  # seconds past the interval

    async def run(self) -> None:
        while len(self.started) < _MAX_SAMPLES:
            start = time.monotonic()
            await asyncio.sleep(self.interval)
            self.started.append(start)
            self.late.append(time.monotonic() - start - self.interval)


def point_discord_py_at(api_base: str, gateway_url: str, cdn_base: str) -> None:
    """What tests.fakes.discord.point_discord_py_at does, without importing the fake here."""
    from discord.asset import Asset
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    Route.BASE = api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    Asset.BASE = cdn_base


async def bare_discord_py(settings: Settings) -> None:
    """The reference point: a discord.py bot whose /imagine only defers, nothing of ours.

    Same library, same event loop, same fakes: what a burst costs before any of our code."""
    import signal

    import discord
    from discord import app_commands

    intents = discord.Intents.none()
    intents.guilds = True  # as the real bot: its channels and roles are cached
    client = discord.Client(intents=intents)
    tree = app_commands.CommandTree(client)
    guild = discord.Object(settings.discord_guild_id or 0)

    mode = os.environ.get("BENCH_BARE_DISCORD_PY")
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    api_key = settings.openai_api_key.reveal() if settings.openai_api_key else ""
    made: list[bytes] = []

    @tree.command(name="imagine", description="Defers, nothing else", guild=guild)
    async def imagine(
        interaction: discord.Interaction, prompt: str, n: int = 1, size: str | None = None
    ) -> None:
        await interaction.response.defer(thinking=True)
        if mode == "upload":
            await asyncio.sleep(float(os.environ["BENCH_BARE_WAIT"]))
            made_files = [discord.File(io.BytesIO(made[0]), f"image-{i}.png") for i in range(n)]
            await interaction.edit_original_response(attachments=made_files)
        if mode == "preview":
            await asyncio.sleep(float(os.environ["BENCH_BARE_WAIT"]))
            # The moment the edit starts, in its own words: the fake Discord records them, and
            # time.monotonic() is the same clock in every process of the machine.
            started = f"started {time.monotonic():.6f}"
            preview = discord.File(io.BytesIO(made[0]), "preview.png")
            await interaction.edit_original_response(content=started, attachments=[preview])
        if mode != "post":
            return
        fields = {"model": settings.image_model, "prompt": prompt, "n": n, "size": size}
        async with session.post(
            f"{settings.openai_base_url}/images/generations",
            json=fields,
            headers={"Authorization": f"Bearer {api_key}"},
        ) as response:
            answer = await response.json()
        files = [
            discord.File(io.BytesIO(base64.b64decode(item["b64_json"])), f"image-{i}.png")
            for i, item in enumerate(answer["data"])
        ]
        await interaction.edit_original_response(attachments=files)

    async def setup_hook() -> None:
        if mode in ("upload", "preview"):
            made.extend(await asyncio.to_thread(realistic_pngs, 1))
        await tree.sync(guild=guild)

    client.setup_hook = setup_hook  # type: ignore[method-assign]
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: asyncio.ensure_future(client.close()))
    async with session, client:
        await client.start(settings.discord_token.reveal())


async def _run(settings: Settings, monitor: LagMonitor) -> None:
    watcher = asyncio.create_task(monitor.run(), name="bench-lag-monitor")
    try:
        if os.environ.get("BENCH_BARE_DISCORD_PY"):
            await bare_discord_py(settings)
        else:
            await run(settings)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher


def _write_stats(path: Path, monitor: LagMonitor, error: str | None) -> None:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    stats = {
        "lag_started": monitor.started.tolist(),
        "lag_late": monitor.late.tolist(),
        "ru_maxrss_kib": usage.ru_maxrss,  # KiB on Linux
        "cpu_user": usage.ru_utime,
        "cpu_system": usage.ru_stime,
        "error": error,
    }
    path.write_text(json.dumps(stats))


def main() -> int:
    settings = settings_from_environment()
    if settings is None:
        return 2
    point_discord_py_at(
        os.environ["BENCH_DISCORD_API"],
        os.environ["BENCH_DISCORD_GATEWAY"],
        os.environ["BENCH_DISCORD_CDN"],
    )
    monitor = LagMonitor()
    profile_path = os.environ.get("BENCH_CPROFILE")
    profiler = cProfile.Profile() if profile_path else None
    error: str | None = None
    try:
        if profiler is not None:
            profiler.enable()
        run_forever(settings, _run(settings, monitor))
    except BaseException as exc:
        error = repr(exc)
        raise
    finally:
        if profiler is not None and profile_path:
            profiler.disable()
            profiler.dump_stats(profile_path)
        _write_stats(Path(os.environ["BENCH_STATS_FILE"]), monitor, error)
    return 0


if __name__ == "__main__":
    sys.exit(main())
