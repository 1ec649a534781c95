"""One way to call an OpenAI-compatible API, shared by the Images and moderation clients.

Like openai-python's `_base_client.py` serves every resource, `Transport` owns what every call
needs: the auth and organisation/project headers, the request timeout, a capped body read, an
error answer turned into an `APIFailure` (a kind and its fields, no sentences), and one retry
policy: backoff with full jitter, never shorter than the server's `Retry-After` /
`retry-after-ms`, an `x-should-retry` answer obeyed, within a number of attempts and a deadline.
After a 429 that names a wait, every call of the transport holds off until that wait is over.
`RetryPolicy` knows nothing of HTTP, so other senders (posting to Discord) can use it too.

The Images API has no idempotency key, so a request the server may have carried out (and
billed) is never sent again. Per attempt: the connection failed, or broke before the body's
last byte was handed to it: retried by the policy; an error status (429 not quota, 408, 409,
5xx): the server says no image was made, retried by the policy; the whole request sent, then
a timeout, a reset, or a 2xx answer cut short, too large or unreadable: the images may exist
and be billed, so the failure is `maybe_paid`, never retried (unless the call is
`idempotent`); the caller tells the member and charges as the API would.

A streamed answer (`read_lines`, server-sent events) follows the same rule once its 200 has
begun: it is never sent again. Its `error` event is the server's own word that no image was
made (not charged, not retried); a stream cut off, ending before its final event, or holding
an unreadable event may have been carried out, so it is `maybe_paid` (bot.images.stream).
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import aiohttp

from bot.downloads import DownloadTooLarge, download, read_capped
from bot.retry import CoolDown, RetryPolicy, server_wait
from bot.secrets import Secret
from bot.wire import Fields, Upload, WatchedBody, answer_lines, request_body

log = logging.getLogger(__name__)

FailureKind = Literal[
    "invalid_request",
    "model_not_found",
    "content_policy",
    "authentication",
    "quota",
    "rate_limited",
    "conflict",
    "server_error",
    "timeout",
    "network",
    "malformed",
]
# openai-python's `_should_retry`: 408, 409, 429 and 5xx, and a dropped or slow connection.
_RETRYABLE: frozenset[FailureKind] = frozenset(
    {"rate_limited", "conflict", "server_error", "timeout", "network"}
)
_QUOTA_CODES = frozenset(
    {
        "insufficient_quota",
        "credit_balance_exhausted",
        "organization_spend_limit_exceeded",
        "project_spend_limit_exceeded",
        "organization_usage_limit_exceeded",
    }
)
_POLICY_CODES = frozenset({"content_policy_violation", "moderation_blocked"})
# Failures that are the operator's to fix (a wrong key, an unknown model): logged as errors.
_OPERATOR_STATUSES = frozenset({401, 403, 404})

# API messages may be shown to members; anything that looks like a key is cut out first
# (OpenAI's 401 text echoes part of the key, and a proxy might echo more).
_SECRETISH = re.compile(r"(sk-[A-Za-z0-9_\-*]{3,}|Bearer\s+\S+|[A-Za-z0-9_\-]{32,})")
_MAX_API_MESSAGE = 300


def safe_api_message(text: str | None) -> str | None:
    """The API's own error text, shortened and with anything key-like masked."""
    if not text:
        return None
    cleaned = _SECRETISH.sub("[hidden]", " ".join(text.split()))
    if len(cleaned) > _MAX_API_MESSAGE:
        cleaned = cleaned[: _MAX_API_MESSAGE - 1] + "…"
    return cleaned


class APIFailure(Exception):
    """A call that failed, as data: its kind, the API's fields and the server's wishes.

    `retry_after` is the wait the server asked for (seconds), `should_retry` its
    `x-should-retry` answer (None when it gave none). `api_message` is already masked.
    """

    def __init__(
        self,
        kind: FailureKind,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        api_message: str | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        should_retry: bool | None = None,
        maybe_paid: bool = False,
    ) -> None:
        super().__init__(kind)
        self.kind: FailureKind = kind
        self.status = status
        self.code = code
        self.param = param
        self.api_message = api_message
        self.request_id = request_id
        self.retry_after = retry_after
        self.should_retry = should_retry
        # The whole request was sent and no readable answer came back: the server may have
        # made (and billed) the images, so another attempt could pay twice.
        self.maybe_paid = maybe_paid

    @property
    def retryable(self) -> bool:
        """Whether another attempt may help without paying twice: never for a request that
        may have been carried out; else the server's word first, then the kind."""
        if self.maybe_paid:
            return False
        if self.should_retry is not None:
            return self.should_retry
        return self.kind in _RETRYABLE

    def __repr__(self) -> str:
        return (
            f"APIFailure(kind={self.kind!r}, status={self.status!r}, code={self.code!r}, "
            f"request_id={self.request_id!r}, maybe_paid={self.maybe_paid!r})"
        )


