"""Typed, already-validated inputs to the Images API client."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Literal

ImageFormat = Literal["png", "jpeg", "webp"]

_CONTENT_TYPES: dict[str, str] = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


@dataclass(frozen=True, slots=True)
class ImageOptions:
    """Optional request fields. None means "not set": the field is left out of the request.

    The client sends only the fields the model profile accepts for the operation, and refuses
    (ValueError) a set field the profile rejects: validation must have caught it first.
    """

    n: int = 1
    size: str | None = None
    quality: str | None = None
    style: str | None = None
    background: str | None = None
    output_format: str | None = None
    output_compression: int | None = None
    moderation: str | None = None
    input_fidelity: str | None = None

    def optional_fields(self) -> dict[str, str | int]:
        """Every set field except `n` and `size`, by API field name."""
        return {
            f.name: value
            for f in fields(self)
            if f.name not in ("n", "size") and (value := getattr(self, f.name)) is not None
        }


@dataclass(frozen=True, slots=True)
class InputImage:
    """An image ready to upload: bytes in a format the profile accepts, with its pixel size."""

    data: bytes = field(repr=False)
    format: ImageFormat
    width: int
    height: int

    @property
    def filename(self) -> str:
        return "image." + ("jpg" if self.format == "jpeg" else self.format)

    @property
    def content_type(self) -> str:
        return _CONTENT_TYPES[self.format]
