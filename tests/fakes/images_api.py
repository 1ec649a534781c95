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
import re
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

from aiohttp import BodyPartReader, web
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from multidict import CIMultiDictProxy
from PIL import Image

from tests.fakes._server import LoopbackServer

SCHEMAS_PATH = Path(__file__).resolve().parent.parent / "data" / "openai_images_schemas.json"

FailureKind = Literal[
    "invalid_request",  # 400 invalid_value on `param` (default "prompt")
    "content_policy",  # 400 content_policy_violation (DALL-E's safety system)
    "moderation_blocked",  # 400 moderation_blocked, type image_generation_user_error
    "model_not_found",  # 404 model_not_found
    "unauthorized",  # 401 invalid_api_key, echoing the key the request presented
    "forbidden",  # 403 (organization not verified for the model)
    "insufficient_quota",  # 429 insufficient_quota, no Retry-After (`code=` for the others)
    "rate_limited",  # 429 rate_limit_exceeded (`retry_after_ms=`, `retry_after=`)
    "server_error",  # 500 (`status=502` gives an HTML body, `status=503` overloaded)
    "slow",  # the normal answer, after `delay` seconds (default 30)
    "drop",  # the connection is closed without an answer
    "not_json",  # 200 with an HTML body
    "no_data",  # 200 with JSON that has no `data`
    "bad_base64",  # 200 whose b64_json is not base64
    "not_an_image",  # 200 whose b64_json decodes to bytes that are not an image
]
ResultMode = Literal["auto", "b64_json", "url"]
Operation = Literal["generate", "edit", "variation"]

_OPERATIONS: dict[str, Operation] = {
    "generations": "generate",
    "edits": "edit",
    "variations": "variation",
}
_SCHEMA_NAMES: dict[Operation, str] = {
    "generate": "CreateImageRequest",
    "edit": "CreateImageEditRequest",
    "variation": "CreateImageVariationRequest",
}
_MIB = 1024 * 1024
_FILE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
_EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
_FILE = "<file>"  # stands for an uploaded file when a multipart body meets the schema


# --- What the fake records -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FilePart:
    """One uploaded file of a multipart request."""

    name: str  # the form field: "image", "image[]" or "mask"
    filename: str | None
    content_type: str | None
    data: bytes = field(repr=False)


@dataclass(slots=True)
class RecordedRequest:
    """One request as it reached the fake."""

    method: str
    path: str  # e.g. "/v1/images/edits"
    operation: Operation
    headers: CIMultiDictProxy[str]
    arrived: float  # time.monotonic() when the request reached the handler
    request_id: str  # the x-request-id the fake answered with
    content_type: str
    json: Any = None  # the parsed JSON body, for JSON requests
    form: dict[str, list[str]] = field(default_factory=dict)  # multipart text fields
    files: list[FilePart] = field(default_factory=list)  # multipart file parts, in order
    body_error: str | None = None  # why the body could not be read, if it could not

    @property
    def is_multipart(self) -> bool:
        return self.content_type == "multipart/form-data"

    @property
    def fields(self) -> dict[str, Any]:
        """The JSON body, or the multipart text fields (a repeated field gives a list)."""
        if not self.is_multipart:
            return dict(self.json) if isinstance(self.json, dict) else {}
        return {
            name: values[0] if len(values) == 1 else values for name, values in self.form.items()
        }

    @property
    def file_names(self) -> list[str]:
        return [part.name for part in self.files]


@dataclass(frozen=True, slots=True)
class ApiError:
    """An error as the API reports it: `{"error": {message, type, param, code}}`."""

    status: int
    message: str
    type: str = "invalid_request_error"
    param: str | None = None
    code: str | None = None

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


@dataclass(frozen=True, slots=True)
class Violation:
    """A request that broke the schema or a model rule, and the error it got."""

    request: RecordedRequest
    error: ApiError

    @property
    def param(self) -> str | None:
        return self.error.param

    @property
    def code(self) -> str | None:
        return self.error.code

    @property
    def message(self) -> str:
        return self.error.message


@dataclass(frozen=True, slots=True)
class ScriptedAnswer:
    """What one scripted request gets. With no `json`/`body`, a 200 is the normal result."""

    status: int = 200
    json: Any = None
    body: bytes | None = None
    content_type: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float | None = None  # seconds before answering; None: the fake's `latency`
    drop: bool = False  # close the connection instead of answering

    @property
    def generated(self) -> bool:
        return self.status == 200 and self.json is None and self.body is None


@dataclass(frozen=True, slots=True)
class _Verdict:
    body: dict[str, Any]  # as the schema sees it (multipart fields coerced to their types)
    error: ApiError | None = None
    violation: bool = False