BeforeReading = Callable[[], Awaitable[object]]
"""Awaited when a successful answer has arrived, before its body is read."""
ReadLines = Callable[[AsyncIterator[bytes]], Awaitable[object]]
"""Reads a successful answer's body line by line as it arrives (a server-sent event stream)."""


@dataclass(frozen=True, slots=True)
class Answer:
    """A successful answer: its status, headers and body as read."""

    status: int
    headers: Mapping[str, str]
    body: bytearray  # as read: callers may decode views of it rather than copies

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")


def openai_headers(
    api_key: Secret | None, organization: str | None, project: str | None
) -> dict[str, str]:
    """An OpenAI-compatible API's request headers (also the doctor's, for `GET /models`)."""
    headers = {"Accept": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key.reveal()}"
    if organization:
        headers["OpenAI-Organization"] = organization
    if project:
        headers["OpenAI-Project"] = project
    return headers


class CallObserver(Protocol):
    """Told of each attempt (for metrics: `bot.metrics.Metrics` is one); must not block."""

    def call_started(self, call: str) -> None: ...
    def call_finished(self, call: str, seconds: float, outcome: str) -> None: ...
    def call_retrying(self, call: str) -> None: ...


class Transport:
    """Sends requests to one OpenAI-compatible API over the process's one aiohttp session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: Secret | None,
        organization: str | None = None,
        project: str | None = None,
        timeout: float,
        retry: RetryPolicy,
    ) -> None:
        self._session = session
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._organization = organization
        self._project = project
        self._timeout = timeout
        self.retry = retry
        self._cool_down = CoolDown()
        # Told the server's wait after every 429 that is not about quota, so that a shared
        # limiter can hold back other processes too; this transport's own calls already wait.
        self.on_rate_limited: Callable[[float], Awaitable[object]] | None = None
        self.observer: CallObserver | None = None

    def __repr__(self) -> str:
        return f"Transport(base_url={self.base_url!r})"

    async def download(self, url: str, *, max_bytes: int) -> bytes:
        """Fetch a file the API answered with a link to, within the request timeout.

        Sent without the API's headers: the link is signed, and the key must not travel to
        another host.
        """
        return await download(self._session, url, max_bytes=max_bytes, timeout=self._timeout)

    async def post(
        self,
        path: str,
        fields: Fields,
        *,
        files: Sequence[tuple[str, Upload]] = (),
        max_body: int,
        what: str,
        before_reading: BeforeReading | None = None,
        idempotent: bool = False,
        read_lines: ReadLines | None = None,
    ) -> Answer:
        """POST `fields` (JSON, or multipart with `files`), retrying as the policy allows.

        `what` names the call in the log; `max_body` caps the answer's size. `idempotent`:
        asking again costs nothing and changes nothing (moderation), so a lost answer is
        retried too. `read_lines`: a successful answer is a stream, handed over line by line
        as it arrives (within `max_body` in all) instead of being read whole; the `Answer` then
        has an empty body. A failure while it streams is "maybe paid", like a cut-short body;
        an `APIFailure` that `read_lines` raises (the stream's own error event) ends the call
        as it is; `before_reading` is then the reader's to await (for the final image, not
        before the previews). Raises the last `APIFailure` when the policy gives up.
        """
        deadline_at = self.retry.deadline_from(time.monotonic())
        last: APIFailure | None = None
        attempt = 0
        while True:
            attempt += 1
            if not await self._cool_down.wait(deadline_at):
                raise last or APIFailure("rate_limited", retry_after=self._cool_down.remaining())
            began, outcome = self._observe_start(what), "cancelled"
            try:
                answer = await self._post_once(
                    path, fields, files, max_body, before_reading, read_lines
                )
                outcome = "ok"
                return answer
            except APIFailure as failure:
                failure.maybe_paid = failure.maybe_paid and not idempotent
                last, outcome = failure, failure.kind
            finally:
                if self.observer is not None:
                    self.observer.call_finished(what, time.monotonic() - began, outcome)
            wait = await self._after_failure(last, attempt, deadline_at, what)
            if wait is None:
                raise last
            if self.observer is not None:
                self.observer.call_retrying(what)
            await asyncio.sleep(wait)

    def _observe_start(self, what: str) -> float:
        if self.observer is not None:
            self.observer.call_started(what)
        return time.monotonic()

    async def _post_once(
        self,
        path: str,
        fields: Fields,
        files: Sequence[tuple[str, Upload]],
        max_body: int,
        before_reading: BeforeReading | None,
        read_lines: ReadLines | None = None,
    ) -> Answer:
        body = WatchedBody(request_body(fields, files))
        status: int | None = None
        request_id: str | None = None
        try:
            async with self._session.post(
                self.base_url + path,
                data=body,
                headers=self._headers(),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as response:
                status, request_id = response.status, response.headers.get("x-request-id")
                # A server that ignores `stream` answers JSON: read as usual. A stream's reader
                # waits `before_reading` itself, for its last image, not before its previews.
                streamed = read_lines is not None and response.content_type == "text/event-stream"
                if before_reading is not None and 200 <= status < 300 and not streamed:
                    await before_reading()
                try:
                    if read_lines is not None and streamed and 200 <= status < 300:
                        await _read_stream(read_lines, response, max_body)
                        return Answer(status, response.headers, bytearray())
                    answer = Answer(status, response.headers, await read_capped(response, max_body))
                except DownloadTooLarge:
                    raise APIFailure(
                        "malformed", status=status, request_id=request_id, maybe_paid=True
                    ) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            # An error status already said no image was made; a cut-short answer did not.
            paid = body.sent and (status is None or 200 <= status < 300)
            kind: FailureKind = "timeout" if isinstance(exc, TimeoutError) else "network"
            raise APIFailure(kind, status=status, request_id=request_id, maybe_paid=paid) from exc
        if not 200 <= answer.status < 300:
            raise self._failure(answer)
        return answer

    def _headers(self) -> dict[str, str]:
        # Built per request so the revealed key is never kept in an attribute.
        return openai_headers(self._api_key, self._organization, self._project)

    def _failure(self, answer: Answer) -> APIFailure:
        """The failure an error answer stands for, from its status and the API's error object."""
        error: Mapping[str, Any] = {}
        try:
            payload = json.loads(answer.body)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            error = payload["error"]
        code = _text(error.get("code"))
        should_retry = answer.headers.get("x-should-retry", "").lower()
        return APIFailure(
            _kind(answer.status, code, _text(error.get("type"))),
            status=answer.status,
            code=code,
            param=_text(error.get("param")),
            api_message=self._mask(_text(error.get("message"))),
            request_id=answer.request_id,
            retry_after=server_wait(answer.headers),
            should_retry={"true": True, "false": False}.get(should_retry),
        )

    def _mask(self, text: str | None) -> str | None:
        # safe_api_message masks key-like text; this also catches keys that do not look like one.
        key = self._api_key.reveal() if self._api_key else ""
        if text and key:
            text = text.replace(key, "[hidden]")
        return safe_api_message(text)

    async def _after_failure(
        self, failure: APIFailure, attempt: int, deadline_at: float, what: str
    ) -> float | None:
        """Share a 429's wait, log the attempt, and return the wait before the next (or None)."""
        if failure.kind == "rate_limited" and failure.retry_after:
            self._cool_down.extend(failure.retry_after)
            if self.on_rate_limited is not None:
                await self.on_rate_limited(failure.retry_after)
        wait = (
            self.retry.next_wait(attempt, deadline_at=deadline_at, server_wait=failure.retry_after)
            if failure.retryable
            else None
        )
        log.log(
            logging.ERROR if failure.status in _OPERATOR_STATUSES else logging.WARNING,
            "%s attempt %d/%d failed: %s status=%s code=%s request_id=%s api_message=%s; %s",
            what,
            attempt,
            self.retry.max_attempts,
            failure.kind,
            failure.status,
            failure.code,
            failure.request_id,
            failure.api_message,
            _next_step(failure, wait),
        )
        return wait


