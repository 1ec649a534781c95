"""Health and Prometheus metrics, for the operator: off unless METRICS_ADDR is set.

`Metrics` holds the instruments in a registry of its own (one per bot, so that tests can
build several); the transport (its `observer`), the fair queue (`on_waited`) and the metrics
cog feed it. `HealthServer` serves `/healthz` (200 when every check passes, 503 naming the
failing ones: for Docker's and Kubernetes' probes) and `/metrics` in Prometheus' text format,
on aiohttp, the HTTP library the bot already runs. A leaf: no discord, no other part of the bot.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

log = logging.getLogger(__name__)

# Seconds: a queue wait spans an instant to Discord's 15-minute window; an upstream call
# from a fraction of a second (a small dall-e-2 image) to minutes (gpt-image-1 at high quality).
_QUEUE_BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 900)
_UPSTREAM_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 20, 30, 45, 60, 90, 120, 180, 300)

Check = Callable[[], Awaitable[bool]]


class Metrics:
    """What the bot did and is doing, as Prometheus counters, gauges and histograms."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        counter, gauge = self._counter, self._gauge
        self.jobs = counter("imagine_jobs", "Commands: ok, refused, failed", "command", "outcome")
        self.images = counter("imagine_images", "Images posted for members", "command")
        self.refusals = counter("imagine_refusals", "Refusals, by the layer that refused", "layer")
        self.queue_waiting = gauge("imagine_queue_waiting_jobs", "Jobs waiting for their turn")
        self.queue_running = gauge("imagine_queue_running_jobs", "Jobs that have their turn")
        self.queue_wait = Histogram(
            "imagine_queue_wait_seconds",
            "How long a job waited for its turn (queue and images-per-minute budget)",
            buckets=_QUEUE_BUCKETS,
            registry=self.registry,
        )
        self.upstream_in_flight = gauge("imagine_upstream_in_flight", "Images API calls running")
        self.upstream_seconds = Histogram(
            "imagine_upstream_seconds",
            "Images API call attempts: seconds until the answer or the failure",
            ["call"],
            buckets=_UPSTREAM_BUCKETS,
            registry=self.registry,
        )
        self.upstream_calls = counter("imagine_upstream_calls", "API attempts", "call", "outcome")
        self.upstream_retries = counter("imagine_upstream_retries", "Attempts retried", "call")
        self.upstream_rate_limited = counter("imagine_upstream_rate_limited", "Images API 429s")
        self.discord_rate_limits = counter("imagine_discord_rate_limits", "Discord API 429s")
        self.undelivered = counter(
            "imagine_undelivered_results", "Images no delivery route could post (kept for later)"
        )
        self.healthy = gauge("imagine_up", "1 when the check passed at the last scrape", "check")

    def _counter(self, name: str, documentation: str, *labels: str) -> Counter:
        return Counter(name, documentation, labels, registry=self.registry)

    def _gauge(self, name: str, documentation: str, *labels: str) -> Gauge:
        return Gauge(name, documentation, labels, registry=self.registry)

    # The transport's observer (see `bot.transport.CallObserver`).
    def call_started(self, call: str) -> None:
        """An attempt at the Images API began."""
        self.upstream_in_flight.inc()

    def call_finished(self, call: str, seconds: float, outcome: str) -> None:
        """An attempt ended: "ok", or the failure's kind ("rate_limited", "timeout"...)."""
        self.upstream_in_flight.dec()
        self.upstream_seconds.labels(call).observe(seconds)
        self.upstream_calls.labels(call, outcome).inc()
        if outcome == "rate_limited":
            self.upstream_rate_limited.inc()

    def call_retrying(self, call: str) -> None:
        """The transport will try the call again."""
        self.upstream_retries.labels(call).inc()

    def queue_waited(self, seconds: float) -> None:
        """A job got its turn after `seconds` in line."""
        self.queue_wait.observe(seconds)

    def exposition(self) -> bytes:
        """Every metric in Prometheus' text format."""
        return generate_latest(self.registry)


class HealthServer:
    """`/healthz` and `/metrics` on `host:port` (port 0: any free port, see `port`)."""

    def __init__(
        self,
        metrics: Metrics,
        checks: Mapping[str, Check],
        *,
        host: str,
        port: int,
        check_timeout: float = 2.0,
    ) -> None:
        self._metrics = metrics
        self._checks = dict(checks)
        self._host, self._port = host, port
        self._check_timeout = check_timeout
        self._runner: web.AppRunner | None = None

    def __repr__(self) -> str:
        return f"HealthServer(host={self._host!r}, port={self._port})"

    @property
    def port(self) -> int:
        """The port it listens on (the one chosen when it was asked for port 0)."""
        if self._runner is None or not self._runner.addresses:
            return self._port
        return int(self._runner.addresses[0][1])

    async def start(self) -> None:
        """Listen; raises OSError when the address is taken or not this machine's."""
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._exposition)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        log.info("health and metrics on http://%s:%d (/healthz, /metrics)", self._host, self.port)

    async def close(self) -> None:
        """Stop listening."""
        if self._runner is not None:
            runner, self._runner = self._runner, None
            await runner.cleanup()

    async def check(self) -> dict[str, bool]:
        """Run every check (each within the timeout; an error counts as failing)."""
        results = dict(
            zip(
                self._checks,
                await asyncio.gather(*(self._run(*item) for item in self._checks.items())),
                strict=True,
            )
        )
        for name, passed in results.items():
            self._metrics.healthy.labels(name).set(1 if passed else 0)
        return results

    async def _run(self, name: str, check: Check) -> bool:
        try:
            return await asyncio.wait_for(check(), self._check_timeout)
        except Exception as exc:  # noqa: BLE001 - a check that cannot answer has failed
            # Expected while a store is down, at every probe: one line, no traceback.
            log.warning("health check %s failed: %s", name, type(exc).__name__)
            return False

    async def _healthz(self, _: web.Request) -> web.Response:
        results = await self.check()
        body = {name: "ok" if passed else "failing" for name, passed in results.items()}
        return web.Response(
            text=json.dumps(body),
            status=200 if all(results.values()) else 503,
            content_type="application/json",
        )

    async def _exposition(self, _: web.Request) -> web.Response:
        await self.check()
        return web.Response(
            body=self._metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
        )