# --- Per-model rules (IMAGES-API.md sections 2-5) ----------------------------------------------


@dataclass(frozen=True, slots=True)
class ModelRules:
    """What one model accepts, per the spec's descriptions."""

    operations: frozenset[Operation]
    prompt_max: int
    n_max: int
    sizes: Mapping[Operation, frozenset[str]]
    custom_sizes: bool  # gpt-image-2: any WxH within the spec's rules
    quality: frozenset[str]
    # Model-specific fields each operation takes, beyond model/prompt/n/size/user/image/mask.
    params: Mapping[Operation, frozenset[str]]
    input_formats: frozenset[str]
    input_max_bytes: int
    input_max_images: int
    input_square: bool
    returns_urls: bool  # DALL-E answers per response_format (default url); GPT always base64
    alpha_without_mask: bool  # an edit without a mask needs an image with transparency
    usage: bool
    revised_prompt: bool


_SQUARES = frozenset({"256x256", "512x512", "1024x1024"})
_GPT_SIZES = frozenset({"1024x1024", "1536x1024", "1024x1536", "auto"})
_GPT_COMMON = frozenset(
    {"quality", "background", "output_format", "output_compression", "stream", "partial_images"}
)
_DALLE2 = ModelRules(
    operations=frozenset({"generate", "edit", "variation"}),
    prompt_max=1000,
    n_max=10,
    sizes={"generate": _SQUARES, "edit": _SQUARES, "variation": _SQUARES},
    custom_sizes=False,
    quality=frozenset({"standard", "auto"}),
    params={
        "generate": frozenset({"response_format", "quality"}),
        "edit": frozenset({"response_format", "quality"}),
        "variation": frozenset({"response_format"}),
    },
    input_formats=frozenset({"PNG"}),
    input_max_bytes=4 * _MIB,
    input_max_images=1,
    input_square=True,
    returns_urls=True,
    alpha_without_mask=True,
    usage=False,
    revised_prompt=False,
)
_DALLE3 = ModelRules(
    operations=frozenset({"generate"}),
    prompt_max=4000,
    n_max=1,
    sizes={"generate": frozenset({"1024x1024", "1792x1024", "1024x1792"})},
    custom_sizes=False,
    quality=frozenset({"standard", "hd", "auto"}),
    params={"generate": frozenset({"response_format", "quality", "style"})},
    input_formats=frozenset(),
    input_max_bytes=0,
    input_max_images=0,
    input_square=True,
    returns_urls=True,
    alpha_without_mask=True,
    usage=False,
    revised_prompt=True,
)


def _gpt_rules(*, fidelity: bool, custom_sizes: bool) -> ModelRules:
    edit = _GPT_COMMON | {"input_fidelity"} if fidelity else _GPT_COMMON
    return ModelRules(
        operations=frozenset({"generate", "edit"}),
        prompt_max=32000,
        n_max=10,
        sizes={"generate": _GPT_SIZES, "edit": _GPT_SIZES},
        custom_sizes=custom_sizes,
        quality=frozenset({"low", "medium", "high", "auto"}),
        params={"generate": _GPT_COMMON | {"moderation"}, "edit": edit},
        input_formats=frozenset({"PNG", "JPEG", "WEBP"}),
        input_max_bytes=50 * _MIB,
        input_max_images=16,
        input_square=False,
        returns_urls=False,
        alpha_without_mask=False,
        usage=True,
        revised_prompt=False,
    )


_GPT = _gpt_rules(fidelity=True, custom_sizes=False)
_GPT2 = _gpt_rules(fidelity=True, custom_sizes=True)
MODELS: Mapping[str, ModelRules] = {
    "dall-e-2": _DALLE2,
    "dall-e-3": _DALLE3,
    "gpt-image-1": _GPT,
    "gpt-image-1.5": _GPT,
    "chatgpt-image-latest": _GPT,
    "gpt-image-1-mini": _gpt_rules(fidelity=False, custom_sizes=False),
    "gpt-image-2": _GPT2,
    "gpt-image-2-2026-04-21": _GPT2,
}

_SIZE = re.compile(r"^([1-9][0-9]*)x([1-9][0-9]*)$")


def _custom_size_ok(size: str) -> bool:
    """gpt-image-2: sides divisible by 16, ratio within 1:3..3:1, at most 3840x2160 pixels."""
    match = _SIZE.match(size)
    if match is None:
        return False
    width, height = int(match[1]), int(match[2])
    return (
        width % 16 == 0
        and height % 16 == 0
        and max(width, height) <= 3 * min(width, height)
        and max(width, height) <= 3840
        and width * height <= 3840 * 2160
    )


