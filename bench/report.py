"""The report: the table of figures beside their targets, the README section, the machine."""

from __future__ import annotations

import contextlib
import platform
import subprocess
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.world import REPO

# Targets on the reference machine (2 cores); a figure is compared with its target if it has one.
DEFERRAL_P99_TARGET = 0.100  # with 500 interactions at once
OVERHEAD_P50_TARGET = 0.030  # per job at n=4, 1024x1024
PEAK_RSS_TARGET_MIB = 300.0  # 50 jobs of n=10 in flight
LAG_P99_TARGET = 0.020  # throughout
HOSTILE_RSS_TARGET_MIB = 400.0  # 16 near-cap pictures at once; the 300-member burst
DRAIN_RATIO_TARGET = 1.6  # the 300-member burst's drain time / the upstream's time


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


Row = tuple[str, str, str, str]  # (measure, value, target, verdict)
Lags = list[tuple[str, dict[str, Any]]]  # (label, run): the runs whose event-loop lag is shown


def table(figures: dict[str, Any]) -> list[Row]:
    """(measure, value, target, verdict) rows."""
    rows: list[Row] = []
    lags: Lags = []
    sections: tuple[tuple[str, Callable[[dict[str, Any], Lags], list[Row]]], ...] = (
        ("deferral", deferral_rows),
        ("overhead", overhead_rows),
        ("throughput", throughput_rows),
        ("memory", memory_rows),
    )
    for name, rows_of in sections:
        if name in figures:
            rows += rows_of(figures[name], lags)
    rows += lag_rows(lags)
    if "prepare" in figures:
        rows += prepare_rows(figures["prepare"])
    if "nearcap" in figures:
        rows += nearcap_rows(figures["nearcap"])
    if "shards" in figures:
        rows += shards_rows(figures["shards"])
    if "burst" in figures:
        rows += burst_rows(figures["burst"])
    if "previews" in figures:
        rows += preview_rows(figures["previews"])
    if "clicks" in figures:
        rows += click_rows(figures["clicks"])
    return rows


def deferral_rows(figure: dict[str, Any], lags: Lags) -> list[Row]:
    """Deferral: one at a time, then each burst (the biggest against its target)."""
    rows: list[Row] = []
    runs = figure["runs"]
    reference = figure.get("reference")
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
    return rows


def overhead_rows(figure: dict[str, Any], lags: Lags) -> list[Row]:
    """The bot's own time per job, per image format and n."""
    rows: list[Row] = []
    for run in figure["runs"]:
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
    return rows


def throughput_rows(figure: dict[str, Any], lags: Lags) -> list[Row]:
    """Jobs per second, with the CPU the bot and the fakes used."""
    rows: list[Row] = []
    for run in figure["runs"]:
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
    return rows


def memory_rows(figure: dict[str, Any], lags: Lags) -> list[Row]:
    """Peak RSS per upstream concurrency."""
    rows: list[Row] = []
    for run in figure["runs"]:
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
    return rows


def lag_rows(lags: Lags) -> list[Row]:
    """The event loop's lag during each run of the scenarios above."""
    rows: list[Row] = []
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
    return rows


def prepare_rows(figure: dict[str, Any]) -> list[Row]:
    """prepare_edit / prepare_variation times."""
    rows: list[Row] = []
    for run in figure["runs"]:
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


def nearcap_rows(figure: dict[str, Any]) -> list[Row]:
    """Peak RSS with 16 near-cap pictures, per model and command, with what members got."""
    rows: list[Row] = []
    for run in figure["runs"]:
        outcomes = ", ".join(f"{count} {name}" for name, count in sorted(run["outcomes"].items()))
        rows.append(
            (
                f"7 peak RSS, 16 near-cap pictures, /{run['command']} ({run['model']})",
                f"{run['rss_peak_mib']:.0f} MiB (idle {run['rss_ready_mib']:.0f} MiB); {outcomes}",
                f"< {HOSTILE_RSS_TARGET_MIB:.0f} MiB, none timed out",
                judge(run["rss_peak_mib"], HOSTILE_RSS_TARGET_MIB)
                if "timeout" not in run["outcomes"]
                else "MISS",
            )
        )
    return rows


