"""The shared OpenAI transport against a scripted server on 127.0.0.1, and its retry policy."""

from __future__ import annotations

import email.utils
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bot.retry import RetryPolicy, server_wait
from bot.secrets import Secret
from bot.transport import APIFailure, Transport, safe_api_message
from tests.fakes._server import LoopbackServer

KEY = "sk-proj-" + "tr4nsportKey" * 4


@dataclass
class Scripted:
    status: int = 200
    body: Any = field(default_factory=lambda: {"ok": True})
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    headers: dict[str, str]
    content_type: str
    body: bytes


class ScriptedAPI(LoopbackServer):
    """Answers each POST with the next scripted answer (200 {"ok": true} when none is left)."""

    name = "the scripted API"

    def __init__(self) -> None:
        super().__init__()
        self.script: list[Scripted] = []
        self.seen: list[Seen] = []
        self.cut_before_body = 0  # requests whose connection is closed before their body is read
        self.cut = 0

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 << 20)
        app.router.add_post("/v1/{tail:.*}", self._answer)
        app.router.add_get("/files/{name}", self._file)
        return app

    async def _file(self, request: web.Request) -> web.Response:
        self.seen.append(Seen(dict(request.headers), "", b""))
        return web.Response(body=b"FILE" * 100)

    async def _answer(self, request: web.Request) -> web.Response:
        if self.cut < self.cut_before_body:
            self.cut += 1
            if request.transport is not None:
                request.transport.abort()
            return web.Response()  # never sent: the connection is gone
        body = await request.read()
        self.seen.append(Seen(dict(request.headers), request.content_type, body))
        answer = self.script.pop(0) if self.script else Scripted()
        headers = {"x-request-id": f"req_{len(self.seen)}", **answer.headers}
        text = answer.body if isinstance(answer.body, str) else json.dumps(answer.body)
        return web.Response(
            status=answer.status, text=text, content_type="application/json", headers=headers
        )

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"


def error(status: int, code: str | None = None, **extra: Any) -> Scripted:
    body = {"error": {"message": "nope", "type": "invalid_request_error", "code": code, **extra}}
    return Scripted(status=status, body=body)


@pytest.fixture
async def api() -> AsyncIterator[ScriptedAPI]:
    async with ScriptedAPI() as server:
        yield server


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


def transport(
    session: aiohttp.ClientSession,
    api: ScriptedAPI,
    *,
    key: str | None = KEY,
    max_attempts: int = 3,
    **options: Any,
) -> Transport:
    return Transport(
        session,
        base_url=api.base_url + "/",
        api_key=Secret(key) if key is not None else None,
        timeout=5.0,
        retry=RetryPolicy(max_attempts, deadline=10.0, backoff_base=0.01, backoff_cap=0.02),
        **options,
    )


async def post(client: Transport, *, max_body: int = 1 << 20) -> Any:
    answer = await client.post("/things", {"n": 1}, max_body=max_body, what="Test call")
    return json.loads(answer.body)


# --- the retry policy --------------------------------------------------------------------------


def test_backoff_is_full_jitter_under_the_capped_step() -> None:
    policy = RetryPolicy(backoff_base=0.5, backoff_cap=2.0)
    for attempt, step in [(1, 0.5), (2, 1.0), (3, 2.0), (9, 2.0)]:
        waits = [policy.backoff(attempt) for _ in range(200)]
        assert all(0.0 <= wait <= step for wait in waits)
        assert max(waits) > step / 2  # spread over the range, not a fixed wait


def test_next_wait_gives_up_after_the_attempts_or_past_the_deadline() -> None:
    policy = RetryPolicy(max_attempts=3, deadline=10.0, backoff_base=0.01, backoff_cap=0.01)
    deadline_at = policy.deadline_from(time.monotonic())
    assert policy.next_wait(1, deadline_at=deadline_at) is not None
    assert policy.next_wait(3, deadline_at=deadline_at) is None
    assert policy.next_wait(1, deadline_at=deadline_at, server_wait=20.0) is None
    assert policy.next_wait(1, deadline_at=deadline_at, server_wait=2.0) == 2.0


def test_a_policy_needs_one_attempt() -> None:
    with pytest.raises(ValueError, match="max_attempts must be 1 or more"):
        RetryPolicy(max_attempts=0)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after-ms": "250"}, 0.25),
        ({"retry-after-ms": "250", "retry-after": "30"}, 0.25),
        ({"retry-after-ms": "soon", "retry-after": "3"}, 3.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": "-1"}, None),
        ({"retry-after": "inf"}, None),
        ({"retry-after": "tomorrow-ish"}, None),
        ({}, None),
    ],
)
def test_server_wait_reads_both_headers(headers: dict[str, str], expected: float | None) -> None:
    assert server_wait(headers) == expected


