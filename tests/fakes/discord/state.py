"""The fake's state and the primitives every job uses: observation, fault injection, dispatch."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import re
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from aiohttp import web

from tests.fakes._server import LoopbackServer
from tests.fakes.discord.cdn import CdnLinks
from tests.fakes.discord.common import (
    API_PREFIX,
    GATEWAY_PATH,
    DiscordError,
    FieldErrors,
    Signal,
    Snowflakes,
    json_response,
    shard_of,
)
from tests.fakes.discord.interaction import FakeInteraction
from tests.fakes.discord.models import FakeAttachment, FakeChannel, FakeGuild, FakeMessage, FakeUser
from tests.fakes.discord.records import CommandPut, Fault, RecordedRequest, Violation
from tests.fakes.discord.session import GatewayConnection, GatewaySession


class DiscordState(LoopbackServer):
    """Everything the fake knows, and what each of its jobs (gateway, REST, CDN) relies on."""

    name = "FakeDiscord"

    def __init__(
        self,
        *,
        token: str,
        application_id: int | None,
        bot_name: str,
        callback_deadline: float | None,
        heartbeat_interval_ms: int,
        resume_buffer: int,
    ) -> None:
        super().__init__()
        self.token = token
        self.callback_deadline = callback_deadline
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self._resume_buffer = resume_buffer
        self._ids = Snowflakes()
        self.application_id = application_id or self._ids.next()
        self.bot_user = FakeUser(self._ids.next(), bot_name, bot=True)
        self.bot_user_id = self.bot_user.id

        self.users: dict[int, FakeUser] = {self.bot_user.id: self.bot_user}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self._dm_by_user: dict[int, FakeChannel] = {}

        self.requests: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        self.internal_errors: list[str] = []
        self.messages: defaultdict[int, list[FakeMessage]] = defaultdict(list)
        self._messages_by_id: dict[int, FakeMessage] = {}
        self.interactions: list[FakeInteraction] = []
        self._interactions_by_token: dict[str, FakeInteraction] = {}
        self._pending_by_user_channel: defaultdict[tuple[int, int], list[FakeInteraction]] = (
            defaultdict(list)
        )
        self._expired_tokens: set[str] = set()
        self._attachments: dict[int, FakeAttachment] = {}
        self.cdn_links = CdnLinks()
        self._faults: list[Fault] = []
        self._waiters: list[tuple[Callable[[Any], bool], asyncio.Future[Any]]] = []

        self._commands: dict[int | None, dict[int, dict[str, Any]]] = defaultdict(dict)
        self._command_ids: dict[tuple[int | None, int, str], int] = {}
        self.command_puts: list[CommandPut] = []
        self._modals: defaultdict[int, list[tuple[dict[str, Any], FakeInteraction]]] = defaultdict(
            list
        )

        self.gateway_received: list[dict[str, Any]] = []
        self.identify_payloads: list[dict[str, Any]] = []
        self.identify_count = 0
        self.resume_count = 0
        self._sessions: dict[str, GatewaySession] = {}
        self._session: GatewaySession | None = None
        # With sharded bots: each shard's session; events go to their guild's shard.
        self.shard_sessions: dict[int, GatewaySession] = {}
        self._connections: set[GatewayConnection] = set()
        self._ready = asyncio.Event()
        self._ready_generation = 0
        self._ready_changed = Signal()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeDiscord is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{GATEWAY_PATH}"

    @property
    def cdn_base(self) -> str:
        return self.base_url

    # ------------------------------------------------------------------ fault injection

    def rate_limit_next(
        self,
        method: str,
        path_pattern: str | re.Pattern[str],
        *,
        times: int = 1,
        retry_after: float = 0.05,
        global_: bool = False,
        scope: str = "user",
    ) -> None:
        """Answer the next matching request(s) with a 429 as Discord does.

        ``path_pattern`` is an fnmatch glob (``*`` also matches ``/``) or a compiled regex,
        matched against the path after ``/api/v10`` (e.g. ``/webhooks/*``).
        """

        def respond() -> web.Response:
            headers = {
                "Via": "1.1 google",
                "Retry-After": str(max(1, math.ceil(retry_after))),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Bucket": "fake-rate-limited",
                "X-RateLimit-Scope": "global" if global_ else scope,
            }
            if global_:
                headers["X-RateLimit-Global"] = "true"
            body = {
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": global_,
            }
            return json_response(body, 429, headers)

        self._faults.append(Fault(method.upper(), path_pattern, times, respond))

    def fail_next(
        self,
        method: str,
        path_pattern: str | re.Pattern[str],
        status: int,
        code: int,
        message: str = "Injected failure",
        times: int = 1,
        *,
        errors: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next matching request(s) with a Discord error (status, code, message)."""
        error = DiscordError(status, code, message, errors)
        self._faults.append(
            Fault(method.upper(), path_pattern, times, lambda: json_response(error.body(), status))
        )

    def expire_token(self, token: str | FakeInteraction) -> None:
        """Make an interaction token invalid, as 15 minutes after the interaction."""
        self._expired_tokens.add(token.token if isinstance(token, FakeInteraction) else token)

    def expire_cdn_links(self) -> None:
        """Expire every CDN link handed out so far (the CDN answers 404 to them, as a day later).

        Links handed out afterwards work: a re-read message, an interaction's payload, or
        ``POST /attachments/refresh-urls``.
        """
        self.cdn_links.expire_all()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    # ------------------------------------------------------------------ observation

    def message(self, message_id: int) -> FakeMessage:
        return self._messages_by_id[message_id]

    def all_messages(self) -> list[FakeMessage]:
        return list(self._messages_by_id.values())

    async def wait_for(
        self,
        predicate: Callable[[Any], bool],
        timeout: float = 5.0,
        *,
        include_past: bool = True,
    ) -> Any:
        """Wait for a RecordedRequest (once answered) or a FakeMessage (created or edited)."""
        if include_past:
            for item in itertools.chain(
                (r for r in self.requests if r.status), self._messages_by_id.values()
            ):
                if predicate(item):
                    return item
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(entry)

    async def wait_for_request(
        self, predicate: Callable[[RecordedRequest], bool], timeout: float = 5.0
    ) -> RecordedRequest:
        result: RecordedRequest = await self.wait_for(
            lambda x: isinstance(x, RecordedRequest) and predicate(x), timeout
        )
        return result

    async def wait_for_message(
        self, predicate: Callable[[FakeMessage], bool], timeout: float = 5.0
    ) -> FakeMessage:
        result: FakeMessage = await self.wait_for(
            lambda x: isinstance(x, FakeMessage) and predicate(x), timeout
        )
        return result

    def _notify(self, item: Any) -> None:
        if not self._waiters:
            return
        for predicate, future in list(self._waiters):
            if future.done():
                continue
            try:
                matched = predicate(item)
            except Exception as exc:  # noqa: BLE001 - the waiter gets the error
                future.set_exception(exc)
                continue
            if matched:
                future.set_result(item)

    def _violation(
        self,
        kind: str,
        request: RecordedRequest,
        error: DiscordError,
        errs: FieldErrors | None = None,
    ) -> DiscordError:
        self.violations.append(
            Violation(
                kind=kind,
                method=request.method,
                path=request.path,
                status=error.status,
                code=error.code,
                message=error.message,
                errors=list(errs.flat) if errs else [],
                body=request.json,
            )
        )
        return error

    def _invalid_form(self, kind: str, request: RecordedRequest, errs: FieldErrors) -> DiscordError:
        return self._violation(
            kind, request, DiscordError(400, 50035, "Invalid Form Body", errs.tree), errs
        )

    # ------------------------------------------------------------------ gateway

    @property
    def ready_generation(self) -> int:
        """How many times a bot became ready (IDENTIFY or RESUME answered)."""
        return self._ready_generation

    async def wait_until_ready(self, timeout: float = 10.0, *, after: int | None = None) -> None:
        """Wait until a bot identified (or resumed) and was sent its guilds.

        With ``after`` (a past ``ready_generation``), wait for a newer IDENTIFY or RESUME.
        """
        await self._wait_ready_after(-1 if after is None else after, timeout)

    async def _wait_ready_after(self, generation: int, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while self._ready_generation <= generation or not self._ready.is_set():
                await self._ready_changed.wait()

    def _set_ready(self) -> None:
        self._ready_generation += 1
        self._ready.set()
        self._ready_changed.notify()

    @property
    def connected(self) -> bool:
        session = self._session
        return session is not None and session.connection is not None

    def dispatch(self, event: str, data: Any, on_sent: Callable[[], None] | None = None) -> int:
        """Send a gateway DISPATCH event to the bot (to its guild's shard when the bot is
        sharded, as Discord routes them); returns its sequence number."""
        session = self._session_for(event, data)
        if session is None:
            raise RuntimeError("no bot has identified on the gateway")
        return session.dispatch(event, data, on_sent)

    def _dispatch_if_connected(self, event: str, build: Callable[[], Any]) -> None:
        if self._session is not None and self._ready.is_set():
            data = build()
            session = self._session_for(event, data)
            if session is not None:
                session.dispatch(event, data)

    @property
    def connected_shards(self) -> set[int]:
        """The shards a bot process holds a live gateway connection for."""
        return {i for i, s in self.shard_sessions.items() if s.connection is not None}

    def _session_for(self, event: str, data: Any) -> GatewaySession | None:
        if not self.shard_sessions or self._session is None or self._session.shard is None:
            return self._session
        count = self._session.shard[1]
        guild_id = data.get("guild_id") if isinstance(data, dict) else None
        if guild_id is None and event in ("GUILD_CREATE", "GUILD_UPDATE", "GUILD_DELETE"):
            guild_id = data.get("id")
        # Discord's formula; events with no guild (DMs) go to shard 0.
        shard = 0 if guild_id is None else shard_of(int(guild_id), count)
        return self.shard_sessions.get(shard)

    async def disconnect(self, code: int = 4000) -> None:
        """Close the bot's gateway connection (a resumable close by default)."""
        session = self._session
        if session is None or session.connection is None:
            raise RuntimeError("the bot is not connected")
        await session.connection.ws.close(code=code, message=b"fake discord disconnect")
