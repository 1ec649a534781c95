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

from bot.errors import InvalidInput
from bot.images.profiles import ModelProfile, Operation
from bot.images.requests import ImageOptions

# Member-facing names of the optional fields, in the order problems are reported.
_LABELS = {
    "quality": "quality",
    "style": "style",
    "background": "background",
    "output_format": "output format",
    "moderation": "moderation",
    "input_fidelity": "input fidelity",
}
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
        raise InvalidInput([_unavailable(profile, "edit images", "editing is")])
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
        raise InvalidInput([_unavailable(profile, "make variations of an image", "variations are")])
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


def _unavailable(profile: ModelProfile, cannot: str, what: str) -> str:
    return (
        f"The image model this bot uses ({profile.model}) can't {cannot}, "
        f"so {what} not available here."
    )


class _Checker:
    """Collects every problem with one request instead of stopping at the first."""

    def __init__(self, profile: ModelProfile, operation: Operation) -> None:
        self.profile = profile
        self.operation = operation
        self.problems: list[str] = []

    def raise_problems(self) -> None:
        if self.problems:
            raise InvalidInput(self.problems)

    def prompt(self, prompt: str) -> str:
        text = prompt.strip()
        if not text:
            self.problems.append(
                "Your prompt is empty. Describe the picture you want and try again."
            )
        elif len(text) > self.profile.prompt_max:
            self.problems.append(
                f"Your prompt is {len(text):,} characters long; this model takes at most "
                f"{self.profile.prompt_max:,}. Shorten it and try again."
            )
        return text

    def options(self, fields: Mapping[str, Any]) -> ImageOptions:
        """The member's `fields` (GenerationFields or EditFields) as options, checked."""
        n = fields.get("n", 1)
        self._count(n)
        checked_size = self._size(fields.get("size"))
        choices = {name: fields.get(name) for name in _LABELS}
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
            self.problems.append(
                "This model makes one image at a time; set the number of images to 1 "
                "(or leave it out)."
            )
        else:
            self.problems.append(
                f"You asked for {n:,} images; this model makes 1 to {n_max:,} at a time. "
                "Choose a number in that range."
            )

    def _size(self, size: str | None) -> str | None:
        value = _normalise(size, size=True)
        if value is None or self.profile.size_allowed(self.operation, value):
            return value
        offered = ", ".join(self.profile.sizes_for(self.operation))
        if self.profile.custom_sizes and self.operation != "variation":
            offered += (
                ", or your own WIDTHxHEIGHT with both sides multiples of 16, the long side "
                "at most 3 times the short one, and at most 3840x2160 (for example 1280x720)"
            )
        self.problems.append(
            f"{_quote(value, 'That size')} isn't a size this model can make. "
            f"Choose one of: {offered}."
        )
        return None

    def _choice(self, name: str, raw: str | None) -> str | None:
        value = _normalise(raw)
        if value is None:
            return None
        label = _LABELS[name]
        if not self.profile.accepts(self.operation, name):
            self.problems.append(f"This model has no {label} setting; leave it out and try again.")
            return None
        allowed = self.profile.choices.get(name, ())
        if value not in allowed:
            self.problems.append(
                f"{_quote(value, 'That')} isn't {_article(label)} {label} this model offers. "
                f"Choose one of: {', '.join(allowed)}."
            )
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
                f"A transparent background needs PNG or WebP output; {output_format.upper()} "
                "has no transparency. Set the output format to png or webp, or choose "
                "another background."
            )

    def _compression(self, compression: int | None, output_format: str | None) -> int | None:
        if compression is None:
            return None
        if not self.profile.accepts(self.operation, "output_compression"):
            self.problems.append(
                "This model has no output compression setting; leave it out and try again."
            )
            return None
        problems_before = len(self.problems)
        if not 0 <= compression <= 100:
            self.problems.append(
                f"Output compression must be between 0 and 100; you gave {compression:,}. "
                "Pick a value in that range."
            )
        if output_format is not None and output_format not in _COMPRESSIBLE_FORMATS:
            self.problems.append(
                "Output compression only applies to JPEG or WebP images. Set the output "
                "format to jpeg or webp, or leave compression out."
            )
        return compression if len(self.problems) == problems_before else None


def _normalise(value: str | None, *, size: bool = False) -> str | None:
    if value is None:
        return None
    text = value.strip().lower()
    if size:
        text = text.replace(_MULTIPLY, "x").replace(" ", "")
    return text or None


def _quote(value: str, fallback: str) -> str:
    """`value` in quotes if it is safe to echo, else `fallback` ("That size", ...)."""
    return f"“{value}”" if _ECHOABLE.match(value) else fallback


def _article(noun: str) -> str:
    return "an" if noun[0] in "aeiou" else "a"