def test_server_wait_reads_an_http_date() -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 28.0 <= (server_wait({"retry-after": when}) or 0.0) <= 30.0


def test_safe_api_message_masks_keys_and_shortens() -> None:
    text = f"Incorrect API key provided: {KEY}. Bearer abc.def " + "x " * 400
    cleaned = safe_api_message(text) or ""
    assert KEY not in cleaned
    assert "abc.def" not in cleaned
    assert len(cleaned) == 300
    assert safe_api_message("") is None


# --- requests ----------------------------------------------------------------------------------


async def test_headers_carry_the_key_organization_and_project(
    api: ScriptedAPI, session: aiohttp.ClientSession
) -> None:
    await post(transport(session, api, organization="org-1", project="proj_1"))
    await post(transport(session, api, key=None))

    with_ids, anonymous = api.seen
    assert with_ids.headers["Authorization"] == f"Bearer {KEY}"
    assert with_ids.headers["OpenAI-Organization"] == "org-1"
    assert with_ids.headers["OpenAI-Project"] == "proj_1"
    assert with_ids.content_type == "application/json"
    assert json.loads(with_ids.body) == {"n": 1}
    assert "Authorization" not in anonymous.headers
    assert "OpenAI-Project" not in anonymous.headers


@dataclass(frozen=True)
class File:
    data: bytes
    filename: str = "image.png"
    content_type: str = "image/png"


async def test_files_make_a_multipart_body(
    api: ScriptedAPI, session: aiohttp.ClientSession
) -> None:
    client = transport(session, api)
    await client.post(
        "/edits", {"n": 2}, files=[("image", File(b"PNGDATA"))], max_body=1024, what="Test"
    )

    [seen] = api.seen
    assert seen.content_type == "multipart/form-data"
    assert b"PNGDATA" in seen.body
    assert b'name="n"' in seen.body


async def test_before_reading_is_awaited_only_for_a_success(
    api: ScriptedAPI, session: aiohttp.ClientSession
) -> None:
    calls: list[str] = []

    async def before_reading() -> None:
        calls.append("called")

    client = transport(session, api, max_attempts=1)
    api.script.append(error(400))
    with pytest.raises(APIFailure):
        await client.post("/x", {}, max_body=1024, what="Test", before_reading=before_reading)
    assert calls == []
    await client.post("/x", {}, max_body=1024, what="Test", before_reading=before_reading)
    assert calls == ["called"]


async def test_an_answer_over_the_cap_is_malformed_and_not_retried(
    api: ScriptedAPI, session: aiohttp.ClientSession
) -> None:
    api.script.append(Scripted(body={"data": "x" * 5000}))

    with pytest.raises(APIFailure) as caught:
        await post(transport(session, api), max_body=1000)

    assert caught.value.kind == "malformed"
    assert caught.value.request_id == "req_1"
    assert len(api.seen) == 1


async def test_a_linked_file_is_fetched_without_the_api_headers(
    api: ScriptedAPI, session: aiohttp.ClientSession
) -> None:
    client = transport(session, api, organization="org-1")

    data = await client.download(api.root_url + "/files/result.png", max_bytes=1000)

    assert data == b"FILE" * 100
    [seen] = api.seen
    assert "Authorization" not in seen.headers
    assert "OpenAI-Organization" not in seen.headers


# --- failures ----------------------------------------------------------------------------------

KINDS = [
    (error(400), "invalid_request", False),
    (error(404, "model_not_found"), "model_not_found", False),
    (error(400, "moderation_blocked"), "content_policy", False),
    (error(422), "invalid_request", False),
    (error(401, "invalid_api_key"), "authentication", False),
    (error(403), "authentication", False),
    (error(429, "insufficient_quota"), "quota", False),
    (error(429, None, type="insufficient_quota"), "quota", False),
    (error(429, "rate_limit_exceeded"), "rate_limited", True),
    (error(408), "timeout", True),
    (error(409), "conflict", True),
    (error(500), "server_error", True),
    (error(503), "server_error", True),
    (Scripted(status=502, body="<html>Bad Gateway</html>"), "server_error", True),
    (error(418), "invalid_request", False),
]


