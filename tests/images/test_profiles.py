"""Model profiles against IMAGES-API.md section 5 and the vendored OpenAPI schemas."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from bot.images.profiles import (
    FAMILIES,
    Family,
    MiB,
    ModelProfile,
    Operation,
    build_profile,
    infer_family,
    is_valid_custom_size,
)
from tests.fakes.images_api import load_schemas
from tests.images.conftest import MODELS

SCHEMAS: dict[Operation, str] = {
    "generate": "CreateImageRequest",
    "edit": "CreateImageEditRequest",
    "variation": "CreateImageVariationRequest",
}
OPERATIONS: tuple[Operation, ...] = ("generate", "edit", "variation")


def resolve(schema: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    return resolve(load_schemas()[ref.rsplit("/", 1)[-1]]) if ref else schema


def enum_values(schema: Mapping[str, Any]) -> set[Any]:
    """Every enum value a property allows, through $ref and anyOf."""
    schema = resolve(schema)
    values = set(schema.get("enum", ()))
    for branch in schema.get("anyOf", ()):
        values |= enum_values(branch)
    return values


def properties(operation: Operation) -> Mapping[str, Any]:
    return load_schemas()[SCHEMAS[operation]]["properties"]  # type: ignore[no-any-return]


def spec_model_names() -> set[str]:
    return set().union(*(enum_values(properties(op)["model"]) for op in OPERATIONS))


# --- infer_family ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "family"),
    [
        ("gpt-image-1", "gpt-image"),
        ("gpt-image-1-mini", "gpt-image-mini"),
        ("gpt-image-1.5", "gpt-image"),
        ("gpt-image-1.5-2025-12-16", "gpt-image"),
        ("chatgpt-image-latest", "gpt-image"),
        ("gpt-image-2", "gpt-image-2"),
        ("gpt-image-2-2026-04-21", "gpt-image-2"),
        ("dall-e-2", "dall-e-2"),
        ("dall-e-3", "dall-e-3"),
        (" GPT-Image-1 ", "gpt-image"),
        ("stable-diffusion-xl", None),
        ("gpt-4o", None),
        ("", None),
    ],
)
def test_infer_family(model: str, family: str | None) -> None:
    assert infer_family(model) == family


def test_every_model_the_spec_names_has_a_family() -> None:
    names = spec_model_names()

    assert "gpt-image-2-2026-04-21" in names  # the enums were found
    assert {name: infer_family(name) for name in names if infer_family(name) is None} == {}


# --- is_valid_custom_size ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "size",
    ["1536x864", "1024x1024", "3840x2160", "2160x3840", "3072x1024", "1024x3072", "2048x1152"],
)
def test_valid_custom_sizes(size: str) -> None:
    assert is_valid_custom_size(size)


@pytest.mark.parametrize(
    "size",
    [
        "1000x1000",  # not multiples of 16
        "1024x1000",
        "3088x1024",  # wider than 3:1
        "1024x3088",
        "3856x2160",  # longer than 3840
        "3840x2176",  # more pixels than 3840x2160
        "4096x2048",
        "1024X1024",
        "1024x1024 ",
        " 1024x1024",
        "1024*1024",
        "x1024",
        "1024x",
        "0x0",
        "-16x16",
        "01024x1024",
        "auto",
        "",
    ],
)
def test_invalid_custom_sizes(size: str) -> None:
    assert not is_valid_custom_size(size)


# --- The numbers of IMAGES-API.md section 5 ----------------------------------------------------

GPT_SIZES = {"1024x1024", "1536x1024", "1024x1536", "auto"}
GPT_QUALITY = {"low", "medium", "high", "auto"}
SECTION_5: dict[str, dict[str, Any]] = {
    "dall-e-2": {
        "operations": {"generate", "edit", "variation"},
        "prompt_max": 1000,
        "n_max": 10,
        "sizes": {"256x256", "512x512", "1024x1024"},
        "quality": set(),  # "standard" is the only value, so the bot never sends it
        "style": set(),
        "response_format": True,
        "gpt_only_fields": False,
        "input_fidelity": False,
        "custom_sizes": False,
        "max_images": 1,
        "input_formats": {"PNG"},
        "input_max_bytes": 4 * MiB,
        "square": True,
    },
    "dall-e-3": {
        "operations": {"generate"},
        "prompt_max": 4000,
        "n_max": 1,
        "sizes": {"1024x1024", "1792x1024", "1024x1792"},
        "quality": {"standard", "hd"},
        "style": {"vivid", "natural"},
        "response_format": True,
        "gpt_only_fields": False,
        "input_fidelity": False,
        "custom_sizes": False,
    },
    "gpt-image": {
        "operations": {"generate", "edit"},
        "prompt_max": 32000,
        "n_max": 10,
        "sizes": GPT_SIZES,
        "quality": GPT_QUALITY,
        "style": set(),
        "response_format": False,
        "gpt_only_fields": True,
        "input_fidelity": True,
        "custom_sizes": False,
        "max_images": 16,
        "input_formats": {"PNG", "JPEG", "WEBP"},
        "input_max_bytes": 50 * MiB,
        "square": False,
    },
    "gpt-image-mini": {
        "operations": {"generate", "edit"},
        "prompt_max": 32000,
        "n_max": 10,
        "sizes": GPT_SIZES,
        "quality": GPT_QUALITY,
        "style": set(),
        "response_format": False,
        "gpt_only_fields": True,
        "input_fidelity": False,
        "custom_sizes": False,
        "max_images": 16,
        "input_formats": {"PNG", "JPEG", "WEBP"},
        "input_max_bytes": 50 * MiB,
        "square": False,
    },
    "gpt-image-2": {
        "operations": {"generate", "edit"},
        "prompt_max": 32000,
        "n_max": 10,
        "sizes": GPT_SIZES,  # plus custom sizes
        "quality": GPT_QUALITY,
        "style": set(),
        "response_format": False,
        "gpt_only_fields": True,
        "input_fidelity": True,
        "custom_sizes": True,
        "max_images": 16,
        "input_formats": {"PNG", "JPEG", "WEBP"},
        "input_max_bytes": 50 * MiB,
        "square": False,
    },
}


def supported(profile: ModelProfile) -> set[Operation]:
    found: set[Operation] = {"generate"}
    if profile.supports_edits:
        found.add("edit")
    if profile.supports_variations:
        found.add("variation")
    return found


@pytest.mark.parametrize("family", FAMILIES)
def test_profile_numbers_match_the_reference(family: Family) -> None:
    facts = SECTION_5[family]
    profile = build_profile(family, MODELS[family])

    assert supported(profile) == facts["operations"]
    assert (profile.prompt_max, profile.n_max) == (facts["prompt_max"], facts["n_max"])
    assert profile.custom_sizes == facts["custom_sizes"]
    for operation in supported(profile):
        listed = set(profile.sizes_for(operation))
        assert facts["sizes"] <= listed, operation
        # Anything beyond the reference's list must be a valid gpt-image-2 custom size.
        assert all(
            profile.custom_sizes and is_valid_custom_size(s) for s in listed - facts["sizes"]
        )
    assert set(profile.choices.get("quality", ())) == facts["quality"]
    assert set(profile.choices.get("style", ())) == facts["style"]
    assert profile.accepts("generate", "response_format") == facts["response_format"]
    assert (profile.response_format is not None) == facts["response_format"]
    for name in ("background", "output_format", "output_compression", "moderation"):
        assert profile.accepts("generate", name) == facts["gpt_only_fields"], name
    assert profile.accepts("edit", "input_fidelity") == facts["input_fidelity"]
    assert not profile.sends_safety_identifier
    if "edit" in facts["operations"]:
        rule = profile.input
        assert rule.max_images == facts["max_images"]
        assert set(rule.formats) == facts["input_formats"]
        assert rule.max_bytes == facts["input_max_bytes"]
        assert rule.square == facts["square"]


def test_multipart_edits_never_take_moderation() -> None:
    # Only the JSON edit variant has `moderation`; the bot sends multipart.
    assert "moderation" not in properties("edit")
    for family in FAMILIES:
        assert not build_profile(family, MODELS[family]).accepts("edit", "moderation")


def test_variation_sizes_are_the_dalle2_squares() -> None:
    profile = build_profile("dall-e-2", "dall-e-2")

    assert set(profile.sizes_for("variation")) == {"256x256", "512x512", "1024x1024"}
    assert not profile.size_allowed("variation", "1536x864")


def test_gpt_image_2_allows_custom_sizes_except_for_variations() -> None:
    profile = build_profile("gpt-image-2", "gpt-image-2")

    assert profile.size_allowed("generate", "1536x864")
    assert profile.size_allowed("edit", "1536x864")
    assert not profile.size_allowed("generate", "1000x1000")
    assert not build_profile("gpt-image", "gpt-image-1").size_allowed("generate", "1536x864")


# --- Profiles against the vendored schemas -----------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_accepted_fields_exist_in_the_schema(family: Family, operation: Operation) -> None:
    profile = build_profile(family, MODELS[family])
    schema = properties(operation)

    assert set(profile.fields[operation]) <= set(schema)
    for name in profile.fields[operation]:
        allowed = enum_values(schema[name])
        if allowed and name in profile.choices:
            assert set(profile.choices[name]) <= allowed, name
    if profile.response_format is not None and profile.accepts(operation, "response_format"):
        assert profile.response_format in enum_values(schema["response_format"])


@pytest.mark.parametrize("family", FAMILIES)
def test_listed_sizes_are_in_the_schema_or_valid_custom_sizes(family: Family) -> None:
    profile = build_profile(family, MODELS[family])

    for operation in supported(profile):
        allowed = enum_values(properties(operation)["size"])
        for size in profile.sizes_for(operation):
            assert size in allowed or (profile.custom_sizes and is_valid_custom_size(size))


def test_the_configured_models_are_in_the_spec() -> None:
    assert set(MODELS.values()) <= spec_model_names()
