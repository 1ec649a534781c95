"""The benchmark's world: the two fakes in this process, the bot in a child process.

- `BenchImagesAPI` is the fake Images API from tests/fakes/ that also records, per request,
  its own time (arrival -> response written) and can answer with realistic images: noisy
  1024x1024 PNGs of about 2.2 MB each instead of the fake's tiny solid-colour ones.
- `BotProcess` starts `python -m bench.launcher` (the real entry point, `bot.__main__.run`)
  with settings that point at the fakes, waits until it has identified, and stops it with
  SIGTERM as an operator would. Its RSS and CPU time are read from /proc while it runs.
- `run_job` plays one member typing `/imagine` and waits for the images to arrive.

Everything listens and connects on 127.0.0.1 only; every wait has a timeout.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web
from PIL import Image, ImageChops

from tests.fakes.discord import FakeDiscord, FakeMember, SeenMessage
from tests.fakes.images_api import FakeImagesAPI, RecordedRequest

REPO = Path(__file__).resolve().parent.parent
API_KEY = "sk-bench-0123456789abcdefghij"
PROMPT = "a lighthouse on a cliff at dusk, oil painting"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_RECORDED = web.RequestKey("bench_recorded", RecordedRequest)


# --- images ------------------------------------------------------------------------------------


def noisy_image(size: tuple[int, int], sigma: float, seed: int) -> Image.Image:
    """A photo-like RGB image: smooth gradients with Gaussian noise, which compresses like a
    photograph (badly) rather than like a flat colour (to almost nothing)."""
    gradients = (
        Image.linear_gradient("L"),
        Image.radial_gradient("L"),
        Image.linear_gradient("L").rotate(90),
    )
    channels = []
    for index in range(3):
        base = gradients[(index + seed) % 3].resize(size)
        noise = Image.effect_noise(size, sigma)
        channels.append(ImageChops.add(base, noise, 1.0, -128))
    return Image.merge("RGB", channels)


def realistic_pngs(count: int = 4, side: int = 1024) -> list[bytes]:
    """`count` different noisy PNGs of side x side, about 2.2 MB each at 1024x1024 (what
    gpt-image-1 and DALL-E 2 return is 1.5-3 MB)."""
    images = []
    for seed in range(count):
        buffer = io.BytesIO()
        noisy_image((side, side), 8.0, seed).save(buffer, format="PNG")
        images.append(buffer.getvalue())
    return images


# --- listening ---------------------------------------------------------------------------------


class _RoomySite(web.TCPSite):
    """aiohttp's TCP site with a listen backlog of 1024 instead of 128."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("backlog", 1024)
        super().__init__(*args, **kwargs)


@contextlib.contextmanager
def roomy_listen_backlog() -> Iterator[None]:
    """Fakes started inside this block listen with a backlog of 1024.

    With aiohttp's default of 128, a burst of 500 new connections overflows the queue of
    connections the fake has not accepted yet; the kernel drops their SYNs and the bot's side
    retries after a whole second: a stall that a real Discord never causes, and that would
    decide the burst's p99 by luck.
    """
    original = web.TCPSite
    web.TCPSite = _RoomySite  # type: ignore[misc]
    try:
        yield
    finally:
        web.TCPSite = original  # type: ignore[misc]


# --- the fake Images API, timed ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    """One request as the fake Images API served it (parent's time.monotonic())."""

    tag: str  # the first word of the prompt: which job asked
    arrived: float
    answered: float  # the response was written to the socket
    status: int
    n: int

    @property
    def seconds(self) -> float:
        return self.answered - self.arrived


