"""Issue 14: health and Prometheus metrics on METRICS_ADDR, off by default.

The bot runs on the fakes; /healthz and /metrics are read over HTTP as Docker's healthcheck
and Prometheus would.
"""

from __future__ import annotations

import json
import re

import aiohttp
import pytest

from bot.metrics import HealthServer, Metrics
from tests.cogs.test_limits import delivered, imagine, refused_at_once
from tests.cogs.test_outbox import ORIGINAL
from tests.conftest import StartBot, _free_port
from tests.fakes.discord import FakeDiscord
from tests.fakes.images_api import FakeImagesAPI


async def _get(port: int, path: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}", timeout=aiohttp.ClientTimeout(5)) as answer,
    ):
        return answer.status, await answer.text()


def _value(exposition: str, sample: str) -> float:
    """The value of one sample line, e.g. `imagine_images_total{command="imagine"}`."""
    match = re.search(rf"^{re.escape(sample)} (\S+)$", exposition, re.MULTILINE)
    assert match, f"{sample} not in the exposition"
    return float(match.group(1))


async def test_metrics_count_jobs_images_refusals_and_upstream_calls(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    port = _free_port()
    fake_api.fail_next("rate_limited", retry_after_ms=50)
    fake_discord.rate_limit_next("PATCH", ORIGINAL, retry_after=0.1)
    async with start_bot(METRICS_ADDR=f"127.0.0.1:{port}", LIMIT_WINDOW_IMAGES="2") as bot:
        await delivered(await imagine(fake_discord, n=2), images=2)
        await refused_at_once(await imagine(fake_discord))  # the allowance is used up
        # A job is counted when its command ends, a moment after its images are seen.
        assert await bot.jobs.wait_idle(5.0)
        health_status, health = await _get(port, "/healthz")
        status, text = await _get(port, "/metrics")

    assert health_status == 200
    assert json.loads(health) == {"gateway": "ok", "state_store": "ok"}
    assert status == 200
    assert _value(text, 'imagine_jobs_total{command="imagine",outcome="ok"}') == 1
    assert _value(text, 'imagine_jobs_total{command="imagine",outcome="refused"}') == 1
    assert _value(text, 'imagine_refusals_total{layer="quota"}') == 1
    assert _value(text, 'imagine_images_total{command="imagine"}') == 2
    assert _value(text, "imagine_upstream_rate_limited_total") == 1
    retries = re.findall(r"^imagine_upstream_retries_total\{call=\"[^\"]+\"\} (\S+)$", text, re.M)
    assert [float(value) for value in retries] == [1]
    assert _value(text, "imagine_upstream_in_flight") == 0
    latency = re.findall(r"^imagine_upstream_seconds_count\{call=\"[^\"]+\"\} (\S+)$", text, re.M)
    assert [float(value) for value in latency] == [2]  # the 429, then the answer
    assert _value(text, "imagine_queue_wait_seconds_count") == 1
    assert _value(text, "imagine_queue_waiting_jobs") == 0
    assert _value(text, "imagine_discord_rate_limits_total") == 1
    assert _value(text, "imagine_undelivered_results_total") == 0
    assert _value(text, 'imagine_up{check="gateway"}') == 1


async def test_no_server_without_metrics_addr(start_bot: StartBot) -> None:
    async with start_bot() as bot:
        assert bot.get_cog("MetricsCog") is None


async def test_a_taken_address_is_logged_and_the_bot_runs(
    start_bot: StartBot, fake_discord: FakeDiscord, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics()
    taken = HealthServer(metrics, {}, host="127.0.0.1", port=_free_port())
    await taken.start()
    try:
        async with start_bot(METRICS_ADDR=f"127.0.0.1:{taken.port}"):
            await delivered(await imagine(fake_discord), images=1)
    finally:
        await taken.close()
    [record] = [r for r in caplog.records if "cannot serve health and metrics" in r.message]
    assert record.exc_info is None  # one clear line, no traceback


async def test_healthz_is_503_and_names_the_failing_check() -> None:
    async def passes() -> bool:
        return True

    async def store_down() -> bool:
        raise ConnectionError("redis is gone")

    metrics = Metrics()
    server = HealthServer(
        metrics, {"gateway": passes, "state_store": store_down}, host="127.0.0.1", port=0
    )
    await server.start()
    try:
        status, body = await _get(server.port, "/healthz")
        _, text = await _get(server.port, "/metrics")
    finally:
        await server.close()
    assert status == 503
    assert json.loads(body) == {"gateway": "ok", "state_store": "failing"}
    assert _value(text, 'imagine_up{check="state_store"}') == 0


async def test_results_that_reach_nobody_are_counted_as_undelivered(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    port = _free_port()
    fake_discord.fail_next("PATCH", ORIGINAL, 400, 50035, "Invalid Form Body")
    fake_discord.fail_next("POST", "/channels/*/messages", 403, 50013, "Missing Permissions", 2)
    async with start_bot(METRICS_ADDR=f"127.0.0.1:{port}"):
        interaction = await fake_discord.invoke("imagine", {"prompt": "a garden", "n": 2})
        await interaction.wait_for_final(predicate=lambda seen: seen.ephemeral)
        _, text = await _get(port, "/metrics")
    assert _value(text, "imagine_undelivered_results_total") == 2
    assert _value(text, 'imagine_jobs_total{command="imagine",outcome="failed"}') == 1
