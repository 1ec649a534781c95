"""The Images API client: generations, edits and variations over the process's one aiohttp session.

Mirrors openai-python's `resources/images.py`: keyword-only methods that return typed results,
with the transport's failures mapped to the exceptions in `bot.images.errors`. Headers,
retries (full-jitter backoff, the server's waits, attempts and a deadline) and the shared 429
cool-down are `bot.transport`'s; this module knows the Images API's fields and results.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeGuard

from bot.downloads import DownloadError
from bot.errors import InvalidInput
from bot.images.b64json import Base64, decode_base64, parse_answer
from bot.images.errors import MalformedResponse, images_error
from bot.images.probe import ImageInfo, probe
from bot.images.profiles import MiB, ModelProfile, Operation
from bot.images.requests import ImageOptions, InputImage
from bot.images.results import GeneratedImage, ImagesResult, Usage
from bot.images.stream import ImageStream, OnPartial
from bot.transport import APIFailure, BeforeReading, CallObserver, Transport

log = logging.getLogger(__name__)

_DEFAULT_OPTIONS = ImageOptions()
_Fields = dict[str, str | int | bool]
_RESULT_FORMATS = frozenset({"png", "jpeg", "webp"})


@dataclass(frozen=True, slots=True)
class _Request:
    """One API call: its endpoint, its fields and, for multipart calls, the files to upload."""

    operation: Operation
    path: str
    fields: _Fields
    files: tuple[tuple[str, InputImage], ...] = ()
    before_reading: BeforeReading | None = None
    on_partial: OnPartial | None = None  # set: the answer is streamed, previews and all


class ImagesClient:
    """Calls one OpenAI-compatible Images API with one model, following that model's profile."""

    def __init__(
        self,
        transport: Transport,
        *,
        profile: ModelProfile,
        max_result_bytes: int = 50 * MiB,
        partial_images: int = 0,
    ) -> None:
        self._transport = transport
        self._profile = profile
        self._max_result_bytes = max_result_bytes
        # Previews asked of a streamed answer (0-3; 0: never stream). Each costs output tokens.
        self.partial_images = partial_images if profile.streams else 0

    def observe(self, observer: CallObserver | None) -> None:
        """Tell `observer` of every attempt at the API (metrics)."""
        self._transport.observer = observer

    @property
    def on_rate_limited(self) -> Callable[[float], Awaitable[object]] | None:
        """Told the server's wait after every 429 that is not about quota (a shared limiter)."""
        return self._transport.on_rate_limited

    @on_rate_limited.setter
    def on_rate_limited(self, callback: Callable[[float], Awaitable[object]] | None) -> None:
        self._transport.on_rate_limited = callback

    def __repr__(self) -> str:
        return (
            f"ImagesClient(base_url={self._transport.base_url!r}, model={self._profile.model!r}, "
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
        on_partial: OnPartial | None = None,
    ) -> ImagesResult:
        """Create images from a prompt (`POST /images/generations`, JSON).

        `before_reading` (every method): awaited once the answer has arrived, before the
        images are read, e.g. to wait until there is memory for them. `on_partial` (here and
        `edit`): told each preview of a streamed answer (see `streams`).
        """
        fields = self._fields("generate", prompt=prompt, user=user, options=options)
        return await self._create(
            _Request(
                "generate",
                "/images/generations",
                fields,
                before_reading=before_reading,
                on_partial=self._streamed(fields, options, on_partial),
            )
        )

    def streams(self, options: ImageOptions) -> bool:
        """Whether a request with `options` is streamed with previews: the model streams,
        previews are on, and one image is asked for (the stream's events do not say which of
        several images a preview belongs to)."""
        return self.partial_images > 0 and options.n == 1

    def _streamed(
        self,
        fields: _Fields,
        options: ImageOptions,
        on_partial: OnPartial | None,
    ) -> OnPartial | None:
        """`on_partial` if the request streams, with the fields that ask for it."""
        if on_partial is None or not self.streams(options):
            return None
        fields["stream"] = True
        fields["partial_images"] = self.partial_images
        return on_partial

    async def edit(
        self,
        *,
        images: Sequence[InputImage],
        prompt: str,
        user: str,
        mask: InputImage | None = None,
        options: ImageOptions = _DEFAULT_OPTIONS,
        before_reading: BeforeReading | None = None,
        on_partial: OnPartial | None = None,
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
        streamed = self._streamed(fields, options, on_partial)
        return await self._create(
            _Request("edit", "/images/edits", fields, tuple(files), before_reading, streamed)
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
    ) -> _Fields:
        """The request's fields: only those the profile accepts, and `model` always."""
        profile = self._profile
        fields: _Fields = {"model": profile.model}
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
        # Room for n images (or the previews and the image) at the size cap, base64-encoded,
        # plus the JSON around them.
        n = int(request.fields.get("n", 1)) + int(request.fields.get("partial_images", 0))
        max_body = max(n, 1) * self._max_result_bytes * 4 // 3 + MiB
        stream = None
        if request.on_partial is not None:
            stream = ImageStream(
                request.operation, request.on_partial, decode_base64, request.before_reading
            )
        try:
            answer = await self._transport.post(
                request.path,
                request.fields,
                files=request.files,
                max_body=max_body,
                what=f"Images API {request.operation}",
                before_reading=request.before_reading,
                read_lines=stream.read if stream is not None else None,
            )
        except APIFailure as failure:
            # Keep what caused the failure (a dropped connection's aiohttp error, say).
            raise images_error(failure) from failure.__cause__
        request_id = answer.request_id
        if stream is not None and stream.completed is not None:  # else it answered JSON
            return await self._streamed_result(stream.completed, request_id, started)
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

    async def _streamed_result(
        self, completed: dict[str, Any], request_id: str | None, started: float
    ) -> ImagesResult:
        """The result of a streamed answer: its `completed` event's one image and usage."""
        image = await self._read_image(completed, request_id)
        created = completed.get("created_at")
        return ImagesResult(
            images=(image,),
            created=created if _is_int(created) else int(time.time()),
            model=self._profile.model,
            usage=_usage(completed.get("usage")),
            request_id=request_id,
            upstream_seconds=time.monotonic() - started,
        )

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
                data = await self._transport.download(url, max_bytes=self._max_result_bytes)
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