@pytest.mark.parametrize(("answer", "kind", "retried"), KINDS)
async def test_each_status_becomes_a_kind(
    api: ScriptedAPI, session: aiohttp.ClientSession, answer: Scripted, kind: str, retried: bool
) -> None:
    api.script.extend([answer, answer])

    with pytest.raises(APIFailure) as caught:
        await post(transport(session, api, max_attempts=2))

    failure = caught.value
    assert failure.kind == kind
    assert failure.status == answer.status
    assert failure.retryable is retried
    assert len(api.seen) == (2 if retried else 1)
    assert failure.request_id == f"req_{len(api.seen)}"


async def test_x_should_retry_overrides_the_status(
    api: ScriptedAPI, session: aiohttp.ClientSession
) -> None:
    told_to_retry = error(400)
    told_to_retry.headers["x-should-retry"] = "true"
    told_to_stop = error(500)
    told_to_stop.headers["x-should-retry"] = "false"
    api.script.extend([told_to_retry, told_to_stop])

    with pytest.raises(APIFailure) as caught:
        await post(transport(session, api))

    assert caught.value.kind == "server_error"
    assert len(api.seen) == 2


async def test_a_429_pauses_the_next_call_and_tells_the_listener(
    api: ScriptedAPI, session: aiohttp.ClientSession
) -> None:
    told: list[float] = []

    async def on_rate_limited(seconds: float) -> None:
        told.append(seconds)

    limited = error(429, "rate_limit_exceeded")
    limited.headers["retry-after-ms"] = "300"
    api.script.append(limited)
    client = transport(session, api, max_attempts=1)
    client.on_rate_limited = on_rate_limited

    with pytest.raises(APIFailure) as caught:
        await post(client)
    started = time.monotonic()
    assert await post(client) == {"ok": True}

    assert caught.value.retry_after == pytest.approx(0.3)
    assert told == [pytest.approx(0.3)]
    assert time.monotonic() - started >= 0.25  # waited out the cool-down first


async def test_an_unreachable_server_is_a_network_failure(
    session: aiohttp.ClientSession,
) -> None:
    async with ScriptedAPI() as api:
        client = transport(session, api, max_attempts=2)
    # The server is closed: nothing listens on its port any more.
    with pytest.raises(APIFailure) as caught:
        await post(client)

    assert caught.value.kind == "network"
    assert not caught.value.maybe_paid  # nothing reached a server: safe to send again
    assert isinstance(caught.value.__cause__, aiohttp.ClientError)


async def test_a_connection_cut_before_the_body_was_sent_is_retried(
    api: ScriptedAPI, session: aiohttp.ClientSession
) -> None:
    # Larger than loopback's socket buffers, so the cut lands while the body is being sent.
    api.cut_before_body = 1
    # (In parts under 1 MiB: aiohttp warns about larger bytes bodies.)
    parts = [("image[]", File(b"\0" * 1_000_000)) for _ in range(32)]

    answer = await transport(session, api).post(
        "/things", {"n": 1}, files=parts, max_body=1 << 20, what="Test call"
    )

    assert json.loads(answer.body) == {"ok": True}
    assert api.cut == 1
    assert len(api.seen) == 1  # the second attempt, received whole


async def test_a_success_over_the_cap_may_be_paid(
    api: ScriptedAPI, session: aiohttp.ClientSession
) -> None:
    api.script.append(Scripted(body={"data": "x" * 2000}))

    with pytest.raises(APIFailure) as caught:
        await post(transport(session, api), max_body=100)

    assert (caught.value.kind, caught.value.maybe_paid, caught.value.retryable) == (
        "malformed",
        True,
        False,
    )
    assert len(api.seen) == 1


async def test_an_echoed_key_is_masked_everywhere(
    api: ScriptedAPI, session: aiohttp.ClientSession, caplog: pytest.LogCaptureFixture
) -> None:
    short_key = "local-secret-7"  # not key-like: only the transport knows to hide it
    api.script.append(error(401, "invalid_api_key", message=f"Incorrect API key: {short_key}"))
    client = transport(session, api, key=short_key)

    with caplog.at_level(logging.DEBUG), pytest.raises(APIFailure) as caught:
        await post(client)

    failure = caught.value
    assert failure.api_message == "Incorrect API key: [hidden]"
    for text in (str(failure), repr(failure), caplog.text, repr(client)):
        assert short_key not in text
    assert [record.levelno for record in caplog.records] == [logging.ERROR]
