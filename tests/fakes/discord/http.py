"""The HTTP plumbing shared by every REST route: recording, auth, faults, body parsing."""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Final
from urllib.parse import unquote

from aiohttp import web

from tests.fakes.discord.common import API_PREFIX, GATEWAY_PATH, DiscordError, json_response
from tests.fakes.discord.models import FakeGuild
from tests.fakes.discord.records import RECORD, RecordedRequest, UploadedFile
from tests.fakes.discord.world import World

log = logging.getLogger(__name__)

# Interaction routes authenticate with the token in the path, not the bot token.
_NO_AUTH_PREFIXES: Final = ("/webhooks/", "/interactions/")
_FILES_PART_RE: Final = re.compile(r"files\[(\d+)\]")
_BOUNDARY_RE: Final = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_DISPOSITION_PARAM_RE: Final = re.compile(r'([\w*]+)=(?:"((?:[^"\\]|\\.)*)"|([^;]*))')


def _split_multipart(
    body: bytes, content_type: str
) -> Iterator[tuple[dict[str, str], dict[str, str], bytes]]:
    """The parts of a multipart/form-data body: (headers, Content-Disposition params, data)."""
    match = _BOUNDARY_RE.search(content_type)
    if match is None:
        raise DiscordError(400, 50035, "Invalid Form Body")
    delimiter = b"--" + (match[1] or match[2]).encode()
    # By offsets, so that each file is copied once (splitting and trimming copies of the
    # 10 MB a result message can carry were most of the fake's time reading an upload).
    start = body.find(delimiter)
    while start != -1:
        start += len(delimiter)
        end = body.find(delimiter, start)
        if end == -1:
            end = len(body)
        if body.startswith(b"--", start):
            return
        if body.startswith(b"\r\n", start):
            start += 2
        blank = body.find(b"\r\n\r\n", start, end)
        head_end, data_start = (end, end) if blank == -1 else (blank, blank + 4)
        data_end = end - 2 if body.endswith(b"\r\n", data_start, end) else end
        head, data = body[start:head_end], body[data_start:data_end]
        start = end if end < len(body) else -1
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        params: dict[str, str] = {}
        for key, quoted, bare in _DISPOSITION_PARAM_RE.findall(
            headers.get("content-disposition", "")
        ):
            if key.endswith("*"):  # RFC 5987: utf-8''percent-encoded
                params[key[:-1]] = unquote(bare.strip().split("'", 2)[-1])
            else:
                params.setdefault(key, re.sub(r"\\(.)", r"\1", quoted) if quoted else bare.strip())
        yield headers, params, data