class BenchImagesAPI(FakeImagesAPI):
    """The strict fake Images API, timing each request, optionally with realistic images."""

    def __init__(self, *, pngs: list[bytes] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pngs = pngs  # None: the fake's own solid-colour images
        self.calls: dict[str, list[UpstreamCall]] = {}
        self._encoded = [base64.b64encode(png).decode() for png in pngs or []]
        self._bodies: dict[tuple[int, bool], bytes] = {}

    async def _record(self, request: web.Request, operation: Any) -> RecordedRequest:
        recorded = await super()._record(request, operation)
        request[_RECORDED] = recorded
        return recorded

    async def _handle_images(self, request: web.Request) -> web.StreamResponse:
        response = await super()._handle_images(request)
        # Write it here rather than after returning, to know when the answer left.
        with contextlib.suppress(ConnectionError):
            await response.prepare(request)
            await response.write_eof()
        answered = time.monotonic()
        recorded = request.get(_RECORDED)
        if recorded is not None:
            fields = recorded.fields
            prompt = str(fields.get("prompt") or "")
            tag = prompt.split(" ", 1)[0]
            call = UpstreamCall(
                tag, recorded.arrived, answered, response.status, int(fields.get("n") or 1)
            )
            self.calls.setdefault(tag, []).append(call)
        return response

    async def _answer_images(
        self, request: RecordedRequest, body: Mapping[str, Any], headers: Mapping[str, str]
    ) -> web.Response:
        size = body.get("size")
        if not self.pngs or (body.get("output_format") or "png") != "png" or size != "1024x1024":
            return await super()._answer_images(request, body, headers)
        rules = self.models[body["model"]]
        n = int(body.get("n") or 1)
        if self.result_mode == "auto":
            as_url = rules.returns_urls and body.get("response_format", "url") == "url"
        else:
            as_url = self.result_mode == "url"
        all_headers = {"x-request-id": request.request_id, **headers}
        if as_url:
            items = []
            for index in range(n):
                file_id = uuid.uuid4().hex
                # The same bytes object each time: serving many URLs costs no memory here.
                self._files[file_id] = (self.pngs[index % len(self.pngs)], "image/png")
                items.append({"url": f"{self.root_url}/files/{file_id}.png"})
            payload: dict[str, Any] = {"created": int(time.time()), "data": items}
            return web.json_response(payload, headers=all_headers)
        # Serialising 30 MB of JSON takes this process ~50 ms; build each body only once so
        # the fakes do not slow down what they measure.
        key = (n, rules.usage)
        cached = self._bodies.get(key)
        if cached is None:
            data = [{"b64_json": self._encoded[i % len(self._encoded)]} for i in range(n)]
            whole: dict[str, Any] = {"created": int(time.time()), "data": data}
            if rules.usage:
                whole["output_format"] = "png"
                whole["usage"] = {
                    "input_tokens": 20,
                    "output_tokens": 1000 * n,
                    "total_tokens": 20 + 1000 * n,
                    "input_tokens_details": {"text_tokens": 20, "image_tokens": 0},
                }
            cached = self._bodies[key] = json.dumps(whole).encode()
        return web.Response(body=cached, content_type="application/json", headers=all_headers)


# --- the bot in a child process ----------------------------------------------------------------


def bot_env(
    discord: FakeDiscord, api: FakeImagesAPI, data_dir: Path, settings: Mapping[str, str]
) -> dict[str, str]:
    """The child's whole environment: nothing of the developer's own bot settings."""
    env = {
        name: os.environ[name] for name in ("PATH", "HOME", "LANG", "TMPDIR") if name in os.environ
    }
    env.update(
        {
            "PYTHONPATH": str(REPO),
            "DISCORD_TOKEN": discord.token,
            "OPENAI_API_KEY": API_KEY,
            "OPENAI_BASE_URL": api.base_url,
            "DISCORD_GUILD_ID": str(discord.guild.id),
            "DATA_DIR": str(data_dir),
            "USER_ID_SALT": "a-bench-salt-that-is-long-enough",
            "SHUTDOWN_GRACE_SECONDS": "10",
            # The fake CDN stands in for Discord's: plain http on 127.0.0.1.
            "EXTRA_ATTACHMENT_ORIGINS": discord.cdn_base,
            "BENCH_DISCORD_API": discord.api_base,
            "BENCH_DISCORD_GATEWAY": discord.gateway_url,
            "BENCH_DISCORD_CDN": discord.cdn_base,
            "BENCH_STATS_FILE": str(data_dir / "bench-stats.json"),
        }
    )
    env.update(settings)
    return env


@dataclass
class ProcessStats:
    """What the launcher wrote at exit."""

    lag_started: list[float] = field(default_factory=list)
    lag_late: list[float] = field(default_factory=list)
    ru_maxrss_kib: int = 0
    cpu_seconds: float = 0.0
    error: str | None = None

    def lag_between(self, start: float, end: float) -> list[float]:
        return [
            late
            for began, late in zip(self.lag_started, self.lag_late, strict=True)
            if start <= began <= end
        ]


class BotProcess:
    """`python -m bench.launcher` against the fakes, from start until SIGTERM."""

    def __init__(
        self,
        discord: FakeDiscord,
        api: FakeImagesAPI,
        *,
        name: str,
        settings: Mapping[str, str],
        logs: Path,
        profile: Path | None = None,
        ready_timeout: float = 30.0,
    ) -> None:
        self.discord = discord
        self.api = api
        self.name = name
        self.settings = dict(settings)
        self.logs = logs
        self.profile = profile
        self.ready_timeout = ready_timeout
        self.data_dir = Path(tempfile.mkdtemp(prefix=f"imagine-bench-{name}-"))
        self.proc: asyncio.subprocess.Process | None = None
        self.stats = ProcessStats()
        self.ready_rss_kib = 0

    async def __aenter__(self) -> BotProcess:
        env = bot_env(self.discord, self.api, self.data_dir, self.settings)
        if self.profile is not None:
            env["BENCH_CPROFILE"] = str(self.profile)
        self.logs.mkdir(parents=True, exist_ok=True)
        generation = self.discord.ready_generation
        with (self.logs / f"{self.name}.log").open("wb") as log:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bench.launcher",
                cwd=self.data_dir,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
            )
        ready = asyncio.create_task(
            self.discord.wait_until_ready(self.ready_timeout, after=generation)
        )
        exited = asyncio.create_task(self.proc.wait())
        await asyncio.wait({ready, exited}, return_when=asyncio.FIRST_COMPLETED)
        if not ready.done() or ready.exception() is not None:
            ready.cancel()
            await self._stop()
            raise RuntimeError(
                f"the bot ({self.name}) did not become ready; see {self.logs / self.name}.log"
            )
        exited.cancel()
        # discord.py sends on_ready-independent events at once; settle for a moment.
        await asyncio.sleep(0.3)
        self.ready_rss_kib = self.status_kib("VmRSS")
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stop()

    async def _stop(self) -> None:
        proc = self.proc
        try:
            if proc is not None and proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 40)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            stats_file = self.data_dir / "bench-stats.json"
            if stats_file.exists():
                raw = json.loads(stats_file.read_text())
                self.stats = ProcessStats(
                    lag_started=raw["lag_started"],
                    lag_late=raw["lag_late"],
                    ru_maxrss_kib=raw["ru_maxrss_kib"],
                    cpu_seconds=raw["cpu_user"] + raw["cpu_system"],
                    error=raw["error"],
                )
        finally:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def status_kib(self, key: str) -> int:
        """A line of /proc/<pid>/status in KiB (VmRSS now, VmHWM the peak so far); 0 if gone."""
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith(key + ":"):
                    return int(line.split()[1])
        return 0

    def cpu_seconds(self) -> float:
        """User + system CPU time of the bot process so far (all its threads)."""
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
        return 0.0