def shards_rows(figure: dict[str, Any]) -> list[Row]:
    """Jobs per second by number of processes on one Redis; per-job time Redis vs SQLite."""
    rows: list[Row] = []
    for run in figure["runs"]:
        errors = f", {sum(run['errors'].values())} failed" if run["errors"] else ""
        rows.append(
            (
                f"10 throughput, {run['processes']} process(es) on {run['state']}, tiny images",
                f"{run['jobs_per_second']:.1f} jobs/s{errors}",
                "",
                "",
            )
        )
    for run in figure["per_job"]:
        e2e = run["end_to_end"]
        rows.append(
            (
                f"10 one job at a time, instant upstream, {run['state']}",
                f"p50 {ms(e2e['p50'])}, p99 {ms(e2e['p99'])}",
                "",
                "",
            )
        )
    return rows


def burst_rows(figure: dict[str, Any]) -> list[Row]:
    """The 300-member burst: drain time against the upstream's, and peak RSS."""
    ratio = figure["drain_ratio"]
    errors = f", {sum(figure['errors'].values())} failed" if figure["errors"] else ""
    drained = "-" if ratio is None else f"{figure['drain_seconds']:.2f} s ({ratio:.2f}x)"
    return [
        (
            f"8 burst of {figure['jobs']}, {figure['upstream_seconds']:.0f} s upstream: drain",
            drained + errors,
            f"< {DRAIN_RATIO_TARGET}x",
            judge(ratio, DRAIN_RATIO_TARGET) if not errors else "MISS",
        ),
        (
            f"8 burst of {figure['jobs']}: peak RSS",
            f"{figure['rss_peak_mib']:.0f} MiB (idle {figure['rss_ready_mib']:.0f} MiB)",
            f"< {HOSTILE_RSS_TARGET_MIB:.0f} MiB",
            judge(figure["rss_peak_mib"], HOSTILE_RSS_TARGET_MIB),
        ),
        *_reference_row("discord.py + aiohttp alone, asking and posting", figure.get("reference")),
        *_reference_row("discord.py alone, posting only (floor)", figure.get("floor")),
    ]


def _reference_row(what: str, figure: dict[str, Any] | None) -> list[Row]:
    """The same burst against a bot of discord.py and aiohttp alone: no target."""
    if figure is None or figure["drain_ratio"] is None:
        return []
    value = f"{figure['drain_seconds']:.2f} s ({figure['drain_ratio']:.2f}x), "
    return [
        (f"8 same burst, {what}", value + f"{figure['rss_peak_mib']:.0f} MiB", "reference", "-")
    ]


def preview_rows(figure: dict[str, Any]) -> list[Row]:
    """Live previews: the first partial image event -> its preview edit read by Discord."""
    read = figure["first_preview_read"]
    errors = f", {sum(figure['errors'].values())} failed" if figure["errors"] else ""
    p99 = read["p99"]
    value = "-" if p99 is None else f"p99 {ms(p99)}, p50 {ms(read['p50'])}"
    rows = [
        (
            f"9 previews, {figure['jobs']} at once: first partial event -> preview edit",
            f"{value} ({figure['previews_measured']} measured){errors}",
            f"p99 < {ms(figure['target_p99_seconds'])}",
            judge(p99, figure["target_p99_seconds"]) if not errors else "MISS",
        )
    ]
    tiny = figure.get("tiny")
    if tiny is not None:
        small = tiny["first_preview_read"]
        rows.append(
            (
                "9 previews, the same with tiny pictures (reference)",
                f"p99 {ms(small['p99'])}, p50 {ms(small['p50'])}",
                "-",
                "-",
            )
        )
    alone = figure.get("reference")
    if alone is not None and alone["first_preview_read"]["p99"] is not None:
        floor = alone["first_preview_read"]
        measured = alone["previews_measured"]
        rows.append(
            (
                "9 previews, the same through discord.py alone (floor)",
                f"p99 {ms(floor['p99'])}, p50 {ms(floor['p50'])} ({measured} measured)",
                "reference",
                "-",
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


def click_rows(figure: dict[str, Any]) -> list[Row]:
    """Result buttons: a Re-roll click -> its private deferral, 50 at once."""
    spread_ = figure["click_to_deferral"]
    p99 = spread_["p99"]
    errors = f", {figure['errors']} failed" if figure["errors"] else ""
    value = "-" if p99 is None else f"p99 {ms(p99)}, p50 {ms(spread_['p50'])}"
    return [
        (
            f"12 Re-roll clicks, {figure['clicks']} at once: click -> deferral",
            f"{value} ({figure['deferred']} deferred){errors}",
            f"p99 < {ms(figure['target_p99_seconds'])}",
            judge(p99, figure["target_p99_seconds"]) if not figure["errors"] else "MISS",
        )
    ]
