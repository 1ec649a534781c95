"""What the Images API accepts: the vendored schemas and each model's rules (IMAGES-API.md)."""

from __future__ import annotations

import contextlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from PIL import Image

from tests.fakes.images_records import (
    FILE_TYPES,
    MIB,
    FilePart,
    Operation,
    RecordedRequest,
)
from tests.fakes.openai_schema import DATA, ApiError, vendored_schemas, vendored_validator

SCHEMAS_PATH = DATA / "openai_images_schemas.json"


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
    input_max_bytes=4 * MIB,
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
        input_max_bytes=50 * MIB,
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


def load_schemas() -> dict[str, Any]:
    """The vendored Images API `components.schemas`, with `nullable` made JSON Schema."""
    return vendored_schemas(SCHEMAS_PATH)


def schema_validator(name: str) -> Draft202012Validator:
    """A validator for one vendored schema (e.g. "ImagesResponse")."""
    return vendored_validator(SCHEMAS_PATH, name)


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


def is_binary(schema: Mapping[str, Any]) -> bool:
    return any(
        branch.get("format") == "binary"
        or (isinstance(branch.get("items"), dict) and branch["items"].get("format") == "binary")
        for branch in _alternatives(schema)
    )


def coerce(text: str, schema: Mapping[str, Any]) -> Any:
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


def schema_error(error: ValidationError) -> ApiError:
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


def unknown(name: str) -> ApiError:
    return ApiError(400, f"Unknown parameter: '{name}'.", param=name, code="unknown_parameter")


def check_rules(
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
    error = _check_size_and_quality(operation, rules, body)
    return error if error is not None else _check_output(body)


def _check_size_and_quality(
    operation: Operation, rules: ModelRules, body: Mapping[str, Any]
) -> ApiError | None:
    """The size and quality against what the model offers for this operation."""
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
    return None


def _check_output(body: Mapping[str, Any]) -> ApiError | None:
    """Compression and transparency against the output format."""
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
    return None


@dataclass(frozen=True, slots=True)
class _Facts:
    """What Pillow says about an uploaded file."""

    format: str
    width: int
    height: int
    mode: str
    alpha: bool


def check_files(request: RecordedRequest, rules: ModelRules) -> ApiError | None:
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
    facts = _inspect(mask, frozenset({"PNG"}), 4 * MIB)
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
    allowed = {FILE_TYPES[name] for name in formats}
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
    if facts.format not in formats or FILE_TYPES[facts.format] != part.content_type:
        return ApiError(
            400,
            f"Invalid file '{param}': its bytes are {facts.format}, sent as {part.content_type}.",
            param=param,
            code="invalid_image_format",
        )
    return facts
