"""Entry point: settings -> logging -> one aiohttp session -> build everything -> bot.start.

`python -m bot` reads the environment (and `.env`, where a real environment variable wins),
prints every settings problem and exits 2 when something is missing or wrong.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import discord
from dotenv import load_dotenv

from bot.build import build
from bot.config import ConfigError, Settings, configure_logging
from bot.front.client import ImagineBot

log = logging.getLogger("bot")

T = TypeVar("T")


async def run(settings: Settings, *, started: asyncio.Future[ImagineBot] | None = None) -> None:
    """Run the bot until it is closed or the process is asked to stop (SIGTERM, SIGINT)."""
    timeout = aiohttp.ClientTimeout(total=settings.request_timeout)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        bot = ImagineBot(settings, session, build(settings, session))
        loop = asyncio.get_running_loop()
        log.info("starting on the %s event loop", type(loop).__module__.split(".")[0])
        stopping: list[asyncio.Task[None]] = []
        for signum in (signal.SIGTERM, signal.SIGINT):
            # Not available off the main thread or on Windows; Ctrl+C then ends the loop instead.
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(
                    signum, lambda: stopping.append(asyncio.create_task(bot.shutdown()))
                )
        if started is not None:
            started.set_result(bot)
        try:
            async with bot:
                await bot.start(settings.discord_token.reveal())
        finally:
            await asyncio.gather(*stopping, return_exceptions=True)
            for signum in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(signum)


def run_forever(settings: Settings, main: Coroutine[Any, Any, T]) -> T:
    """Run `main` on the event loop the settings name: uvloop (libuv's, about a quarter less
    CPU per interaction in a burst, measured in bench/) or the standard library's."""
    if settings.event_loop == "uvloop":
        try:
            import uvloop
        except ImportError:
            log.warning("uvloop is not installed here; using the standard asyncio event loop")
        else:
            return uvloop.run(main)
    return asyncio.run(main)


def settings_from_environment() -> Settings | None:
    """The settings from the environment, with logging configured; None (every problem
    printed) when they are incomplete or wrong."""
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        print(exc.report(), file=sys.stderr)
        return None
    configure_logging(
        settings.log_level,
        (
            settings.discord_token,
            settings.openai_api_key,
            settings.moderation_api_key,
            settings.user_id_salt,
        ),
        settings.log_format,
    )
    return settings


def main() -> int:
    """Command-line entry point; returns the exit status."""
    load_dotenv(Path.cwd() / ".env", override=False)
    settings = settings_from_environment()
    if settings is None:
        return 2
    try:
        run_forever(settings, run(settings))
    except discord.LoginFailure:
        log.error("Discord refused the bot token. Check DISCORD_TOKEN (Bot > Reset Token).")
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
