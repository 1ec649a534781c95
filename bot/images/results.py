"""Typed results of the Images API."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class GeneratedImage:
    """One image, always as bytes (URL results are downloaded at once)."""

    data: bytes = field(repr=False)
    format: str  # "png", "jpeg" or "webp", judged from the bytes
    width: int
    height: int
    revised_prompt: str | None = None

    @property
    def filename_extension(self) -> str:
        return "jpg" if self.format == "jpeg" else self.format


@dataclass(frozen=True, slots=True)
class Usage:
    """Token usage (GPT image models only)."""

    input_tokens: int
    output_tokens: int
    total_tokens: int


@dataclass(frozen=True, slots=True)
class ImagesResult:
    """What one successful call returned."""

    images: tuple[GeneratedImage, ...]
    created: int
    model: str
    usage: Usage | None = None
    request_id: str | None = None
    upstream_seconds: float = 0.0  # time spent waiting on the API, retries included

    @property
    def revised_prompt(self) -> str | None:
        return next((i.revised_prompt for i in self.images if i.revised_prompt), None)
