"""The Images API client: generations, edits and variations over the process's one aiohttp session.

Mirrors openai-python's `resources/images.py`: keyword-only methods that return typed results,
with HTTP failures mapped to the exceptions in `bot.images.errors`. Transient failures are
retried with capped exponential backoff and full jitter. After a 429 that names a wait, every
call of the client holds off until that wait is over: one shared cool-down, so concurrent
workers do not each hammer a server that asked them to stop.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import random
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

import aiohttp

from bot.downloads import DownloadError, DownloadTooLarge, download, read_capped
from bot.errors import InvalidInput
from bot.images.b64json import Base64, decode_base64, parse_answer
from bot.images.errors import (
    AuthenticationFailed,
    ContentPolicyViolation,
    ImagesError,
    InvalidRequest,
    MalformedResponse,
    ModelNotFound,
    NetworkFailure,
    QuotaExhausted,
    RateLimited,
    UpstreamFailure,
    UpstreamTimeout,
    safe_api_message,
)
from bot.images.profiles import MiB, ModelProfile, Operation
from bot.images.requests import ImageOptions, InputImage
from bot.images.results import GeneratedImage, ImagesResult, Usage
from bot.imaging import ImageInfo, probe
from bot.secrets import Secret

log = logging.getLogger(__name__)

_DEFAULT_OPTIONS = ImageOptions()
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
_RESULT_FORMATS = frozenset({"png", "jpeg", "webp"})


BeforeReading = Callable[[], Awaitable[object]]
"""Awaited when a successful answer has arrived, before its body (the images) is read."""


@dataclass(frozen=True, slots=True)
class _Request:
    """One API call: its endpoint, its fields and, for multipart calls, the files to upload."""

    operation: Operation
    path: str
    fields: dict[str, str | int]
    files: tuple[tuple[str, InputImage], ...] = ()
    before_reading: BeforeReading | None = None

    def body(self) -> tuple[dict[str, str | int] | None, aiohttp.FormData | None]:
        """A JSON body, or a fresh multipart form (aiohttp empties a form once it is sent)."""
        if not self.files:
            return self.fields, None
        form = aiohttp.FormData()
        for name, value in self.fields.items():
            form.add_field(name, str(value))
        for name, image in self.files:
            form.add_field(
                name, image.data, filename=image.filename, content_type=image.content_type
            )
        return None, form


@dataclass(frozen=True, slots=True)
class _Answer:
    status: int
    headers: Mapping[str, str]
    body: bytearray  # as read: a result's images are decoded from views of it, not copies

    @property
    def request_id(self) -> str | None:
        return self.headers.get("x-request-id")


class _CoolDown:
    """A pause shared by every call of one client: nobody sends before it ends."""

    def __init__(self) -> None:
        self._until = 0.0  # time.monotonic() value

    def extend(self, seconds: float) -> None:
        self._until = max(self._until, time.monotonic() + seconds)

    def remaining(self) -> float:
        return max(0.0, self._until - time.monotonic())

    async def wait(self, deadline: float) -> bool:
        """Sleep until the pause is over; False at once if it lasts past `deadline`."""
        # A loop, because another call may extend the pause while this one sleeps.
        while (until := self._until) > (now := time.monotonic()):
            if until > deadline:
                return False
            await asyncio.sleep(until - now)
        return True


class ImagesClient:
    """Calls one OpenAI-compatible Images API with one model, following that model's profile."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        api_key: Secret | None,
        profile: ModelProfile,
        organization: str | None = None,
        project: str | None = None,
        timeout: float = 180.0,
        max_attempts: int = 3,
        retry_deadline: float = 300.0,
        max_result_bytes: int = 50 * MiB,
        backoff_base: float = 0.5,
        backoff_cap: float = 20.0,
        on_rate_limited: Callable[[float], Awaitable[object]] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be 1 or more")
        self._session = session
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._profile = profile
        self._organization = organization
        self._project = project
        self._timeout = timeout
        self._max_attempts = max_attempts
        self._retry_deadline = retry_deadline
        self._max_result_bytes = max_result_bytes
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        self._cool_down = _CoolDown()
        # Told the server's wait after every 429 that is not about quota, so that a shared
        # limiter can hold back other processes too; this client's own calls already wait.
        self.on_rate_limited = on_rate_limited

    def __repr__(self) -> str:
        return (
            f"ImagesClient(base_url={self._base_url!r}, model={self._profile.model!r}, "
            f"family={self._profile.family!r})"
        )

    @property
    def profile(self) -> ModelProfile:
        return self._profile

    async def generate(
        self,
        *,
        prompt: str,
        user: str,
        options: ImageOptions = _DEFAULT_OPTIONS,
        before_reading: BeforeReading | None = None,
    ) -> ImagesResult:
        """Create images from a prompt (`POST /images/generations`, JSON).

        `before_reading` (every method): awaited once the answer has arrived, before the
        images are read, e.g. to wait until there is memory for them.
        """
        fields = self._fields("generate", prompt=prompt, user=user, options=options)
        return await self._create(
            _Request("generate", "/images/generations", fields, before_reading=before_reading)
        )

    async def edit(
        self,
        *,
        images: Sequence[InputImage],
        prompt: str,
        user: str,
        mask: InputImage | None = None,
        options: ImageOptions = _DEFAULT_OPTIONS,
        before_reading: BeforeReading | None = None,
    ) -> ImagesResult:
        """Edit or combine images guided by a prompt (`POST /images/edits`, multipart)."""
        profile = self._profile
        if not profile.supports_edits:
            raise ValueError(f"{profile.family} models do not support edits")
        if not 1 <= len(images) <= profile.input.max_images:
            raise ValueError(
                f"{profile.family} edits take 1 to {profile.input.max_images} images, "
                f"not {len(images)}"
            )
        fields = self._fields("edit", prompt=prompt, user=user, options=options)
        # One image goes as `image`; several as repeated `image[]` parts (the spec's curl example).
        name = "image" if len(images) == 1 else "image[]"
        files = [(name, image) for image in images]
        if mask is not None:
            files.append(("mask", mask))
        return await self._create(
            _Request("edit", "/images/edits", fields, tuple(files), before_reading)
        )

    async def create_variation(
        self,
        *,
        image: InputImage,
        user: str,
        options: ImageOptions = _DEFAULT_OPTIONS,
        before_reading: BeforeReading | None = None,
    ) -> ImagesResult:
        """Create variations of an image (`POST /images/variations`, multipart)."""
        if not self._profile.supports_variations:
            raise ValueError(f"{self._profile.family} models do not support variations")
        fields = self._fields("variation", prompt=None, user=user, options=options)
        return await self._create(
            _Request("variation", "/images/variations", fields, (("image", image),), before_reading)
        )

    def _fields(
        self, operation: Operation, *, prompt: str | None, user: str, options: ImageOptions
    ) -> dict[str, str | int]:
        """The request's fields: only those the profile accepts, and `model` always."""
        profile = self._profile
        fields: dict[str, str | int] = {"model": profile.model}
        if prompt is not None:
            fields["prompt"] = prompt
        fields["n"] = options.n
        if options.size is not None:
            fields["size"] = options.size
        for name, value in options.optional_fields().items():
            if not profile.accepts(operation, name):
                raise ValueError(
                    f"{profile.family} does not take {name!r} on {operation}; "
                    "validate the options before calling the client"
                )
            fields[name] = value
        if profile.response_format is not None and profile.accepts(operation, "response_format"):
            fields["response_format"] = profile.response_format
        fields["user"] = user
        if profile.sends_safety_identifier:
            fields["safety_identifier"] = user
        return fields

    async def _create(self, request: _Request) -> ImagesResult:
        started = time.monotonic()
        answer = await self._send(request, deadline=started + self._retry_deadline)
        request_id = answer.request_id
        try:
            payload = await asyncio.to_thread(parse_answer, answer.body)
        except ValueError as exc:
            raise MalformedResponse(status=answer.status, request_id=request_id) from exc
        items = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(items, list) or not items:
            log.warning(
                "Images API %s answered without images (request_id=%s)",
                request.operation,
                request_id,
            )
            raise MalformedResponse(status=answer.status, request_id=request_id)
        images = await self._read_images(items, request_id)
        created = payload.get("created")
        return ImagesResult(
            images=images,
            created=created if _is_int(created) else int(time.time()),
            model=self._profile.model,
            usage=_usage(payload.get("usage")),
            request_id=request_id,
            upstream_seconds=time.monotonic() - started,
        )

    async def _send(self, request: _Request, *, deadline: float) -> _Answer:
        """POST the request, retrying transient failures within the attempts and the deadline."""
        url = self._base_url + request.path
        last_error: ImagesError | None = None
        attempt = 0
        while True:
            attempt += 1
            if not await self._cool_down.wait(deadline):
                raise last_error or RateLimited(retry_after=self._cool_down.remaining())
            error: ImagesError
            server_wait: float | None = None
            should_retry = True
            try:
                answer = await self._post(url, request)
            except (UpstreamTimeout, NetworkFailure) as exc:
                error = exc
            else:
                if 200 <= answer.status < 300:
                    return answer
                server_wait = _server_wait(answer.headers)
                error = self._error_from(answer, server_wait)
                should_retry = answer.headers.get("x-should-retry", "").lower() != "false"
                if isinstance(error, RateLimited) and server_wait:
                    self._cool_down.extend(server_wait)
                    if self.on_rate_limited is not None:
                        await self.on_rate_limited(server_wait)
            last_error = error
            # Backoff with full jitter, but never shorter than the wait the server asked for.
            wait = max(server_wait or 0.0, self._backoff(attempt))
            gives_up = (
                not (error.retryable and should_retry)
                or attempt >= self._max_attempts
                or time.monotonic() + wait > deadline
            )
            log.warning(
                "Images API %s attempt %d/%d failed: %s status=%s code=%s request_id=%s "
                "api_message=%s; %s",
                request.operation,
                attempt,
                self._max_attempts,
                type(error).__name__,
                error.status,
                error.code,
                error.request_id,
                error.api_message,
                "giving up" if gives_up else f"retrying in {wait:.2f}s",
            )
            if gives_up:
                raise error
            await asyncio.sleep(wait)

    async def _post(self, url: str, request: _Request) -> _Answer:
        json_body, form = request.body()
        # Room for n images at the size cap, base64-encoded, plus the JSON around them.
        n = int(request.fields.get("n", 1))
        max_body = max(n, 1) * self._max_result_bytes * 4 // 3 + MiB
        try:
            async with self._session.post(
                url,
                json=json_body,
                data=form,
                headers=self._headers(),
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as response:
                if request.before_reading is not None and 200 <= response.status < 300:
                    await request.before_reading()
                body = await _read_body(response, max_body)
                return _Answer(response.status, response.headers, body)
        except TimeoutError as exc:
            raise UpstreamTimeout() from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise NetworkFailure() from exc

    def _headers(self) -> dict[str, str]:
        # Built per request so the revealed key is never kept in an attribute.
        headers = {"Accept": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key.reveal()}"
        if self._organization:
            headers["OpenAI-Organization"] = self._organization
        if self._project:
            headers["OpenAI-Project"] = self._project
        return headers

    def _error_from(self, answer: _Answer, server_wait: float | None) -> ImagesError:
        """The exception for an error answer, from its status and the API's error object."""
        error: Mapping[str, Any] = {}
        try:
            payload = json.loads(answer.body)
        except ValueError:
            payload = None
        if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
            error = payload["error"]
        code, kind = _text(error.get("code")), _text(error.get("type"))
        message = self._without_key(_text(error.get("message")))
        details: dict[str, Any] = {
            "status": answer.status,
            "code": code,
            "param": _text(error.get("param")),
            "api_message": message,
            "request_id": answer.request_id,
        }
        status = answer.status
        if status in (400, 404, 422):
            if code == "model_not_found":
                return ModelNotFound(**details)
            if code in _POLICY_CODES:
                return ContentPolicyViolation(**details)
            return _invalid_request(details)
        if status in (401, 403):
            return AuthenticationFailed(**details)
        if status == 429:
            if code in _QUOTA_CODES or kind in _QUOTA_CODES:
                return QuotaExhausted(**details)
            return RateLimited(retry_after=server_wait, **details)
        if status == 408:
            return UpstreamTimeout(**details)
        if status >= 500:
            return UpstreamFailure(**details)
        return _invalid_request(details)

    def _without_key(self, text: str | None) -> str | None:
        # safe_api_message masks key-like text; this also catches keys that do not look like one.
        key = self._api_key.reveal() if self._api_key else ""
        if text and key and key in text:
            return text.replace(key, "[hidden]")
        return text

    def _backoff(self, attempt: int) -> float:
        """Full jitter: a random wait up to the capped exponential step."""
        step = min(self._backoff_cap, self._backoff_base * 2 ** (attempt - 1))
        return random.uniform(0.0, step)

    async def _read_images(
        self, items: list[Any], request_id: str | None
    ) -> tuple[GeneratedImage, ...]:
        """Every result image as checked bytes, URL results downloaded, all concurrently."""
        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(self._read_image(item, request_id)) for item in items]
        except ExceptionGroup as failed:
            # The first failure is the one to report; the group cancelled the others.
            raise failed.exceptions[0]  # noqa: B904 - keep its own cause
        return tuple(task.result() for task in tasks)

    async def _read_image(self, item: object, request_id: str | None) -> GeneratedImage:
        # A failed or oversized download is MalformedResponse, not a retryable network error:
        # the images were made (and billed), and retrying would pay for new ones.
        fields = item if isinstance(item, dict) else {}
        encoded, url = fields.get("b64_json"), fields.get("url")
        try:
            if isinstance(encoded, str | memoryview) and len(encoded):
                data, info = await asyncio.to_thread(_decode_image, encoded, self._max_result_bytes)
            elif isinstance(url, str) and url:
                data = await download(
                    self._session, url, max_bytes=self._max_result_bytes, timeout=self._timeout
                )
                info = await asyncio.to_thread(_check_image, data, self._max_result_bytes)
            else:
                raise ValueError("an item with neither b64_json nor url")
        except (ValueError, DownloadError) as exc:
            log.warning("Images API sent an unusable image (request_id=%s): %s", request_id, exc)
            raise MalformedResponse(status=200, request_id=request_id) from exc
        revised = fields.get("revised_prompt")
        return GeneratedImage(
            data=data,
            format=info.format,
            width=info.width,
            height=info.height,
            revised_prompt=revised if isinstance(revised, str) and revised else None,
        )