# --- Schema handling ---------------------------------------------------------------------------


@cache
def load_schemas() -> dict[str, Any]:
    """The vendored `components.schemas`, with OpenAPI's `nullable` turned into JSON Schema."""
    document = json.loads(SCHEMAS_PATH.read_text())
    return {name: _nullable(schema) for name, schema in document["components"]["schemas"].items()}


def _nullable(node: Any) -> Any:
    # OpenAPI 3.0's `nullable: true` is not JSON Schema; the spec still uses it on many fields.
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _nullable(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@cache
def schema_validator(name: str) -> Draft202012Validator:
    """A validator for one vendored schema (e.g. "ImagesResponse")."""
    return Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": {"schemas": load_schemas()}}
    )


def _resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _resolve(load_schemas()[ref.rsplit("/", 1)[-1]])
    return schema


def _alternatives(schema: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The schema and, through $ref/anyOf/oneOf, every branch it allows."""
    schema = _resolve(schema)
    found = [schema]
    for key in ("anyOf", "oneOf"):
        for branch in schema.get(key, ()):
            found += _alternatives(branch)
    return found


def _is_binary(schema: Mapping[str, Any]) -> bool:
    return any(
        branch.get("format") == "binary"
        or (isinstance(branch.get("items"), dict) and branch["items"].get("format") == "binary")
        for branch in _alternatives(schema)
    )


def _coerce(text: str, schema: Mapping[str, Any]) -> Any:
    """A multipart text field as the type its schema declares (numbers, booleans)."""
    types = {branch.get("type") for branch in _alternatives(schema)}
    if "integer" in types and re.fullmatch(r"-?[0-9]+", text):
        return int(text)
    if "number" in types:
        with contextlib.suppress(ValueError):
            return float(text)
    if "boolean" in types and text in ("true", "false"):
        return text == "true"
    return text


def _schema_error(error: ValidationError) -> ApiError:
    if error.validator == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = next((name for name in error.validator_value if name not in instance), None)
        return ApiError(
            400,
            f"Missing required parameter: '{missing}'.",
            param=missing,
            code="missing_required_parameter",
        )
    param = ".".join(str(part) for part in error.absolute_path) or None
    # A nullable field fails as anyOf(type, null): report the type, as the API does.
    branches = error.context or []
    if error.validator == "type" or (branches and all(e.validator == "type" for e in branches)):
        return ApiError(
            400,
            f"Invalid type for '{param}': {error.message}",
            param=param,
            code="invalid_type",
        )
    return ApiError(
        400, f"Invalid value for '{param}': {error.message}", param=param, code="invalid_value"
    )


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


class FakeImagesAPI(LoopbackServer):
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
        self.requests: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        # URL results: GET /files/<id>.<ext>
        self.file_latency = 0.0
        self.file_padding = 0  # extra bytes after each file (to serve oversized results)
        self.file_status = 200  # e.g. 404 to play an expired URL
        self.file_requests: list[str] = []
        self._files: dict[str, tuple[bytes, str]] = {}
        self._script: deque[_Script] = deque()
        self._ids = itertools.count(1)
        super().__init__()

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=200 * _MIB)
        app.router.add_post(
            "/v1/images/{operation:generations|edits|variations}", self._handle_images
        )
        app.router.add_get("/files/{name}", self._handle_file)
        return app

    @property
    def base_url(self) -> str:
        """What the bot calls OPENAI_BASE_URL."""
        return self.root_url + "/v1"

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

        def script(request: RecordedRequest) -> ScriptedAnswer:
            if kind == "slow":
                return ScriptedAnswer(headers=headers, delay=30.0 if delay is None else delay)
            if kind == "drop":
                return ScriptedAnswer(drop=True, delay=delay)
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
            return ScriptedAnswer(
                status=error.status, json=error.body(), headers=headers, delay=delay
            )

        self._script.extend([script] * times)

    # --- handlers ---

    async def _handle_images(self, request: web.Request) -> web.StreamResponse:
        recorded = await self._record(request, _OPERATIONS[request.match_info["operation"]])
        self.requests.append(recorded)
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
        return await self._answer_images(recorded, verdict.body, script.headers)

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

    def _check(self, request: RecordedRequest) -> _Verdict:
        """The error the request earns, if any, and whether it counts as a violation."""
        body = self._body(request)
        if isinstance(body, ApiError):
            return _Verdict({}, body, violation=True)
        model = body.get("model")
        if not isinstance(model, str):
            # Stricter than OpenAI, which falls back to a default model (one being retired).
            error = ApiError(
                400,
                "The fake requires `model` on every request.",
                param="model",
                code="missing_required_parameter",
            )
            return _Verdict(body, error, violation=True)
        rules = self.models.get(model)
        if rules is None or model in self.retired_models:
            # Not the request's fault: the server does not serve that model.
            error = ApiError(
                404,
                f"The model `{model}` does not exist or you do not have access to it.",
                code="model_not_found",
            )
            return _Verdict(body, error)
        broken = _check_rules(request.operation, model, rules, body) or _check_files(request, rules)
        return _Verdict(body, broken, violation=broken is not None)

    def _body(self, request: RecordedRequest) -> dict[str, Any] | ApiError:
        """The body as the schema sees it (multipart coerced to the schema's types), validated."""
        schema_name = _SCHEMA_NAMES[request.operation]
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
                    return _unknown(name)
                if len(values) > 1:
                    return ApiError(400, f"Duplicate parameter: '{name}'.", param=name)
                if _is_binary(properties[name]):
                    return ApiError(
                        400, f"'{name}' must be a file.", param=name, code="invalid_type"
                    )
                body[name] = _coerce(values[0], properties[name])
            names = request.file_names
            if "image" in names and "image[]" in names:
                return ApiError(400, "Send either 'image' or 'image[]', not both.", param="image")
            for name in dict.fromkeys(names):
                key = name.removesuffix("[]")
                if key not in properties:
                    return _unknown(name)
                if not _is_binary(properties[key]):
                    return ApiError(400, f"'{key}' must be text.", param=key, code="invalid_type")
                if name.endswith("[]"):
                    body[key] = [_FILE] * names.count(name)
                elif names.count(name) > 1:
                    return ApiError(400, f"Duplicate parameter: '{name}'.", param=key)
                else:
                    body[key] = _FILE
        elif isinstance(request.json, dict):
            body = dict(request.json)
        else:
            return ApiError(400, "We could not parse the JSON body of your request.")
        for name in body:
            if name not in properties:
                return _unknown(name)
        error = best_match(schema_validator(schema_name).iter_errors(body))
        if error is not None:
            return _schema_error(error)
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
                self._files[file_id] = (data, _FILE_TYPES[output_format.upper()])
                item["url"] = f"{self.root_url}/files/{file_id}.{_EXTENSIONS[output_format]}"
            else:
                item["b64_json"] = encoded
            if rules.revised_prompt:
                item["revised_prompt"] = f"A detailed rendering of: {body.get('prompt', '')}"
            items.append(item)
        payload: dict[str, Any] = {"created": int(time.time()), "data": items}
        if rules.usage:
            images = len(request.files)
            payload["output_format"] = output_format
            payload["usage"] = {
                "input_tokens": 20 + 100 * images,
                "output_tokens": 1000 * len(items),
                "total_tokens": 20 + 100 * images + 1000 * len(items),
                "input_tokens_details": {"text_tokens": 20, "image_tokens": 100 * images},
            }
        return web.json_response(payload, headers={"x-request-id": request.request_id, **headers})


def _unknown(name: str) -> ApiError:
    return ApiError(400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")


def _check_rules(
    operation: Operation, model: str, rules: ModelRules, body: Mapping[str, Any]
) -> ApiError | None:
    """The per-model rules the schema cannot express."""
    if operation not in rules.operations:
        return ApiError(
            400,
            f"Invalid value: '{model}'. The model does not support {operation} requests.",
            param="model",
            code="invalid_value",
        )
    always = {"model", "prompt", "n", "size", "user", "image", "mask"}
    for name in body:
        if name not in always and name not in rules.params[operation]:
            return ApiError(
                400,
                f"Unknown parameter: '{name}'. It is not supported with {model}.",
                param=name,
                code="unknown_parameter",
            )
    prompt = body.get("prompt")
    if isinstance(prompt, str) and len(prompt) > rules.prompt_max:
        return ApiError(
            400,
            f"Invalid 'prompt': string too long. Expected a string with maximum length "
            f"{rules.prompt_max}, but got a string with length {len(prompt)} instead.",
            param="prompt",
            code="string_above_max_length",
        )
    n = body.get("n")
    if isinstance(n, int) and n > rules.n_max:
        return ApiError(
            400,
            f"Invalid 'n': {model} supports at most n={rules.n_max}, but {n} were requested.",
            param="n",
            code="invalid_value",
        )
    size = body.get("size")
    if (
        size is not None
        and size not in rules.sizes[operation]
        and not (rules.custom_sizes and _custom_size_ok(size))
    ):
        supported = ", ".join(f"'{s}'" for s in sorted(rules.sizes[operation]))
        return ApiError(
            400,
            f"Invalid value: '{size}'. Supported values are: {supported}.",
            param="size",
            code="invalid_value",
        )
    quality = body.get("quality")
    if quality is not None and quality not in rules.quality:
        supported = ", ".join(f"'{q}'" for q in sorted(rules.quality))
        return ApiError(
            400,
            f"Invalid value: '{quality}'. Supported values are: {supported}.",
            param="quality",
            code="invalid_value",
        )
    output_format = body.get("output_format") or "png"
    compression = body.get("output_compression")
    if compression is not None and (not 0 <= compression <= 100 or output_format == "png"):
        return ApiError(
            400,
            "Invalid 'output_compression': a value from 0 to 100, with jpeg or webp output only.",
            param="output_compression",
            code="invalid_value",
        )
    if body.get("background") == "transparent" and output_format == "jpeg":
        return ApiError(
            400,
            "Transparent background requires output_format png or webp.",
            param="background",
            code="invalid_value",
        )
    if body.get("stream"):
        return ApiError(400, "The fake does not stream; the bot never asks for it.", param="stream")
    return None


@dataclass(frozen=True, slots=True)
class _Facts:
    """What Pillow says about an uploaded file."""

    format: str
    width: int
    height: int
    mode: str
    alpha: bool


def _check_files(request: RecordedRequest, rules: ModelRules) -> ApiError | None:
    """Input images and masks, judged from their bytes with Pillow."""
    images = [part for part in request.files if part.name in ("image", "image[]")]
    if request.operation == "generate" or not images:
        return None
    limit = 1 if request.operation == "variation" else rules.input_max_images
    if len(images) > limit:
        return ApiError(
            400,
            f"Too many images: at most {limit} for this model.",
            param="image",
            code="invalid_value",
        )
    mask = next((part for part in request.files if part.name == "mask"), None)
    first: _Facts | None = None
    for part in images:
        facts = _inspect(part, rules.input_formats, rules.input_max_bytes)
        if isinstance(facts, ApiError):
            return facts
        if rules.input_square and facts.width != facts.height:
            return ApiError(
                400, "Invalid input image - must be square.", param="image", code="invalid_image"
            )
        first = first or facts
    assert first is not None
    if (
        request.operation == "edit"
        and rules.alpha_without_mask
        and mask is None
        and not first.alpha
    ):
        return ApiError(
            400,
            f"Invalid input image - format must be in ['RGBA', 'LA', 'L'], got {first.mode}.",
            param="image",
            code="invalid_image",
        )
    if mask is None:
        return None
    facts = _inspect(mask, frozenset({"PNG"}), 4 * _MIB)
    if isinstance(facts, ApiError):
        return facts
    if not facts.alpha:
        return ApiError(
            400,
            "Invalid mask: the mask must be a PNG with an alpha channel.",
            param="mask",
            code="invalid_image_file",
        )
    if (facts.width, facts.height) != (first.width, first.height):
        return ApiError(
            400,
            "Invalid mask: the mask and the (first) image must be the same size.",
            param="mask",
            code="invalid_image",
        )
    return None


def _inspect(part: FilePart, formats: frozenset[str], max_bytes: int) -> _Facts | ApiError:
    param = part.name.removesuffix("[]")
    allowed = {_FILE_TYPES[name] for name in formats}
    if part.content_type not in allowed:
        return ApiError(
            400,
            f"Invalid file '{param}': unsupported mimetype ('{part.content_type}'). "
            f"Supported file formats are {', '.join(sorted(allowed))}.",
            param=param,
            code="unsupported_file_mimetype",
        )
    if len(part.data) >= max_bytes:
        return ApiError(
            400,
            f"Invalid file '{param}': must be less than {max_bytes} bytes.",
            param=param,
            code="invalid_image_file",
        )
    try:
        with Image.open(io.BytesIO(part.data)) as image:
            image.load()
            facts = _Facts(
                format=image.format or "",
                width=image.width,
                height=image.height,
                mode=image.mode,
                alpha=image.mode in ("RGBA", "LA") or "transparency" in image.info,
            )
    except (OSError, ValueError, SyntaxError):
        return ApiError(
            400,
            f"Invalid file '{param}': not a readable image.",
            param=param,
            code="invalid_image_file",
        )
    if facts.format not in formats or _FILE_TYPES[facts.format] != part.content_type:
        return ApiError(
            400,
            f"Invalid file '{param}': its bytes are {facts.format}, sent as {part.content_type}.",
            param=param,
            code="invalid_image_format",
        )
    return facts
