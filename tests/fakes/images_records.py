"""What the fake Images API records, and the shapes of its answers: requests, errors, scripts."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from multidict import CIMultiDictProxy

from tests.fakes.openai_schema import ApiError

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
    "truncated",  # the normal 200 answer, cut off halfway through its body
    "not_json",  # 200 with an HTML body
    "no_data",  # 200 with JSON that has no `data`
    "bad_base64",  # 200 whose b64_json is not base64
    "not_an_image",  # 200 whose b64_json decodes to bytes that are not an image
]
ResultMode = Literal["auto", "b64_json", "url"]
Operation = Literal["generate", "edit", "variation"]

OPERATIONS: dict[str, Operation] = {
    "generations": "generate",
    "edits": "edit",
    "variations": "variation",
}
SCHEMA_NAMES: dict[Operation, str] = {
    "generate": "CreateImageRequest",
    "edit": "CreateImageEditRequest",
    "variation": "CreateImageVariationRequest",
}
MIB = 1024 * 1024
FILE_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
EXTENSIONS = {"png": "png", "jpeg": "jpg", "webp": "webp"}
FILE = "<file>"  # stands for an uploaded file when a multipart body meets the schema


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
    truncate: bool = False  # send half of the normal answer's body, then close the connection

    @property
    def generated(self) -> bool:
        return self.status == 200 and self.json is None and self.body is None


@dataclass(frozen=True, slots=True)
class Verdict:
    body: dict[str, Any]  # as the schema sees it (multipart fields coerced to their types)
    error: ApiError | None = None
    violation: bool = False
