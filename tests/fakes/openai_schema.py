"""What the fake OpenAI endpoints share: OpenAI's vendored schemas and its error body.

Both fakes (Images API, moderation) validate what they receive and send against the schemas
copied from OpenAI's OpenAPI spec into tests/data/, and answer errors in the API's own shape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

DATA = Path(__file__).resolve().parent.parent / "data"


@cache
def vendored_schemas(path: Path) -> dict[str, Any]:
    """A vendored file's `components.schemas`, with OpenAPI's `nullable` made JSON Schema."""
    document = json.loads(path.read_text())
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
def vendored_validator(path: Path, name: str) -> Draft202012Validator:
    """A validator for one schema of a vendored file (e.g. "ImagesResponse")."""
    return Draft202012Validator(
        {"$ref": f"#/components/schemas/{name}", "components": {"schemas": vendored_schemas(path)}}
    )


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
