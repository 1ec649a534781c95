"""A fake OpenAI Images API: a real aiohttp server on 127.0.0.1 that is as strict as the real one.

Every request is recorded (`requests`) and checked against the vendored OpenAPI schemas
(tests/data/openai_images_schemas.json) and against the per-model rules of IMAGES-API.md,
written here independently of `bot.images.profiles` so the fake can catch the profiles' mistakes.
A request that breaks a rule gets the 400 the real API gives and is added to `violations`.
Successful answers carry real images (solid colour, of the requested size and format).

Script what the next requests get, in arrival order, with `fail_next(kind)` or
`queue_response(...)`:

    async with FakeImagesAPI(api_key="sk-test") as api:
        api.fail_next("rate_limited", retry_after_ms=200)
        ...  # point the client at api.base_url
        assert not api.violations
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import itertools
import json
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from functools import cache, partial
from typing import Any

from aiohttp import BodyPartReader, web
from jsonschema.exceptions import best_match
from PIL import Image

from tests.fakes._server import LoopbackServer
from tests.fakes.images_api_models import ModelRoutes
from tests.fakes.images_api_stream import StreamFault, StreamPlan, stream_answer
from tests.fakes.images_records import (
    EXTENSIONS,
    FILE,
    FILE_TYPES,
    MIB,
    OPERATIONS,
    SCHEMA_NAMES,
    FailureKind,
    FilePart,
    Operation,
    RecordedRequest,
    ResultMode,
    ScriptedAnswer,
    Verdict,
    Violation,
)
from tests.fakes.images_rules import (
    MODELS,
    SCHEMAS_PATH,
    ModelRules,
    check_files,
    check_rules,
    coerce,
    is_binary,
    load_schemas,
    schema_error,
    schema_validator,
    unknown,
)
from tests.fakes.openai_schema import ApiError

# The records and rules live in their own modules; callers import them from here as before.
__all__ = [
    "MODELS",
    "SCHEMAS_PATH",
    "ApiError",
    "FailureKind",
    "FakeImagesAPI",
    "FilePart",
    "ModelRules",
    "Operation",
    "RecordedRequest",
    "ResultMode",
    "ScriptedAnswer",
    "Violation",
    "load_schemas",
    "schema_validator",
    "solid_image",
]


# --- Images the fake answers with --------------------------------------------------------------


def solid_image(
    width: int,
    height: int,
    *,
    format: str = "PNG",
    alpha: bool = False,
    color: tuple[int, int, int] = (64, 128, 192),
) -> bytes:
    """A solid-colour image of one size (`alpha`: fully transparent RGBA)."""
    mode, fill = ("RGBA", (*color, 0)) if alpha else ("RGB", color)
    buffer = io.BytesIO()
    Image.new(mode, (width, height), fill).save(buffer, format=format)
    return buffer.getvalue()


@cache
def _result_image(width: int, height: int, output_format: str, alpha: bool) -> tuple[bytes, str]:
    data = solid_image(width, height, format=output_format.upper(), alpha=alpha)
    return data, base64.b64encode(data).decode()


# --- The server --------------------------------------------------------------------------------

_FAILURES: dict[str, ApiError] = {
    "invalid_request": ApiError(
        400, "Invalid value for '{param}'.", param="prompt", code="invalid_value"
    ),
    "content_policy": ApiError(
        400,
        "Your request was rejected as a result of our safety system. Your prompt may contain "
        "text that is not allowed by our safety system.",
        code="content_policy_violation",
    ),
    "moderation_blocked": ApiError(
        400,
        "Your request was rejected by the safety system. If you believe this is an error, "
        "contact us at help.openai.com and include the request ID {request_id}. "
        "safety_violations=[violence].",
        type="image_generation_user_error",
        code="moderation_blocked",
    ),
    "model_not_found": ApiError(
        404,
        "The model `{model}` does not exist or you do not have access to it.",
        code="model_not_found",
    ),
    "unauthorized": ApiError(
        401,
        "Incorrect API key provided: {key}. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        code="invalid_api_key",
    ),
    "forbidden": ApiError(
        403,
        "Your organization must be verified to use the model `{model}`. Please go to "
        "https://platform.openai.com/settings/organization/general and click on Verify "
        "Organization.",
    ),
    "insufficient_quota": ApiError(
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        type="insufficient_quota",
        code="insufficient_quota",
    ),
    "rate_limited": ApiError(
        429,
        "Rate limit exceeded for images per minute in organization org-fake. Limit: 5/1min. "
        "Please try again in 12s.",
        type="requests",
        code="rate_limit_exceeded",
    ),
    "server_error": ApiError(
        500,
        "The server had an error while processing your request. Sorry about that!",
        type="server_error",
    ),
}

_Script = Callable[[RecordedRequest], ScriptedAnswer]


class FakeImagesAPI(ModelRoutes, LoopbackServer):
    """A strict fake of `POST /v1/images/{generations,edits,variations}` on 127.0.0.1."""

    name = "the fake Images API"

    def __init__(
        self,
        *,
        api_key: str | None = None,
        latency: float = 0.0,
        result_mode: ResultMode = "auto",
        models: Mapping[str, str] | None = None,
    ) -> None:
        """`api_key`: demand `Authorization: Bearer <key>` (401 otherwise). `models`: extra
        model names, each following the rules of a known model (`{"sd-local": "dall-e-2"}`).
        `result_mode`: "auto" answers like OpenAI; "url"/"b64_json" force one for every model."""
        self.api_key = api_key
        self.latency = latency  # seconds before answering each request
        self.result_mode: ResultMode = result_mode
        self.models: dict[str, ModelRules] = dict(MODELS)
        for name, like in (models or {}).items():
            self.models[name] = MODELS[like]
        self.retired_models: set[str] = set()  # answered with 404 model_not_found
        self.shutdown_dates: dict[str, str] = {}  # GET /v1/models' optional shutdown_date
        self.models_without_access: set[str] = set()
        self.model_requests: list[str] = []
        self.requests: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        # URL results: GET /files/<id>.<ext>
        self.file_latency = 0.0
        self.file_padding = 0  # extra bytes after each file (to serve oversized results)
        self.file_status = 200  # e.g. 404 to play an expired URL
        self.file_requests: list[str] = []
        self._files: dict[str, tuple[bytes, str]] = {}
        self._script: deque[_Script] = deque()
        # Streamed answers (`stream=true`): seconds between events, and faults to play.
        self.stream_event_delay = 0.0
        # When each partial image event was written, by request id (time.monotonic()).
        self.partials_sent: dict[str, list[float]] = {}
        self.stream_b64: str | None = None  # a picture (base64) every streamed event sends
        self._stream_faults: deque[tuple[StreamFault, str]] = deque()
        self._ids = itertools.count(1)
        self._arrived = asyncio.Event()  # set at each image request (see wait_for_requests)
        super().__init__()

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=200 * MIB)
        app.router.add_post(
            "/v1/images/{operation:generations|edits|variations}", self._handle_images
        )
        app.router.add_get("/files/{name}", self._handle_file)
        self.add_model_routes(app)
        return app

    @property
    def base_url(self) -> str:
        """What the bot calls OPENAI_BASE_URL."""
        return self.root_url + "/v1"

    async def wait_for_requests(self, count: int, *, timeout: float = 5.0) -> None:
        """Until at least `count` image requests have arrived (TimeoutError after `timeout`)."""
        async with asyncio.timeout(timeout):
            while len(self.requests) < count:
                self._arrived.clear()
                await self._arrived.wait()

    @property
    def arrivals(self) -> list[float]:
        """When each request arrived (time.monotonic())."""
        return [request.arrived for request in self.requests]

    # --- scripting ---

    def queue_response(
        self,
        status: int = 200,
        *,
        json: Any = None,
        body: bytes | str | None = None,
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        delay: float | None = None,
        drop: bool = False,
        times: int = 1,
    ) -> None:
        """Answer the next `times` valid requests like this. A bare 200 is the normal result
        (use `delay` for one slow request)."""
        answer = ScriptedAnswer(
            status=status,
            json=json,
            body=body.encode() if isinstance(body, str) else body,
            content_type=content_type,
            headers=dict(headers or {}),
            delay=delay,
            drop=drop,
        )
        self._script.extend([lambda _request: answer] * times)

    def fail_next(
        self,
        kind: FailureKind,
        times: int = 1,
        *,
        status: int | None = None,
        code: str | None = None,
        param: str | None = None,
        message: str | None = None,
        retry_after_ms: float | None = None,
        retry_after: float | str | None = None,
        should_retry: bool | None = None,
        delay: float | None = None,
    ) -> None:
        """Make the next `times` valid requests fail in the way `kind` names (see FailureKind).
        `retry_after` is seconds or an HTTP date; `should_retry` sets `x-should-retry`."""
        headers: dict[str, str] = {}
        if retry_after_ms is not None:
            headers["retry-after-ms"] = f"{retry_after_ms:g}"
        if retry_after is not None:
            headers["Retry-After"] = (
                retry_after if isinstance(retry_after, str) else f"{retry_after:g}"
            )
        if should_retry is not None:
            headers["x-should-retry"] = "true" if should_retry else "false"

        script = partial(
            _failure,
            kind=kind,
            headers=headers,
            status=status,
            code=code,
            param=param,
            message=message,
            delay=delay,
        )
        self._script.extend([script] * times)

    def fail_stream(self, fault: StreamFault, *, code: str = "server_error") -> None:
        """Break the next streamed answer after its first event, as `fault` says (`code`: the
        `error` event's code)."""
        self._stream_faults.append((fault, code))

    # --- handlers ---

    async def _handle_images(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request, OPERATIONS[request.match_info["operation"]])
        self.requests.append(recorded)
        self._arrived.set()
        refusal = self._check_auth(recorded)
        if refusal is not None:
            return self._answer_error(refusal, recorded)
        verdict = await asyncio.to_thread(self._check, recorded)
        if verdict.error is not None:
            if verdict.violation:
                self.violations.append(Violation(recorded, verdict.error))
            return self._answer_error(verdict.error, recorded)
        script = self._script.popleft()(recorded) if self._script else ScriptedAnswer()
        await self._pause(self.latency if script.delay is None else script.delay)
        if script.drop:
            if request.transport is not None:
                request.transport.abort()
            return web.Response()  # never sent: the connection is gone
        if not script.generated:
            return self._answer(script, recorded)
        if verdict.body.get("stream"):
            if script.truncate:  # a streamed answer cut short: the connection goes mid-stream
                self._stream_faults.appendleft(("connection_cut", ""))
            return await self._stream_images(request, recorded, verdict.body)
        answer = await self._answer_images(recorded, verdict.body, script.headers)
        return await self._cut_short(request, answer) if script.truncate else answer

    async def _stream_images(
        self, request: web.Request, recorded: RecordedRequest, body: Mapping[str, Any]
    ) -> web.StreamResponse:
        size = body.get("size")
        width, height = (1024, 1024) if size in (None, "auto") else map(int, size.split("x"))
        output_format = body.get("output_format") or "png"
        alpha = body.get("background") == "transparent"
        encoded = await self._stream_picture(width, height, output_format, alpha)
        fault, code = self._stream_faults.popleft() if self._stream_faults else (None, "")
        plan = StreamPlan(
            operation=recorded.operation,
            body=body,
            encoded=encoded,
            usage=_usage(len(recorded.files), int(body.get("n") or 1)),
            request_id=recorded.request_id,
            fault=fault,
            event_delay=self.stream_event_delay,
            error_code=code or "server_error",
            on_partial_sent=lambda _index, at: sent.append(at),
        )
        sent = self.partials_sent.setdefault(recorded.request_id, [])
        return await stream_answer(request, plan)

    async def _stream_picture(
        self, width: int, height: int, output_format: str, alpha: bool
    ) -> str:
        """The base64 picture a streamed answer sends (previews and result alike)."""
        if self.stream_b64 is not None:
            return self.stream_b64
        _, encoded = await asyncio.to_thread(_result_image, width, height, output_format, alpha)
        return encoded

    @staticmethod
    async def _cut_short(request: web.Request, answer: web.Response) -> web.StreamResponse:
        """Half of `answer`'s body under its full Content-Length, then the connection closes."""
        body = bytes(answer.body) if isinstance(answer.body, bytes | bytearray) else b""
        cut = web.StreamResponse(status=answer.status, headers=answer.headers)
        cut.content_length = len(body)
        await cut.prepare(request)
        await cut.write(body[: len(body) // 2])
        if request.transport is not None:
            request.transport.abort()
        return cut

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        self.file_requests.append(name)
        await self._pause(self.file_latency)
        found = self._files.get(name.split(".", 1)[0])
        if self.file_status != 200 or found is None:
            return web.Response(status=404 if found is None else self.file_status)
        data, content_type = found
        return web.Response(body=data + b"\0" * self.file_padding, content_type=content_type)

    async def _pause(self, seconds: float) -> None:
        # Cut short when the fake closes, so a "slow" answer never holds up a test's teardown.
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)

    async def _record(self, request: web.Request, operation: Operation) -> RecordedRequest:
        recorded = RecordedRequest(
            method=request.method,
            path=request.path,
            operation=operation,
            headers=request.headers,
            arrived=time.monotonic(),
            request_id=f"req_fake{next(self._ids):06d}{uuid.uuid4().hex[:8]}",
            content_type=request.content_type,
        )
        try:
            if recorded.is_multipart:
                reader = await request.multipart()
                while (part := await reader.next()) is not None:
                    if not isinstance(part, BodyPartReader) or part.name is None:
                        raise ValueError("a nested or unnamed multipart part")
                    data = bytes(await part.read())
                    if part.filename is None:
                        recorded.form.setdefault(part.name, []).append(data.decode())
                    else:
                        recorded.files.append(
                            FilePart(
                                part.name, part.filename, part.headers.get("Content-Type"), data
                            )
                        )
            else:
                raw = await request.read()
                recorded.json = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError) as exc:
            recorded.body_error = str(exc)
        return recorded

    def _check_auth(self, request: RecordedRequest) -> ApiError | None:
        if self.api_key is None:
            return None
        header = request.headers.get("Authorization")
        if header is None:
            return ApiError(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
            )
        if header != f"Bearer {self.api_key}":
            return ApiError(
                401,
                f"Incorrect API key provided: {header.removeprefix('Bearer ')}. You can find "
                "your API key at https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        return None

    def _check(self, request: RecordedRequest) -> Verdict:
        """The error the request earns, if any, and whether it counts as a violation."""
        body = self._body(request)
        if isinstance(body, ApiError):
            return Verdict({}, body, violation=True)
        model = body.get("model")
        if not isinstance(model, str):
            # Stricter than OpenAI, which falls back to a default model (one being retired).
            error = ApiError(
                400,
                "The fake requires `model` on every request.",
                param="model",
                code="missing_required_parameter",
            )
            return Verdict(body, error, violation=True)
        rules = self.models.get(model)
        if rules is None or model in self.retired_models:
            # Not the request's fault: the server does not serve that model.
            error = ApiError(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
            return Verdict(body, error)
        broken = check_rules(request.operation, model, rules, body) or check_files(request, rules)
        return Verdict(body, broken, violation=broken is not None)

    def _body(self, request: RecordedRequest) -> dict[str, Any] | ApiError:
        """The body as the schema sees it (multipart coerced to the schema's types), validated."""
        schema_name = SCHEMA_NAMES[request.operation]
        properties: Mapping[str, Any] = load_schemas()[schema_name]["properties"]
        wanted = "application/json" if request.operation == "generate" else "multipart/form-data"
        if request.content_type != wanted:
            return ApiError(
                400, f"The fake takes {wanted} on this endpoint, not {request.content_type}."
            )
        if request.body_error is not None:
            return ApiError(400, "We could not parse the body of your request.")
        if request.is_multipart:
            body: dict[str, Any] = {}
            for name, values in request.form.items():
                if name not in properties:
                    return unknown(name)
                if len(values) > 1:
                    return ApiError(400, f"Duplicate parameter: '{name}'.", param=name)
                if is_binary(properties[name]):
                    return ApiError(
                        400, f"'{name}' must be a file.", param=name, code="invalid_type"
                    )
                body[name] = coerce(values[0], properties[name])
            names = request.file_names
            if "image" in names and "image[]" in names:
                return ApiError(400, "Send either 'image' or 'image[]', not both.", param="image")
            for name in dict.fromkeys(names):
                key = name.removesuffix("[]")
                if key not in properties:
                    return unknown(name)
                if not is_binary(properties[key]):
                    return ApiError(400, f"'{key}' must be text.", param=key, code="invalid_type")
                if name.endswith("[]"):
                    body[key] = [FILE] * names.count(name)
                elif names.count(name) > 1:
                    return ApiError(400, f"Duplicate parameter: '{name}'.", param=key)
                else:
                    body[key] = FILE
        elif isinstance(request.json, dict):
            body = dict(request.json)
        else:
            return ApiError(400, "We could not parse the JSON body of your request.")
        for name in body:
            if name not in properties:
                return unknown(name)
        error = best_match(schema_validator(schema_name).iter_errors(body))
        if error is not None:
            return schema_error(error)
        return body

    def _answer(self, script: ScriptedAnswer, request: RecordedRequest) -> web.Response:
        headers = {"x-request-id": request.request_id, **script.headers}
        if script.json is not None:
            return web.json_response(script.json, status=script.status, headers=headers)
        return web.Response(
            status=script.status,
            body=script.body or b"",
            content_type=script.content_type or "application/octet-stream",
            headers=headers,
        )

    def _answer_error(self, error: ApiError, request: RecordedRequest) -> web.Response:
        return self._answer(ScriptedAnswer(status=error.status, json=error.body()), request)

    async def _answer_images(
        self, request: RecordedRequest, body: Mapping[str, Any], headers: Mapping[str, str]
    ) -> web.Response:
        rules = self.models[body["model"]]
        size = body.get("size")
        width, height = (1024, 1024) if size in (None, "auto") else map(int, size.split("x"))
        output_format = (body.get("output_format") or "png") if rules.usage else "png"
        alpha = body.get("background") == "transparent"
        data, encoded = await asyncio.to_thread(_result_image, width, height, output_format, alpha)
        if self.result_mode == "auto":
            as_url = rules.returns_urls and body.get("response_format", "url") == "url"
        else:
            as_url = self.result_mode == "url"
        items: list[dict[str, Any]] = []
        for _ in range(int(body.get("n") or 1)):
            item: dict[str, Any] = {}
            if as_url:
                file_id = uuid.uuid4().hex
                self._files[file_id] = (data, FILE_TYPES[output_format.upper()])
                item["url"] = f"{self.root_url}/files/{file_id}.{EXTENSIONS[output_format]}"
            else:
                item["b64_json"] = encoded
            if rules.revised_prompt:
                item["revised_prompt"] = f"A detailed rendering of: {body.get('prompt', '')}"
            items.append(item)
        payload: dict[str, Any] = {"created": int(time.time()), "data": items}
        if rules.usage:
            payload["output_format"] = output_format
            payload["usage"] = _usage(len(request.files), len(items))
        return web.json_response(payload, headers={"x-request-id": request.request_id, **headers})


def _usage(images_in: int, images_out: int) -> dict[str, Any]:
    """The `usage` a GPT image model reports for `images_in` pictures in, `images_out` out."""
    return {
        "input_tokens": 20 + 100 * images_in,
        "output_tokens": 1000 * images_out,
        "total_tokens": 20 + 100 * images_in + 1000 * images_out,
        "input_tokens_details": {"text_tokens": 20, "image_tokens": 100 * images_in},
    }


def _failure(
    request: RecordedRequest,
    *,
    kind: FailureKind,
    headers: dict[str, str],
    status: int | None,
    code: str | None,
    param: str | None,
    message: str | None,
    delay: float | None,
) -> ScriptedAnswer:
    """What fail_next scripted for one request: a broken answer, or an API error."""
    if kind == "slow":
        return ScriptedAnswer(headers=headers, delay=30.0 if delay is None else delay)
    if kind == "drop":
        return ScriptedAnswer(drop=True, delay=delay)
    if kind == "truncated":
        return ScriptedAnswer(truncate=True, headers=headers, delay=delay)
    if kind == "not_json":
        return ScriptedAnswer(
            body=b"<html><body>Welcome to nginx!</body></html>",
            content_type="text/html",
            headers=headers,
            delay=delay,
        )
    if kind in ("no_data", "bad_base64", "not_an_image"):
        payload: dict[str, Any] = {"created": int(time.time())}
        if kind == "bad_base64":
            payload["data"] = [{"b64_json": "this is not base64!"}]
        elif kind == "not_an_image":
            payload["data"] = [{"b64_json": base64.b64encode(b"plain text").decode()}]
        return ScriptedAnswer(json=payload, headers=headers, delay=delay)
    if kind == "server_error" and status == 502:
        return ScriptedAnswer(
            status=502,
            body=b"<html><head><title>502 Bad Gateway</title></head></html>",
            content_type="text/html",
            headers=headers,
            delay=delay,
        )
    return _api_error(
        request,
        kind=kind,
        headers=headers,
        status=status,
        code=code,
        param=param,
        message=message,
        delay=delay,
    )


def _api_error(
    request: RecordedRequest,
    *,
    kind: FailureKind,
    headers: dict[str, str],
    status: int | None,
    code: str | None,
    param: str | None,
    message: str | None,
    delay: float | None,
) -> ScriptedAnswer:
    """An error answer from the kind's template, with the caller's overrides."""
    template = _FAILURES[kind]
    if kind == "server_error" and status == 503:
        template = ApiError(
            503,
            "The engine is currently overloaded, please try again later.",
            type="server_error",
        )
    presented = request.headers.get("Authorization", "").removeprefix("Bearer ")
    model = request.fields.get("model")
    error = ApiError(
        status or template.status,
        message
        or template.message.format(
            key=presented,
            model=model,
            request_id=request.request_id,
            param=param or template.param,
        ),
        type=template.type,
        param=param or template.param,
        code=code or template.code,
    )
    return ScriptedAnswer(status=error.status, json=error.body(), headers=headers, delay=delay)
