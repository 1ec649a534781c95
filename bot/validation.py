"""Checks on what a member typed, driven by the model profile. Pure functions, no I/O.

Each check returns normalised values, exactly what the client may send, or raises
`InvalidInput` listing every problem at once, each saying what was wrong and how to fix it.
Text values are trimmed and lower-cased (" HD ", "1024X1024" and sizes written with a
multiplication sign are accepted); an empty one counts as not set. A member's own text is only
echoed back when it is short and plain, so it can't smuggle mentions or markdown into a reply.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal, TypedDict, Unpack

from bot.errors import InvalidInput, Problem
from bot.images.profiles import ModelProfile, Operation
from bot.images.requests import ImageOptions

# The optional fields, in the order problems are reported. Each has its own messages
# (`validation.<field>.unsupported`, `.not_offered`), so translators see whole sentences.
_CHOICES = ("quality", "style", "background", "output_format", "moderation", "input_fidelity")
_COMPRESSIBLE_FORMATS = ("jpeg", "webp")
_TRANSPARENT_FORMATS = ("png", "webp")
_DEFAULT_OUTPUT_FORMAT = "png"  # what the API uses when output_format is left out
_MULTIPLY = "\N{MULTIPLICATION SIGN}"  # members may write sizes the way they are shown
_ECHOABLE = re.compile(r"^[0-9a-z_.-]{1,24}$")


class _CommonFields(TypedDict, total=False):
    n: int
    size: str | None
    quality: str | None
    background: str | None
    output_format: str | None
    output_compression: int | None


class GenerationFields(_CommonFields, total=False):
    """What a member may set on a generation, besides the prompt."""

    style: str | None
    moderation: str | None


class EditFields(_CommonFields, total=False):
    """What a member may set on an edit, besides the prompt, and on a variation."""

    input_fidelity: str | None


def check_generation(
    profile: ModelProfile, *, prompt: str, **fields: Unpack[GenerationFields]
) -> tuple[str, ImageOptions]:
    """The prompt and options of a generation, checked against `profile`."""
    return _check_prompted(profile, "generate", prompt, fields)


def check_edit(
    profile: ModelProfile, *, prompt: str, **fields: Unpack[EditFields]
) -> tuple[str, ImageOptions]:
    """The prompt and options of an edit, checked against `profile`."""
    if not profile.supports_edits:
        raise InvalidInput([_unavailable(profile, "edit")])
    return _check_prompted(profile, "edit", prompt, fields)


def check_variation(
    profile: ModelProfile,
    *,
    operation: Literal["variation", "edit"] | None = None,
    **fields: Unpack[EditFields],
) -> ImageOptions:
    """The options of a variation, checked against the endpoint that will make it.

    `operation`: "variation", or "edit" where a model without variations is asked for an edit
    that varies the image (the service's fallback); by default, whichever the profile allows.
    Only a variation endpoint's own fields (n and size) are accepted for "variation".
    """
    if operation is None:
        operation = "variation" if profile.supports_variations else "edit"
    supported = profile.supports_variations if operation == "variation" else profile.supports_edits
    if not supported:
        raise InvalidInput([_unavailable(profile, "variation")])
    checker = _Checker(profile, operation)
    options = checker.options(fields)
    checker.raise_problems()
    return options


def _check_prompted(
    profile: ModelProfile, operation: Operation, prompt: str, fields: Mapping[str, Any]
) -> tuple[str, ImageOptions]:
    checker = _Checker(profile, operation)
    text = checker.prompt(prompt)
    options = checker.options(fields)
    checker.raise_problems()
    return text, options


def _unavailable(profile: ModelProfile, operation: Literal["edit", "variation"]) -> Problem:
    return InvalidInput.of(f"validation.{operation}_unavailable", model=profile.model)


class _Checker:
    """Collects every problem with one request instead of stopping at the first."""

    def __init__(self, profile: ModelProfile, operation: Operation) -> None:
        self.profile = profile
        self.operation = operation
        self.problems: list[Problem] = []

    def raise_problems(self) -> None:
        if self.problems:
            raise InvalidInput(self.problems)

    def prompt(self, prompt: str) -> str:
        text = prompt.strip()
        if not text:
            self.problems.append(InvalidInput.of("validation.prompt.empty"))
        elif len(text) > self.profile.prompt_max:
            # Numbers go as text with their thousands separated (1,204), as both shipped
            # languages write them: a format spec in the catalogue fails on a missing field.
            self.problems.append(
                InvalidInput.of(
                    "validation.prompt.too_long",
                    length=f"{len(text):,}",
                    limit=f"{self.profile.prompt_max:,}",
                )
            )
        return text

    def options(self, fields: Mapping[str, Any]) -> ImageOptions:
        """The member's `fields` (GenerationFields or EditFields) as options, checked."""
        n = fields.get("n", 1)
        self._count(n)
        checked_size = self._size(fields.get("size"))
        choices = {name: fields.get(name) for name in _CHOICES}
        values = {name: self._choice(name, value) for name, value in choices.items()}
        output_format = self._output_format(values, choices)
        self._background(values.get("background"), output_format)
        compression = self._compression(fields.get("output_compression"), output_format)
        return ImageOptions(
            n=n,
            size=checked_size,
            quality=values.get("quality"),
            style=values.get("style"),
            background=values.get("background"),
            output_format=values.get("output_format"),
            output_compression=compression,
            moderation=values.get("moderation"),
            input_fidelity=values.get("input_fidelity"),
        )

    def _count(self, n: int) -> None:
        n_max = self.profile.n_max
        if 1 <= n <= n_max:
            return
        if n_max == 1:
            self.problems.append(InvalidInput.of("validation.n.one"))
        else:
            self.problems.append(
                InvalidInput.of("validation.n.range", n=f"{n:,}", n_max=f"{n_max:,}")
            )

    def _size(self, size: str | None) -> str | None:
        value = _normalise(size, size=True)
        if value is None or self.profile.size_allowed(self.operation, value):
            return value
        offered = ", ".join(self.profile.sizes_for(self.operation))
        custom = self.profile.custom_sizes and self.operation != "variation"
        key = "validation.size." + ("custom" if custom else "listed")
        self.problems.append(_about(key, value, sizes=offered))
        return None

    def _choice(self, name: str, raw: str | None) -> str | None:
        value = _normalise(raw)
        if value is None:
            return None
        if not self.profile.accepts(self.operation, name):
            self.problems.append(InvalidInput.of(f"validation.{name}.unsupported"))
            return None
        allowed = self.profile.choices.get(name, ())
        if value not in allowed:
            key = f"validation.{name}.not_offered"
            self.problems.append(_about(key, value, choices=", ".join(allowed)))
            return None
        return value

    @staticmethod
    def _output_format(values: dict[str, str | None], raw: dict[str, str | None]) -> str | None:
        """The output format the API will use; None if the member's was refused.

        A refused format has its own problem already; judging the rules tied to the format
        against it would only repeat that.
        """
        if values.get("output_format") is None and _normalise(raw.get("output_format")):
            return None
        return values.get("output_format") or _DEFAULT_OUTPUT_FORMAT

    def _background(self, background: str | None, output_format: str | None) -> None:
        if (
            background == "transparent"
            and output_format is not None
            and output_format not in _TRANSPARENT_FORMATS
        ):
            self.problems.append(
                InvalidInput.of("validation.background.opaque_format", format=output_format.upper())
            )

    def _compression(self, compression: int | None, output_format: str | None) -> int | None:
        if compression is None:
            return None
        if not self.profile.accepts(self.operation, "output_compression"):
            self.problems.append(InvalidInput.of("validation.output_compression.unsupported"))
            return None
        problems_before = len(self.problems)
        if not 0 <= compression <= 100:
            self.problems.append(
                InvalidInput.of("validation.output_compression.range", value=f"{compression:,}")
            )
        if output_format is not None and output_format not in _COMPRESSIBLE_FORMATS:
            self.problems.append(InvalidInput.of("validation.output_compression.format"))
        return compression if len(self.problems) == problems_before else None


def _normalise(value: str | None, *, size: bool = False) -> str | None:
    if value is None:
        return None
    text = value.strip().lower()
    if size:
        text = text.replace(_MULTIPLY, "x").replace(" ", "")
    return text or None


def _about(key: str, value: str, **fields: object) -> Problem:
    """The message `key` naming the member's `value` when it is safe to echo (`key`), else
    not naming it (`key` + `.unnamed`: "That size isn't...")."""
    if _ECHOABLE.match(value):
        return InvalidInput.of(key, value=value, **fields)
    return InvalidInput.of(f"{key}.unnamed", **fields)
