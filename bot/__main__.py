"""Entry point: settings -> logging -> one aiohttp session -> build everything -> bot.start.

`python -m bot` reads the environment (and `.env`, where a real environment variable wins),
prints every settings problem and exits 2 when something is missing or wrong. `python -m bot
doctor` checks every part the bot depends on instead of starting it (`bot.front.doctor`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import discord
from dotenv import load_dotenv

from bot.build import build, connector
from bot.config import ConfigError, Settings, configure_logging
from bot.front.client import ImagineBot, make_bot
from bot.front.connect import backoff_delays, quiet_expected_failures
from bot.front.doctor import check_images_api, run_doctor
from bot.memory import release_freed_blocks
from bot.resource import Shared
from bot.state import StateUnavailable, open_state, state_connection

log = logging.getLogger("bot")

T = TypeVar("T")


async def run(settings: Settings, *, started: asyncio.Future[ImagineBot] | None = None) -> None:
    """Run the bot until it is closed or the process is asked to stop (SIGTERM, SIGINT)."""
    release_freed_blocks()  # freed pictures leave the process (see bot.memory)
    timeout = aiohttp.ClientTimeout(total=settings.request_timeout)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector(settings)) as session:
        bot = make_bot(settings, session, build(settings, session))
        loop = asyncio.get_running_loop()
        log.info("starting on the %s event loop", type(loop).__module__.split(".")[0])
        quiet_expected_failures()
        stopping: list[asyncio.Task[None]] = []
        try:
            async with bot:
                connection = asyncio.create_task(serve(bot, settings))
                for signum in (signal.SIGTERM, signal.SIGINT):
                    # Not available off the main thread or on Windows; Ctrl+C then ends the loop.
                    with contextlib.suppress(NotImplementedError, RuntimeError):
                        loop.add_signal_handler(
                            signum,
                            lambda: stopping.append(asyncio.create_task(stop(bot, connection))),
                        )
                if started is not None:
                    started.set_result(bot)
                try:
                    await asyncio.wait({connection})
                finally:
                    if not connection.done():  # run() itself was cancelled
                        connection.cancel()
                        await asyncio.wait({connection})
                if not connection.cancelled():
                    connection.result()  # LoginFailure and other ends that are not a stop
        finally:
            await asyncio.gather(*stopping, return_exceptions=True)
            for signum in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(signum)


async def serve(bot: ImagineBot, settings: Settings) -> None:
    """Open the state store (waiting for one that may come back), then log in and serve."""
    state = state_connection(settings.state_url)
    if state is not None:
        await open_state_patiently(state)
    # Beside the login, not before it: a slow Images API must not delay the bot's start.
    checks = asyncio.create_task(check_images_api_at_start(settings, bot.session))
    try:
        await bot.start(settings.discord_token.reveal())
    finally:
        checks.cancel()
        await asyncio.wait({checks})
        if state is not None:
            await state.close()  # the stores hold their own use of it, closed with the bot


async def check_images_api_at_start(settings: Settings, session: aiohttp.ClientSession) -> None:
    """The doctor's Images API check (key, IMAGE_MODEL, its shutdown date), logged: a wrong
    key is the operator's to fix, and members should not be the first to find it."""
    check = await check_images_api(settings, session)
    if check.ok:
        log.info("%s: %s", check.name, check.found)
    else:
        log.error("%s: %s; fix: %s", check.name, check.found, check.fix)


async def open_state_patiently(state: Shared) -> None:
    """Open the state store; a Redis that refuses or does not answer is waited for (capped
    backoff, one line each time); a failure that will not pass raises StateUnavailable."""
    delays = backoff_delays()
    while True:
        try:
            await open_state(state)
        except StateUnavailable as exc:
            if exc.lasting:
                raise
            delay = next(delays)
            log.warning(
                "cannot reach the state store (Redis at %s: %s); trying again in %.1f s",
                exc.where,
                exc.detail,
                delay,
            )
            await asyncio.sleep(delay)
        else:
            return


STATE_FIXES = {
    "not_writable": "check that the folder exists and this user may write there (STATE_URL, "
    "DATA_DIR)",
    "schema_too_new": "it was written by a newer version of the bot: run that version, or point "
    "STATE_URL at another file",
    "rejected": "check the password and the database number in STATE_URL",
    "unreachable": "check that the server is running and STATE_URL's host and port",
}


async def stop(bot: ImagineBot, connection: asyncio.Task[None]) -> None:
    """SIGTERM/SIGINT: drain the running jobs and close; a login or a reconnect that is
    waiting (a connect timeout, a backoff) is cancelled instead of waited out."""
    if bot.ws is None:
        # Logging in, or the first gateway connection: no command can have come, none to drain.
        connection.cancel()
    await bot.shutdown()
    connection.cancel()  # a gateway reconnect's backoff sleep would outlast the close


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


def doctor(settings: Settings) -> int:
    """`python -m bot doctor`: every check's line on stdout; 1 when one failed."""
    checks = run_forever(settings, run_doctor(settings))
    for check in checks:
        print(check.line())
    failed = sum(not check.ok for check in checks)
    print(f"{len(checks) - failed} passed, {failed} failed")
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point (`python -m bot`, `python -m bot doctor`); the exit status."""
    command = list(sys.argv[1:] if argv is None else argv)[:1]
    load_dotenv(Path.cwd() / ".env", override=False)
    settings = settings_from_environment()
    if settings is None:
        return 2
    if command == ["doctor"]:
        return doctor(settings)
    try:
        run_forever(settings, run(settings))
    except StateUnavailable as exc:
        log.error(
            "cannot use the state store (%s at %s: %s); %s",
            exc.backend,
            exc.where,
            exc.detail,
            STATE_FIXES[exc.problem],
        )
        return 2
    except discord.LoginFailure:
        log.error("Discord refused the bot token. Check DISCORD_TOKEN (Bot > Reset Token).")
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