# --- one member's job --------------------------------------------------------------------------


@dataclass
class Job:
    """One /imagine as the fake Discord saw it (parent's time.monotonic())."""

    tag: str
    n: int
    sent_at: float | None = None  # INTERACTION_CREATE written to the gateway
    callback_type: int | None = None
    deferral: float | None = None  # INTERACTION_CREATE written -> callback received
    final_at: float | None = None  # the message with the files arrived
    final_request_at: float | None = None  # the request carrying them reached the fake Discord
    delivered_at: float | None = None  # ... and its last byte had been read there
    files: int = 0
    error: str | None = None

    @property
    def end_to_end(self) -> float | None:
        if self.sent_at is None or self.final_at is None:
            return None
        return self.final_at - self.sent_at


def _has_files(seen: SeenMessage) -> bool:
    # A live preview (`preview.*`, an edit of the thinking message) is not the result.
    return any(not file.filename.startswith("preview.") for file in seen.files)


async def run_job(
    discord: FakeDiscord,
    member: FakeMember,
    *,
    tag: str,
    n: int,
    size: str = "1024x1024",
    timeout: float = 120.0,
    images: bool = True,
    channel_id: int | None = None,
) -> Job:
    """A member types `/imagine`; returns when the images arrived, or on error or timeout
    (with `images=False`, once the command has deferred)."""
    job = Job(tag, n)
    try:
        async with asyncio.timeout(timeout):
            interaction = await discord.invoke(
                "imagine",
                {"prompt": f"{tag} {PROMPT}", "n": n, "size": size},
                user=member,
                channel_id=channel_id,
                timeout=timeout,
            )
            job.sent_at = interaction.sent_at
            callback = await interaction.wait_for_response(timeout)
            job.callback_type, job.deferral = callback.type, callback.elapsed
            if callback.type != 5 or not callback.ok:
                job.error = f"callback type {callback.type} status {callback.status}"
                return job
            if not images:
                return job
            final = await interaction.wait_for_final(timeout, predicate=_has_files)
            job.final_at, job.files = final.at, len(final.files)
            # The result is a new (followup) message since refusals became private (issue 12);
            # an edit of the original with files is a live preview or an older bot's result.
            carrying = [r for r in interaction.followup_posts if r.files] or [
                r for r in interaction.original_edits if r.files
            ]
            if carrying:
                job.final_request_at = carrying[0].at
                job.delivered_at = carrying[0].body_at
            if job.files != n:
                job.error = f"{job.files} files instead of {n}"
    except TimeoutError:
        job.error = "timeout"
    return job
