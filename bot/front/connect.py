"""Reaching Discord: the login waits out a network that is down or slow, and the expected
failures (no network, DNS, refused, timed out, Discord's 5xx) are one log line, not a traceback.

discord.py retries the gateway by itself (`Client.connect(reconnect=True)`, exponential backoff)
but logs each attempt with a traceback, and does not retry the login at all: a bot started
before the network is up would exit. `log_in` retries the login's two requests
(`GET /users/@me`, the application) with capped backoff; `ExpectedNetworkFailures` turns
discord.py's reconnect tracebacks into one line.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterator

import aiohttp
import discord
from discord.utils import MISSING

log = logging.getLogger(__name__)

# Failures that say nothing about the bot or its token: the network or Discord will come back.
NETWORK_FAILURES: tuple[type[BaseException], ...] = (
    OSError,  # no route, refused, reset; aiohttp's connection and DNS errors are OSErrors too
    aiohttp.ClientError,
    TimeoutError,
    discord.DiscordServerError,  # Discord's 5xx, after discord.py's own retries
    discord.GatewayNotFound,
    discord.ConnectionClosed,
)

LOGIN_TIMEOUT = 20.0  # seconds for the login's requests before the attempt counts as failed
BACKOFF_FIRST = 1.0
BACKOFF_CAP = 60.0


def backoff_delays(first: float = BACKOFF_FIRST, cap: float = BACKOFF_CAP) -> Iterator[float]:
    """Doubling delays with full jitter, each at most `cap` seconds: never a retry storm."""
    ceiling = first
    while True:
        yield random.uniform(ceiling / 2, ceiling)
        ceiling = min(cap, ceiling * 2)


def describe(exc: BaseException) -> str:
    """What failed, in a few words for the log (no traceback; no secret is ever in these)."""
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, discord.DiscordServerError):
        return f"Discord answered {exc.status}"
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def log_in(
    client: discord.Client,
    login: Callable[[], Awaitable[None]],
    *,
    timeout: float = LOGIN_TIMEOUT,
    delays: Iterator[float] | None = None,
) -> None:
    """Run `login` (discord.py's) until Discord answered it, retrying network failures.

    A wrong token (`LoginFailure`) is not retried. Once Discord has answered (the application
    is known), the rest of the login (`setup_hook`) runs without a deadline and is not retried.
    """
    delays = delays or backoff_delays()
    while True:
        try:
            await _attempt(client, login, timeout)
        except NETWORK_FAILURES as exc:
            if client.application is not None:
                raise  # setup_hook's own failure: not a login to repeat
            delay = next(delays)
            log.warning(
                "could not reach Discord to log in (%s); trying again in %.1f s",
                describe(exc),
                delay,
            )
            # The failed attempt's HTTP session (and the connector it owns) go; the next
            # attempt makes its own.
            await client.http.close()
            client.http.connector = MISSING
            await asyncio.sleep(delay)
        else:
            return


async def _attempt(
    client: discord.Client, login: Callable[[], Awaitable[None]], timeout: float
) -> None:
    task = asyncio.ensure_future(login())
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
        if not done and client.application is None:
            task.cancel()
            await asyncio.wait({task})
            raise TimeoutError
        await task
    finally:
        if not task.done():  # this coroutine was cancelled (a stop during the login)
            task.cancel()
            await asyncio.wait({task})


async def connect_gateway(client: discord.Client, connect: Callable[[], Awaitable[None]]) -> None:
    """Run `connect` (discord.py's gateway loop), restarting it when the FIRST connection fails.

    discord.py retries a lost gateway connection itself, but when the very first one fails its
    retry loop dies on `self.ws.sequence` (an AttributeError, Rapptz/discord.py#10520): the
    failure is logged by discord.py (one line, see `ExpectedNetworkFailures`) and the loop is
    restarted here after a capped backoff of our own, since discord.py's restarts at zero.
    """
    delays = backoff_delays()
    while True:
        try:
            await connect()
        except AttributeError as exc:
            first_failed = isinstance(exc.__context__, NETWORK_FAILURES) and client.ws is None
            if not first_failed or client.is_closed():
                raise
            delay = next(delays)
            log.debug("first gateway connection failed; restarting in %.1f s", delay)
            await asyncio.sleep(delay)
        else:
            return


class ExpectedNetworkFailures(logging.Filter):
    """On discord.py's client logger: a gateway reconnect after a network failure is logged as
    one warning line (what failed, when it retries), not an ERROR with a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.msg == "Attempting a reconnect in %.2fs" and record.exc_info:
            exc = record.exc_info[1]
            if isinstance(exc, NETWORK_FAILURES):
                record.msg = "no connection to Discord's gateway (%s); trying again in %.1f s"
                record.args = (describe(exc), *(record.args or ()))
                record.exc_info = None
                record.exc_text = None
                record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_expected_failures() -> None:
    """Install `ExpectedNetworkFailures` on discord.py's client logger (once per process)."""
    logger = logging.getLogger("discord.client")
    if not any(isinstance(f, ExpectedNetworkFailures) for f in logger.filters):
        logger.addFilter(ExpectedNetworkFailures())


def silence_voice_warnings() -> None:
    """The bot has no voice: discord.py's "PyNaCl / davey is not installed" warnings say nothing."""
    discord.VoiceClient.warn_nacl = False
    discord.VoiceClient.warn_dave = False
