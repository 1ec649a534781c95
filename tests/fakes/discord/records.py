"""What the fake records about each request: bodies, uploads, callbacks, violations, faults."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from tests.fakes.discord.common import FLAG_EPHEMERAL


@dataclass(frozen=True)
class UploadedFile:
    """One ``files[n]`` part of a multipart request."""

    index: int | None
    name: str
    filename: str
    content_type: str | None
    data: bytes


@dataclass(eq=False)
class RecordedRequest:
    """A REST or CDN request the fake received, with the answer it gave."""

    method: str
    path: str  # relative to /api/v10 for the API; the URL path for the CDN
    route: str  # the route template, e.g. "/channels/{channel_id}/messages"
    kind: str  # "api" or "cdn"
    query: dict[str, str]
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival (its headers read)
    body_at: float | None = None  # time.monotonic() once its body was read, before parsing it
    json: Any = None  # the JSON body, or the payload_json part of a multipart body
    files: list[UploadedFile] = field(default_factory=list)
    form: dict[str, str] = field(default_factory=dict)
    status: int = 0  # 0 while in flight
    response: Any = None
    injected: bool = False  # answered by rate_limit_next / fail_next


@dataclass(eq=False)
class Callback:
    """An initial interaction response (POST .../callback) as Discord judged it."""

    type: int
    data: dict[str, Any] | None
    files: list[UploadedFile]
    at: float
    elapsed: float | None  # seconds since the INTERACTION_CREATE was sent
    status: int = 0
    error_code: int | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def flags(self) -> int:
        return int((self.data or {}).get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)


@dataclass(frozen=True)
class Violation:
    """A request Discord would have rejected (or a timing rule the bot broke)."""

    kind: str  # "command", "message", "upload", "interaction" or "deadline"
    method: str
    path: str
    status: int
    code: int
    message: str
    errors: list[tuple[str, str, str]]  # (field path, error code, message)
    body: Any


@dataclass(frozen=True)
class CommandPut:
    """One bulk overwrite of commands (PUT), global when guild_id is None."""

    guild_id: int | None
    commands: list[dict[str, Any]]
    at: float
    status: int


@dataclass
class Fault:
    method: str
    pattern: str | re.Pattern[str]
    times: int
    respond: Callable[[], web.Response]

    def matches(self, method: str, path: str) -> bool:
        if self.method not in ("*", method):
            return False
        if isinstance(self.pattern, re.Pattern):
            return self.pattern.fullmatch(path) is not None
        return fnmatch.fnmatchcase(path, self.pattern)


RECORD: Final = web.RequestKey("record", RecordedRequest)
