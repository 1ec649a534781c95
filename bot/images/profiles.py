"""Per-model-family request rules, kept as data so the rest of the code never asks "is it DALL-E?".

Facts come from OpenAI's OpenAPI spec (Aug 2026) as summarised in IMAGES-API.md section 5.
OpenAI retired dall-e-2 and dall-e-3 on 2026-05-12; their profiles remain because self-hosted
OpenAI-compatible servers (LocalAI, stable-diffusion.cpp) still speak the DALL-E 2 contract.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal, get_args

Family = Literal["dall-e-2", "dall-e-3", "gpt-image", "gpt-image-mini", "gpt-image-2"]
Operation = Literal["generate", "edit", "variation"]
ResponseFormat = Literal["url", "b64_json"]

FAMILIES: tuple[Family, ...] = (
    "dall-e-2",
    "dall-e-3",
    "gpt-image",
    "gpt-image-mini",
    "gpt-image-2",
)

MiB = 1024 * 1024

# Optional request fields a member can set through a command option, with their allowed values.
# `output_compression` is numeric (0-100) and has no choices.
ChoiceField = Literal[
    "quality", "style", "background", "output_format", "moderation", "input_fidelity"
]
CHOICE_FIELDS: tuple[ChoiceField, ...] = get_args(ChoiceField)


@dataclass(frozen=True, slots=True)
class InputRule:
    """What an input image (for an edit or a variation) must look like when it is sent."""

    formats: frozenset[str]  # Pillow format names the API takes as they are: "PNG", "JPEG", "WEBP"
    max_bytes: int  # strictly less than this many bytes
    square: bool
    max_images: int  # how many input images one edit takes


@dataclass(frozen=True, slots=True)
class ModelProfile:
    """Everything that differs between model families, for one configured model."""

    family: Family
    model: str
    sizes: tuple[str, ...]  # sizes offered for generations, in the order shown to members
    edit_sizes: tuple[str, ...]
    variation_sizes: tuple[str, ...]
    custom_sizes: bool  # any WxH within the gpt-image-2 rules, besides the listed sizes
    n_max: int
    prompt_max: int
    # Optional fields each operation accepts; anything else is never sent.
    fields: Mapping[Operation, frozenset[str]]
    choices: Mapping[str, tuple[str, ...]]
    supports_edits: bool
    supports_variations: bool
    mask_required: bool
    input: InputRule
    # What to ask for in `response_format` where the family accepts it; None: never sent.
    response_format: ResponseFormat | None
    sends_safety_identifier: bool = False
    # Answers as server-sent events with previews (`stream`, `partial_images`) when asked.
    streams: bool = False
    notes: tuple[str, ...] = field(default=())

    def accepts(self, operation: Operation, name: str) -> bool:
        """Whether `name` may be sent to this family's `operation` endpoint."""
        return name in self.fields[operation]

    def sizes_for(self, operation: Operation) -> tuple[str, ...]:
        """The sizes offered to members for `operation`."""
        if operation == "edit":
            return self.edit_sizes
        if operation == "variation":
            return self.variation_sizes
        return self.sizes

    def size_allowed(self, operation: Operation, size: str) -> bool:
        """Whether `size` is valid for `operation` (listed, or a valid custom size)."""
        if size in self.sizes_for(operation):
            return True
        return self.custom_sizes and operation != "variation" and is_valid_custom_size(size)


_CUSTOM_SIZE = re.compile(r"^([1-9][0-9]{1,4})x([1-9][0-9]{1,4})$")
_CUSTOM_MAX_LONG, _CUSTOM_MAX_SHORT = 3840, 2160


def is_valid_custom_size(size: str) -> bool:
    """gpt-image-2 custom sizes: sides multiples of 16, ratio at most 3:1, at most 3840x2160."""
    match = _CUSTOM_SIZE.match(size)
    if match is None:
        return False
    width, height = int(match[1]), int(match[2])
    long_side, short_side = max(width, height), min(width, height)
    return (
        width % 16 == 0
        and height % 16 == 0
        and long_side <= 3 * short_side
        and long_side <= _CUSTOM_MAX_LONG
        and width * height <= _CUSTOM_MAX_LONG * _CUSTOM_MAX_SHORT
    )