class HttpPlumbing(World):
    """Records each request, reads its body and turns errors into Discord's answers."""

    @web.middleware
    async def _middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        if request.path == GATEWAY_PATH:
            return await handler(request)
        record = self._record_arrival(request)
        response = await self._answer(request, handler, record)
        record.status = response.status
        if isinstance(response, web.Response) and response.content_type == "application/json":
            with contextlib.suppress(ValueError, TypeError):
                record.response = json.loads(response.body)  # type: ignore[arg-type]
        if record.kind == "api" and response.status != 429:
            bucket = hashlib.sha256(f"{request.method} {record.route}".encode()).hexdigest()[:32]
            response.headers.update(
                {
                    "X-RateLimit-Limit": "50",
                    "X-RateLimit-Remaining": "49",
                    "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
                    "X-RateLimit-Reset-After": "1.000",
                    "X-RateLimit-Bucket": bucket,
                }
            )
        self._notify(record)
        return response

    def _record_arrival(self, request: web.Request) -> RecordedRequest:
        """Record a REST or CDN request as its headers arrive (never its Authorization)."""
        path = request.path
        kind = "api" if path.startswith(API_PREFIX + "/") else "cdn"
        rel = path[len(API_PREFIX) :] if kind == "api" else path
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else rel
        if kind == "api" and route.startswith(API_PREFIX):
            route = route[len(API_PREFIX) :]
        record = RecordedRequest(
            method=request.method,
            path=rel,
            route=route,
            kind=kind,
            query=dict(request.query),
            headers={k: v for k, v in request.headers.items() if k.lower() != "authorization"},
            at=time.monotonic(),
        )
        self.requests.append(record)
        request[RECORD] = record
        return record

    async def _answer(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
        record: RecordedRequest,
    ) -> web.StreamResponse:
        """An injected fault, or the handler's answer; errors become Discord's error bodies."""
        kind, rel = record.kind, record.path
        response: web.StreamResponse
        try:
            if kind == "api":
                await self._read_body(request, record)
            fault = self._take_fault(request.method, rel)
            if fault is not None:
                record.injected = True
                response = fault.respond()
            else:
                needs_auth = (
                    kind == "api" and rel != "/gateway" and not rel.startswith(_NO_AUTH_PREFIXES)
                )
                if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
                    raise DiscordError(401, 0, "401: Unauthorized")
                response = await handler(request)
        except DiscordError as exc:
            response = json_response(exc.body(), exc.status)
        except web.HTTPException as exc:
            response = json_response(
                {"message": f"{exc.status}: {exc.reason}", "code": 0}, exc.status
            )
        except Exception as exc:
            # A bug in the fake: answer 400 so discord.py does not retry for 25 s.
            log.exception("fake discord failed on %s %s", request.method, rel)
            self.internal_errors.append(f"{request.method} {rel}: {exc!r}")
            response = json_response(
                {"message": f"FakeDiscord internal error: {exc!r}", "code": -1}, 400
            )
        return response

    async def _read_body(self, request: web.Request, record: RecordedRequest) -> None:
        if not request.can_read_body:
            return
        # aiohttp re-parses headers on every .content_type access and per multipart part;
        # with 500 uploads at once that was most of the fake's time, so parse by hand.
        header = request.headers.get("Content-Type", "")
        content_type = header.split(";", 1)[0].strip().lower()
        # The pieces as they arrive, joined once: request.read() grows a bytearray and then
        # copies it into bytes, which was most of the fake's time receiving a 10 MB upload.
        pieces = [piece async for piece in request.content.iter_any()]
        raw = b"".join(pieces)
        del pieces
        record.body_at = time.monotonic()
        if content_type == "multipart/form-data":
            for headers, params, data in _split_multipart(raw, header):
                name = params.get("name", "")
                filename = params.get("filename")
                if name == "payload_json":
                    record.json = self._parse_json(data)
                elif filename is not None:
                    match = _FILES_PART_RE.fullmatch(name)
                    record.files.append(
                        UploadedFile(
                            index=int(match[1]) if match else None,
                            name=name,
                            filename=filename,
                            content_type=headers.get("content-type"),
                            data=data,
                        )
                    )
                else:
                    record.form[name] = data.decode(errors="replace")
        elif raw and content_type == "application/json":
            record.json = self._parse_json(raw)

    @staticmethod
    def _parse_json(raw: bytes) -> Any:
        try:
            return json.loads(raw)
        except ValueError:
            raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None

    @staticmethod
    def _body(request: web.Request) -> dict[str, Any]:
        body = request[RECORD].json
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "_errors": [
                        {
                            "code": "MODEL_TYPE_CONVERT",
                            "message": "Only dictionaries may be used in a ModelType",
                        }
                    ]
                },
            )
        return body

    @staticmethod
    def _snowflake(request: web.Request, key: str) -> int:
        try:
            return int(request.match_info[key])
        except ValueError:
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                {
                    key: {
                        "_errors": [
                            {"code": "NUMBER_TYPE_COERCE", "message": "Value is not snowflake."}
                        ]
                    }
                },
            ) from None

    def _guild_from(self, request: web.Request) -> FakeGuild:
        guild = self.guilds.get(self._snowflake(request, "guild_id"))
        if guild is None:
            raise DiscordError(404, 10004, "Unknown Guild")
        return guild
