"""Health and metrics for the operator (METRICS_ADDR): `/healthz` and `/metrics`.

Loaded like every cog; without METRICS_ADDR it adds nothing. It counts from what the front
already tells its listeners (a command's completion or error, images posted, prompts refused,
results no route could post) and hooks the transport's observer and the queue's `on_waited`;
Discord's 429s are counted from discord.py's own log records (it has no event for them).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import InvalidInput, UserFacingError
from bot.images.errors import ImagesError
from bot.limits.errors import LimitError, QueueFull, TooManyWaiting
from bot.metrics import HealthServer, Metrics
from bot.moderation.errors import AccessDenied, ModerationUnavailable, PromptRefused
from bot.moderation.events import Generated

if TYPE_CHECKING:
    from bot.front.client import ImagineBot

log = logging.getLogger(__name__)

# Which layer refused, for `imagine_refusals_total{layer}` (a PromptRefused names its own).
_LAYERS: tuple[tuple[type[Exception], str], ...] = (
    (InvalidInput, "input"),
    (AccessDenied, "access"),
    (QueueFull, "queue"),
    (TooManyWaiting, "queue"),
    (ModerationUnavailable, "moderation_unavailable"),
    (ImagesError, "upstream"),
    (app_commands.CheckFailure, "check"),
    # The other limit errors: the member's allowance, or a request larger than it allows.
    (LimitError, "quota"),
    (UserFacingError, "other"),
)


def refusal_layer(error: BaseException) -> str | None:
    """The layer that refused the member (None: not a refusal but our failure)."""
    if isinstance(error, PromptRefused):
        return error.layer
    for kind, layer in _LAYERS:
        if isinstance(error, kind):
            return layer
    return None


# discord.py's HTTP client and its webhook client (interaction followups, edits) log each 429.
_DISCORD_LOGGERS = ("discord.http", "discord.webhook.async_")
_RATE_LIMITED = ("responded with 429", "Global rate limit has been hit", "is rate limited")


class DiscordRateLimits(logging.Filter):
    """Counts discord.py's records of a 429 from Discord (it has no event for them)."""

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self._metrics = metrics

    def filter(self, record: logging.LogRecord) -> bool:
        template = str(record.msg)
        if any(marker in template for marker in _RATE_LIMITED):
            self._metrics.discord_rate_limits.inc()
        return True


class MetricsCog(commands.Cog):
    """Feeds `Metrics` and serves them, with the health checks, on METRICS_ADDR."""

    def __init__(self, bot: ImagineBot, host: str, port: int) -> None:
        self.bot = bot
        self.metrics = Metrics()
        self.server = HealthServer(
            self.metrics,
            {"gateway": self.gateway_connected, "state_store": self.state_store_reachable},
            host=host,
            port=port,
        )
        self._connected = False
        self._rate_limits = DiscordRateLimits(self.metrics)

    async def cog_load(self) -> None:
        try:
            await self.server.start()
        except OSError as exc:
            # The operator's problem (address taken, not this machine's): the bot still runs.
            log.error(
                "cannot serve health and metrics on %r: %s; running without them", self.server, exc
            )
            return
        queue = self.bot.limiter.queue
        self.metrics.queue_waiting.set_function(lambda: queue.waiting)
        self.metrics.queue_running.set_function(lambda: queue.running)
        queue.on_waited = self.metrics.queue_waited
        self.bot.images.observe(self.metrics)
        for name in _DISCORD_LOGGERS:
            logging.getLogger(name).addFilter(self._rate_limits)

    async def cog_unload(self) -> None:
        for name in _DISCORD_LOGGERS:
            logging.getLogger(name).removeFilter(self._rate_limits)
        self.bot.images.observe(None)
        self.bot.limiter.queue.on_waited = None
        await self.server.close()

    async def gateway_connected(self) -> bool:
        """Connected to Discord's gateway: READY or RESUMED since the last disconnect."""
        return self._connected and not self.bot.is_closed()

    async def state_store_reachable(self) -> bool:
        """A read from the state store (SQLite or Redis) succeeds."""
        await self.bot.store.paused_until(now_ms=int(time.time() * 1000))
        return True

    @commands.Cog.listener()
    async def on_connect(self) -> None:
        # READY received (on_ready waits for every guild to arrive as well).
        self._connected = True

    @commands.Cog.listener()
    async def on_resumed(self) -> None:
        self._connected = True

    @commands.Cog.listener()
    async def on_disconnect(self) -> None:
        self._connected = False

    @commands.Cog.listener()
    async def on_app_command_completion(
        self,
        _: discord.Interaction,
        command: app_commands.Command[Any, ..., Any] | app_commands.ContextMenu,
    ) -> None:
        self.metrics.jobs.labels(command.qualified_name, "ok").inc()

    @commands.Cog.listener()
    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        command = interaction.command.qualified_name if interaction.command else "unknown"
        layer = refusal_layer(original)
        if layer is not None:
            self.metrics.refusals.labels(layer).inc()
        self.metrics.jobs.labels(command, "failed" if layer is None else "refused").inc()

    @commands.Cog.listener()
    async def on_image_generated(self, generated: Generated) -> None:
        self.metrics.images.labels(generated.command).inc(len(generated.images))

    @commands.Cog.listener()
    async def on_results_undelivered(self, images: int) -> None:
        self.metrics.undelivered.inc(images)


async def setup(bot: ImagineBot) -> None:
    if bot.settings.metrics_addr is None:
        return
    host, port = bot.settings.metrics_addr
    await bot.add_cog(MetricsCog(bot, host, port))