_DALLE2_SIZES = ("256x256", "512x512", "1024x1024")
_GPT_SIZES = ("auto", "1024x1024", "1536x1024", "1024x1536")
_GPT2_SIZES = (*_GPT_SIZES, "2048x2048", "2048x1152", "1152x2048")
_GPT_CHOICES: Mapping[str, tuple[str, ...]] = {
    "quality": ("auto", "low", "medium", "high"),
    "background": ("auto", "opaque", "transparent"),
    "output_format": ("png", "jpeg", "webp"),
    "moderation": ("auto", "low"),
    "input_fidelity": ("low", "high"),
}
_GPT_INPUT = InputRule(
    formats=frozenset({"PNG", "JPEG", "WEBP"}), max_bytes=50 * MiB, square=False, max_images=16
)
# A note for developers reading a profile; no member ever sees a profile's notes.
_GPT_NOTE = "Always base64; a response_format gets a 400."  # i18n: not for members
_GPT_GENERATE = frozenset(
    {"quality", "background", "output_format", "output_compression", "moderation"}
)
# The multipart edit schema has no `moderation` field (only the JSON variant does).
_GPT_EDIT = frozenset(
    {"quality", "background", "output_format", "output_compression", "input_fidelity"}
)


def _gpt_profile(
    family: Family, model: str, *, sizes: tuple[str, ...], fidelity: bool
) -> ModelProfile:
    edit_fields = _GPT_EDIT if fidelity else _GPT_EDIT - {"input_fidelity"}
    choices = dict(_GPT_CHOICES)
    if not fidelity:
        del choices["input_fidelity"]
    return ModelProfile(
        family=family,
        model=model,
        sizes=sizes,
        edit_sizes=sizes,
        variation_sizes=(),
        custom_sizes=family == "gpt-image-2",
        n_max=10,
        prompt_max=32000,
        fields={"generate": _GPT_GENERATE, "edit": edit_fields, "variation": frozenset()},
        choices=choices,
        supports_edits=True,
        supports_variations=False,
        mask_required=False,
        input=_GPT_INPUT,
        response_format=None,
        streams=True,
        notes=(_GPT_NOTE,),
    )


# The DALL-E contract for input images: a square PNG under 4 MB (DALL-E 3 takes none at all).
_DALLE_INPUT = InputRule(formats=frozenset({"PNG"}), max_bytes=4 * MiB, square=True, max_images=1)


def _dalle_profile(
    family: Family,
    model: str,
    response_format: ResponseFormat,
    *,
    sizes: tuple[str, ...],
    n_max: int,
    prompt_max: int,
    edits: bool,
    choices: Mapping[str, tuple[str, ...]] | None = None,
) -> ModelProfile:
    """A DALL-E family. `edits`: it edits (with a mask) and varies square PNGs, as DALL-E 2
    does; DALL-E 3 only generates."""
    choices = choices or {}
    input_fields = frozenset({"response_format"}) if edits else frozenset()
    return ModelProfile(
        family=family,
        model=model,
        sizes=sizes,
        edit_sizes=sizes if edits else (),
        variation_sizes=sizes if edits else (),
        custom_sizes=False,
        n_max=n_max,
        prompt_max=prompt_max,
        fields={
            "generate": frozenset({*choices, "response_format"}),
            "edit": input_fields,
            "variation": input_fields,
        },
        choices=choices,
        supports_edits=edits,
        supports_variations=edits,
        mask_required=True,
        input=_DALLE_INPUT,
        response_format=response_format,
    )


def build_profile(
    family: Family, model: str, *, response_format: ResponseFormat = "b64_json"
) -> ModelProfile:
    """The profile of `family`, for requests naming `model`."""
    if family == "dall-e-2":
        return _dalle_profile(
            family,
            model,
            response_format,
            sizes=_DALLE2_SIZES,
            n_max=10,
            prompt_max=1000,
            edits=True,
        )
    if family == "dall-e-3":
        return _dalle_profile(
            family,
            model,
            response_format,
            sizes=("1024x1024", "1792x1024", "1024x1792"),
            n_max=1,
            prompt_max=4000,
            edits=False,
            choices={"quality": ("standard", "hd"), "style": ("vivid", "natural")},
        )
    if family == "gpt-image-mini":
        return _gpt_profile(family, model, sizes=_GPT_SIZES, fidelity=False)
    if family == "gpt-image-2":
        return _gpt_profile(family, model, sizes=_GPT2_SIZES, fidelity=True)
    return _gpt_profile(family, model, sizes=_GPT_SIZES, fidelity=True)


_GPT_MAJOR = re.compile(r"^(?:chatgpt-|gpt-)image-(\d+)")


def infer_family(model: str) -> Family | None:
    """Guess the family from an OpenAI model name; None for names we do not recognise."""
    name = model.strip().lower()
    if name.startswith("dall-e-2"):
        return "dall-e-2"
    if name.startswith("dall-e-3"):
        return "dall-e-3"
    if name.startswith("gpt-image-1-mini"):
        return "gpt-image-mini"
    if name.startswith("chatgpt-image"):
        return "gpt-image"
    match = _GPT_MAJOR.match(name)
    if match is not None:
        return "gpt-image-2" if int(match[1]) >= 2 else "gpt-image"
    return None
