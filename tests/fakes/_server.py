"""What every fake upstream server shares: an aiohttp app on 127.0.0.1 and a free port."""

from __future__ import annotations

import asyncio
from typing import Self

from aiohttp import web


class LoopbackServer:
    """Serves the app from `make_app()` on 127.0.0.1; `async with` starts and stops it."""

    name = "the fake server"
    # A client that gives up (timeout) cancels the slow handler; shutdown waits this long.
    handler_cancellation = True
    shutdown_timeout = 1.0

    def __init__(self) -> None:
        self._closing = asyncio.Event()  # set on close: slow handlers stop waiting
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    def make_app(self) -> web.Application:
        raise NotImplementedError

    async def start(self) -> None:
        """Start serving on a free port; a no-op when already started."""
        if self._runner is not None:
            return
        self._runner = web.AppRunner(
            self.make_app(),
            access_log=None,
            handler_cancellation=self.handler_cancellation,
            shutdown_timeout=self.shutdown_timeout,
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self._port = self._runner.addresses[0][1]

    async def close(self) -> None:
        self._closing.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def root_url(self) -> str:
        if self._port is None:
            raise RuntimeError(f"{self.name} is not started")
        return f"http://127.0.0.1:{self._port}"
