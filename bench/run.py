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
  nearcap     the bot's peak RSS with 16 pictures at the pixel cap at once, through /vary
              (DALL-E 2) and /edit with a mask (GPT image), every job served or refused
  burst       300 /imagine at once, 2 s upstream, realistic results: drain time and peak RSS
  shards      jobs per second with 1, 2 and 4 processes sharing one Redis (and 1 on SQLite);
              one job at a time on Redis and on SQLite
The event loop's lag (how late a 10 ms sleep wakes up, inside the bot) is reported for every
load of the first four.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from bench.context import FULL, QUICK, RESULTS, SCENARIOS, Context
from bench.report import machine, performance_section, render, table
from bench.scenarios import run_all
from bench.world import realistic_pngs


def main(argv: Sequence[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    extra_env, only = checked_args(parser, args)
    scale = QUICK if args.quick else FULL
    RESULTS.mkdir(parents=True, exist_ok=True)
    info = machine()
    print(
        f"imagine-bot benchmark ({'quick' if args.quick else 'full'}): {info['cpus']} CPUs, "
        f"{info['cpu_model']}, Python {info['python']}, commit {info['commit']}"
        + (" with uncommitted changes" if info["uncommitted_changes"] else "")
    )
    needs_pngs = {"overhead", "throughput", "memory", "burst", "previews"} & set(only)
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


def make_parser() -> argparse.ArgumentParser:
    """The command line: --quick, --only, --latency, --profile, --bot-env, --out."""
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
    return parser


def checked_args(
    parser: argparse.ArgumentParser, args: argparse.Namespace
) -> tuple[dict[str, str], list[str]]:
    """The extra bot environment and the scenarios to run; exits with a usage error if wrong."""
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
    return extra_env, only


if __name__ == "__main__":
    sys.exit(main())
