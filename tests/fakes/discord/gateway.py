"""The gateway websocket: HELLO, IDENTIFY, RESUME, heartbeats and member requests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.discord.common import shard_of
from tests.fakes.discord.session import GatewayConnection, GatewaySession
from tests.fakes.discord.state import DiscordState

log = logging.getLogger(__name__)


class Gateway(DiscordState):
    """Serves the gateway websocket a bot connects to."""

    async def _gateway_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = GatewayConnection(ws)
        self._connections.add(conn)
        conn.writer = asyncio.create_task(conn.run_writer())
        conn.send(
            json.dumps(
                {
                    "op": 10,
                    "d": {"heartbeat_interval": self.heartbeat_interval_ms},
                    "s": None,
                    "t": None,
                }
            )
        )
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    try:
                        payload = json.loads(msg.data)
                    except ValueError:
                        await ws.close(code=4002, message=b"Error while decoding payload.")
                        break
                    await self._on_gateway_message(conn, payload)
                elif msg.type is WSMsgType.BINARY:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
        except Exception as exc:
            log.exception("fake discord gateway failed")
            self.internal_errors.append(f"gateway: {exc!r}")
            await ws.close(code=4000, message=b"fake discord internal error")
        finally:
            conn.writer.cancel()
            self._connections.discard(conn)
            session = conn.session
            if session is not None and session.connection is conn:
                session.connection = None
                if session is self._session:
                    self._ready.clear()
                    self._ready_changed.notify()
        return ws

    async def _on_gateway_message(self, conn: GatewayConnection, msg: dict[str, Any]) -> None:
        op = msg.get("op")
        data = msg.get("d")
        if op == 1:
            conn.send(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
            return
        self.gateway_received.append(msg)
        if op == 2:
            await self._identify(conn, data or {})
        elif op == 6:
            await self._resume(conn, data or {})
        elif op == 8:
            self._request_members(conn, data or {})
        elif op in (3, 4):
            return
        else:
            await conn.ws.close(code=4001, message=b"Unknown opcode.")

    async def _identify(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        self.identify_payloads.append(data)
        self.identify_count += 1
        session = GatewaySession(secrets.token_hex(16), self._resume_buffer)
        self._sessions[session.id] = session
        session.connection = conn
        conn.session = session
        self._session = session
        guilds = list(self.guilds.values())
        shard = data.get("shard")
        if isinstance(shard, list) and len(shard) == 2:  # [shard_id, shard_count]
            session.shard = (int(shard[0]), int(shard[1]))
            self.shard_sessions[session.shard[0]] = session
            guilds = [g for g in guilds if shard_of(g.id, session.shard[1]) == session.shard[0]]
        ready: dict[str, Any] = {
            "v": 10,
            "user": {**self.bot_user.to_payload(), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["fake-discord"],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        session.dispatch("READY", ready)
        for guild in guilds:
            session.dispatch("GUILD_CREATE", guild.to_payload())
        self._set_ready()

    async def _resume(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        session = self._sessions.get(str(data.get("session_id")))
        seq = int(data.get("seq") or 0)
        if (
            data.get("token") != self.token
            or session is None
            or (session.history and session.history[0][0] > seq + 1)
        ):
            conn.send(json.dumps({"op": 9, "d": False, "s": None, "t": None}))
            return
        self.resume_count += 1
        if session.connection is not None and session.connection is not conn:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await session.connection.ws.close(code=4000)
        session.connection = conn
        conn.session = session
        self._session = session
        if session.shard is not None:
            self.shard_sessions[session.shard[0]] = session
        for number, text, on_sent in session.history:
            if number > seq:
                conn.send(text, on_sent)
        session.dispatch("RESUMED", {"_trace": ["fake-discord"]})
        self._set_ready()

    def _request_members(self, conn: GatewayConnection, data: dict[str, Any]) -> None:
        session = conn.session
        guild = self.guilds.get(int(data.get("guild_id") or 0))
        if session is None or guild is None:
            return
        wanted = {int(u) for u in data.get("user_ids") or []}
        members = [m for m in guild.members.values() if not wanted or m.id in wanted]
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": [m.to_payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [str(u) for u in wanted - {m.id for m in members}],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        session.dispatch("GUILD_MEMBERS_CHUNK", chunk)