async def _read_stream(
    read_lines: ReadLines, response: aiohttp.ClientResponse, max_body: int
) -> None:
    try:
        await read_lines(answer_lines(response.content, max_body))
    except APIFailure as failure:  # the stream's own verdict: note whose answer it was
        failure.request_id = failure.request_id or response.headers.get("x-request-id")
        raise


def stream_failure(error: Mapping[str, Any]) -> APIFailure:
    """The failure a stream's `error` event stands for (its data is the API's `Error` object).

    The answer had begun with a 200, so the request was carried out as far as the server got:
    it is never sent again (`should_retry=False`), but the server said it made no image, so it
    is not "maybe paid" either. A content-policy or quota code keeps its meaning.
    """
    code, error_type = _text(error.get("code")), _text(error.get("type"))
    kind: FailureKind = "server_error"
    if code in _POLICY_CODES:
        kind = "content_policy"
    elif code in _QUOTA_CODES or error_type in _QUOTA_CODES:
        kind = "quota"
    message = error.get("message")
    return APIFailure(
        kind,
        status=200,
        code=code,
        param=_text(error.get("param")),
        api_message=safe_api_message(message if isinstance(message, str) else None),
        should_retry=False,
    )


def _next_step(failure: APIFailure, wait: float | None) -> str:
    if failure.maybe_paid:
        return "not sent again: the request arrived whole and may have been carried out"
    return "giving up" if wait is None else f"retrying in {wait:.2f}s"


def _kind(status: int, code: str | None, error_type: str | None) -> FailureKind:
    """What an error status means, refined by the API's `code` (and `type`, for quota)."""
    if status in (400, 404, 422):
        if code == "model_not_found":
            return "model_not_found"
        if code in _POLICY_CODES:
            return "content_policy"
        return "invalid_request"
    if status in (401, 403):
        return "authentication"
    if status == 429:
        quota = code in _QUOTA_CODES or error_type in _QUOTA_CODES
        return "quota" if quota else "rate_limited"
    if status == 408:
        return "timeout"
    if status == 409:
        return "conflict"
    if status >= 500:
        return "server_error"
    return "invalid_request"


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
