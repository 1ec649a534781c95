"""What every scenario runs in: its scale, fresh fakes with members, and the bot processes."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.world import API_KEY, REPO, BenchImagesAPI, BotProcess, Job, roomy_listen_backlog
from tests.fakes.discord import FakeDiscord, FakeMember

RESULTS = REPO / "bench" / "results"
SCENARIOS = (
    "deferral",
    "overhead",
    "throughput",
    "memory",
    "prepare",
    "nearcap",
    "burst",
    "previews",
    "clicks",
    "shards",
)

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
# base64 results from a GPT image model, previews off: the figures of scenarios 1-8 measure the
# final images' path, as they did before live previews (issue 12); `previews` measures those.
B64_MODEL = {"IMAGE_MODEL": "gpt-image-1", "PREVIEW_PARTIAL_IMAGES": "0"}
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