async def _read_body(response: aiohttp.ClientResponse, max_body: int) -> bytearray:
    """The whole body, or MalformedResponse past `max_body`."""
    try:
        return await read_capped(response, max_body)
    except DownloadTooLarge:
        raise MalformedResponse(
            status=response.status, request_id=response.headers.get("x-request-id")
        ) from None


def _decode_image(encoded: Base64, max_bytes: int) -> tuple[bytes, ImageInfo]:
    """Decode and check a `b64_json` result (CPU work: callers run it in a thread)."""
    data = decode_base64(encoded)
    return data, _check_image(data, max_bytes)


def _check_image(data: bytes, max_bytes: int) -> ImageInfo:
    """The image's real format and size, judged from its bytes; ValueError if unusable."""
    if len(data) > max_bytes:
        raise ValueError(f"an image of {len(data)} bytes, over the cap of {max_bytes}")
    try:
        info = probe(data)
    except InvalidInput as exc:
        raise ValueError("bytes that are not an image") from exc
    if info.format not in _RESULT_FORMATS:
        raise ValueError(f"an image in an unexpected format ({info.format})")
    return info


def _invalid_request(details: dict[str, Any]) -> InvalidRequest:
    message = safe_api_message(details["api_message"])
    text = f"The image service rejected the request: {message}" if message else None
    return InvalidRequest(text, **details)


def _server_wait(headers: Mapping[str, str]) -> float | None:
    """The wait the server asked for: `retry-after-ms`, else `Retry-After` (seconds or a date)."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            seconds = float(raw_ms) / 1000
        except ValueError:
            pass
        else:
            if math.isfinite(seconds) and seconds >= 0:
                return seconds
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def _usage(raw: object) -> Usage | None:
    if not isinstance(raw, dict):
        return None
    input_tokens, output_tokens, total_tokens = (
        raw.get("input_tokens"),
        raw.get("output_tokens"),
        raw.get("total_tokens"),
    )
    if not (_is_int(input_tokens) and _is_int(output_tokens) and _is_int(total_tokens)):
        return None
    return Usage(input_tokens, output_tokens, total_tokens)


def _is_int(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
