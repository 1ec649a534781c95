"""A gateway websocket and its session: ordered writes, sequence numbers, the RESUME buffer."""

from __future__ import annotations

import asyncio
import json
from collections import deque
from collections.abc import Callable
from typing import Any

from aiohttp import web


class GatewayConnection:
    """One websocket; a writer task sends queued frames in order."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[tuple[str, Callable[[], None] | None]] = asyncio.Queue()
        self.session: GatewaySession | None = None
        self.writer: asyncio.Task[None] | None = None

    def send(self, text: str, on_sent: Callable[[], None] | None = None) -> None:
        self.queue.put_nowait((text, on_sent))

    async def run_writer(self) -> None:
        while True:
            text, on_sent = await self.queue.get()
            if self.ws.closed:
                return
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return
            if on_sent is not None:
                on_sent()


class GatewaySession:
    """A gateway session: sequence numbers and a replay buffer for RESUME."""

    def __init__(self, session_id: str, buffer: int) -> None:
        self.id = session_id
        self.seq = 0
        self.history: deque[tuple[int, str, Callable[[], None] | None]] = deque(maxlen=buffer)
        self.connection: GatewayConnection | None = None
        self.shard: tuple[int, int] | None = None  # IDENTIFY's [shard_id, shard_count]

    def dispatch(self, event: str, data: Any, on_sent: Callable[[], None] | None = None) -> int:
        self.seq += 1
        text = json.dumps({"op": 0, "t": event, "s": self.seq, "d": data})
        self.history.append((self.seq, text, on_sent))
        if self.connection is not None:
            self.connection.send(text, on_sent)
        return self.seq
