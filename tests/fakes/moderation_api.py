"""A fake OpenAI moderation endpoint: a real aiohttp server on 127.0.0.1, strict like the real one.

`POST {base_url}/moderations` (base_url ends in /v1, like the fake Images API's). Every request
is recorded (`requests`) and checked against the vendored OpenAPI schemas
(tests/data/openai_moderation_schemas.json): a request that breaks them gets the 400 the real
API gives and is added to `violations`. Answers follow CreateModerationResponse, with every
category present. It runs as its own server, next to (or instead of) the fake Images API:

    async with FakeModerationAPI(api_key="sk-test") as api:
        api.flag("sword", "violence", "violence/graphic")
        api.fail_next("server_error")
        ...  # point the client at api.base_url
        assert not api.violations
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import web
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from multidict import CIMultiDictProxy

from tests.fakes._server import LoopbackServer
from tests.fakes.openai_schema import DATA, ApiError, vendored_schemas, vendored_validator

SCHEMAS_PATH = DATA / "openai_moderation_schemas.json"

FailureKind = Literal[
    "server_error",  # 500 server_error
    "overloaded",  # 503
    "rate_limited",  # 429 rate_limit_exceeded, with Retry-After
    "insufficient_quota",  # 429 insufficient_quota
    "unauthorized",  # 401 invalid_api_key
    "slow",  # the normal answer, after `delay` seconds (default 30)
    "drop",  # the connection is closed without an answer
    "not_json",  # 200 with an HTML body
    "no_results",  # 200 with JSON that has no `results`
]

CATEGORIES = (
    "hate",
    "hate/threatening",
    "harassment",
    "harassment/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/intent",
    "self-harm/instructions",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
)
# Model aliases and what the API answers as `model`.
MODELS: Mapping[str, str] = {
    "omni-moderation-latest": "omni-moderation-2024-09-26",
    "omni-moderation-2024-09-26": "omni-moderation-2024-09-26",
    "text-moderation-latest": "text-moderation-007",
    "text-moderation-stable": "text-moderation-007",
}
_IMAGE_CATEGORIES = frozenset(
    {
        "self-harm",
        "self-harm/intent",
        "self-harm/instructions",
        "sexual",
        "violence",
        "violence/graphic",
    }
)
_TEXT_ONLY_NULLS = frozenset({"illicit", "illicit/violent"})  # the legacy text models say null
_CLEAN_SCORE = 0.0001


@dataclass(slots=True)
class RecordedModeration:
    """One request as it reached the fake."""

    method: str
    path: str
    headers: CIMultiDictProxy[str]
    arrived: float  # time.monotonic()
    request_id: str
    content_type: str
    json: Any = None
    body_error: str | None = None

    @property
    def input(self) -> Any:
        return self.json.get("input") if isinstance(self.json, dict) else None


@dataclass(frozen=True, slots=True)
class Violation:
    """A request that broke the schema, and the error it got."""

    request: RecordedModeration
    error: ApiError


@dataclass(frozen=True, slots=True)
class _Rule:
    needle: str
    categories: tuple[str, ...]
    score: float


@dataclass(frozen=True, slots=True)
class _Scripted:
    status: int = 200
    json: Any = None
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drop: bool = False


def schema_validator(name: str) -> Draft202012Validator:
    """A validator for one vendored schema (e.g. "CreateModerationResponse")."""
    return vendored_validator(SCHEMAS_PATH, name)


_FAILURES: dict[str, ApiError] = {
    "server_error": ApiError(
        500,
        "The server had an error while processing your request. Sorry about that!",
        type="server_error",
    ),
    "overloaded": ApiError(
        503, "The engine is currently overloaded, please try again later.", type="server_error"
    ),
    "rate_limited": ApiError(
        429,
        "Rate limit reached for omni-moderation-latest on requests per min (RPM): "
        "Limit 1000, Used 1000, Requested 1.",
        type="requests",
        code="rate_limit_exceeded",
    ),
    "insufficient_quota": ApiError(
        429,
        "You exceeded your current quota, please check your plan and billing details.",
        type="insufficient_quota",
        code="insufficient_quota",
    ),
}


class FakeModerationAPI(LoopbackServer):
    """A strict fake of `POST /v1/moderations` on 127.0.0.1."""

    name = "the fake moderation API"

    def __init__(self, *, api_key: str | None = None, latency: float = 0.0) -> None:
        """`api_key`: demand `Authorization: Bearer <key>` (401 otherwise)."""
        self.api_key = api_key
        self.latency = latency
        self.requests: list[RecordedModeration] = []
        self.violations: list[Violation] = []
        self.answers: list[dict[str, Any]] = []  # every 200 body sent, for schema checks
        self._rules: list[_Rule] = []
        self._script: deque[_Scripted] = deque()
        self._ids = itertools.count(1)
        super().__init__()

    def make_app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/moderations", self._handle)
        return app

    @property
    def base_url(self) -> str:
        return self.root_url + "/v1"

    # --- scripting ---

    def flag(self, needle: str, *categories: str, score: float = 0.93) -> None:
        """Inputs containing `needle` (any case) are flagged in these categories."""
        unknown = set(categories) - set(CATEGORIES)
        if unknown or not categories:
            raise ValueError(f"name one or more of {CATEGORIES}, not {sorted(unknown)}")
        self._rules.append(_Rule(needle.casefold(), categories, score))

    def fail_next(self, kind: FailureKind, *, times: int = 1, delay: float = 30.0) -> None:
        """The next `times` requests (that pass the checks) fail this way."""
        scripted: _Scripted
        if kind in _FAILURES:
            error = _FAILURES[kind]
            headers = {"retry-after": "1"} if kind == "rate_limited" else {}
            scripted = _Scripted(status=error.status, json=error.body(), headers=headers)
        elif kind == "unauthorized":
            error = ApiError(401, "Incorrect API key provided.", code="invalid_api_key")
            scripted = _Scripted(status=401, json=error.body())
        elif kind == "slow":
            scripted = _Scripted(delay=delay)
        elif kind == "drop":
            scripted = _Scripted(drop=True)
        elif kind == "not_json":
            scripted = _Scripted(body=b"<html><body>502 Bad Gateway</body></html>")
        elif kind == "no_results":
            scripted = _Scripted(json={"id": "modr-empty", "model": "omni-moderation-2024-09-26"})
        else:
            raise ValueError(f"unknown failure {kind!r}")
        self._script.extend([scripted] * times)

    # --- handling ---

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        recorded = RecordedModeration(
            method=request.method,
            path=request.path,
            headers=request.headers,
            arrived=time.monotonic(),
            request_id=f"req_mod{next(self._ids):06d}{uuid.uuid4().hex[:8]}",
            content_type=request.content_type,
        )
        try:
            raw = await request.read()
            recorded.json = json.loads(raw) if raw else None
        except (ValueError, UnicodeDecodeError) as exc:
            recorded.body_error = str(exc)
        self.requests.append(recorded)
        refusal = self._check_auth(recorded)
        if refusal is not None:
            return self._error(refusal, recorded)
        error = self._check_body(recorded)
        if error is not None:
            self.violations.append(Violation(recorded, error))
            return self._error(error, recorded)
        model = recorded.json.get("model", "omni-moderation-latest")
        if model not in MODELS:
            # Not the request's fault: the server does not serve that model.
            return self._error(
                ApiError(
                    404,
                    f"The model `{model}` does not exist or you do not have access to it.",
                    code="model_not_found",
                ),
                recorded,
            )
        scripted = self._script.popleft() if self._script else _Scripted()
        await self._pause(self.latency + scripted.delay)
        headers = {"x-request-id": recorded.request_id, **scripted.headers}
        if scripted.drop:
            if request.transport is not None:
                request.transport.abort()
            return web.Response()  # never sent: the connection is gone
        if scripted.json is not None:
            return web.json_response(scripted.json, status=scripted.status, headers=headers)
        if scripted.body is not None:
            return web.Response(
                status=scripted.status, body=scripted.body, content_type="text/html"
            )
        answer = self._moderate(MODELS[model], recorded.json["input"])
        self.answers.append(answer)
        return web.json_response(answer, headers=headers)

    async def _pause(self, seconds: float) -> None:
        # Cut short when the fake closes, so a slow answer never holds up a test's teardown.
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), seconds)

    def _check_auth(self, request: RecordedModeration) -> ApiError | None:
        if self.api_key is None:
            return None
        header = request.headers.get("Authorization")
        if header is None:
            return ApiError(401, "You didn't provide an API key.")
        if header != f"Bearer {self.api_key}":
            return ApiError(
                401,
                f"Incorrect API key provided: {header.removeprefix('Bearer ')}.",
                code="invalid_api_key",
            )
        return None

    def _check_body(self, request: RecordedModeration) -> ApiError | None:
        if request.content_type != "application/json":
            return ApiError(
                400, f"The fake takes application/json here, not {request.content_type}."
            )
        if request.body_error is not None or not isinstance(request.json, dict):
            return ApiError(400, "We could not parse the JSON body of your request.")
        properties = vendored_schemas(SCHEMAS_PATH)["CreateModerationRequest"]["properties"]
        for name in request.json:
            if name not in properties:
                return ApiError(
                    400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter"
                )
        error = best_match(schema_validator("CreateModerationRequest").iter_errors(request.json))
        if error is None:
            return None
        # Like the API, name the top-level parameter at fault (the missing one, if missing).
        if error.absolute_path:
            param = str(error.absolute_path[0])
        else:
            param = next(name for name in error.validator_value if name not in request.json)
        return ApiError(400, f"Invalid '{param}': {error.message}", param=param)

    def _moderate(self, model: str, given: Any) -> dict[str, Any]:
        if isinstance(given, str):
            texts = [given]
        elif all(isinstance(item, str) for item in given):
            texts = list(given)
        else:  # multi-modal: one result for all the text parts
            texts = [" ".join(item.get("text", "") for item in given if item.get("type") == "text")]
        return {
            "id": f"modr-{uuid.uuid4().hex[:24]}",
            "model": model,
            "results": [self._result(model, text) for text in texts],
        }

    def _result(self, model: str, text: str) -> dict[str, Any]:
        folded = text.casefold()
        scores = dict.fromkeys(CATEGORIES, _CLEAN_SCORE)
        for rule in self._rules:
            if rule.needle in folded:
                for category in rule.categories:
                    scores[category] = max(scores[category], rule.score)
        legacy = model.startswith("text-moderation")
        categories: dict[str, bool | None] = {}
        for name in CATEGORIES:
            categories[name] = None if legacy and name in _TEXT_ONLY_NULLS else scores[name] >= 0.5
        return {
            "flagged": any(value is True for value in categories.values()),
            "categories": categories,
            "category_scores": scores,
            "category_applied_input_types": {
                name: ["text", "image"] if name in _IMAGE_CATEGORIES and not legacy else ["text"]
                for name in CATEGORIES
            },
        }

    def _error(self, error: ApiError, request: RecordedModeration) -> web.Response:
        return web.json_response(
            error.body(), status=error.status, headers={"x-request-id": request.request_id}
        )
