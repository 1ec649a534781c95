"""bot.images.probe: an image's format and size from its header, without bot.imaging."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.errors import InvalidInput
from bot.front.explain import explain
from bot.images.probe import ImageInfo, probe


def test_probe_gives_the_real_format_and_size() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (30, 20)).save(buffer, "WEBP")

    assert probe(buffer.getvalue()) == ImageInfo(format="webp", width=30, height=20)


def test_probe_refuses_what_is_not_an_image() -> None:
    with pytest.raises(InvalidInput) as error:
        probe(b"not an image at all")

    assert explain(None, error.value) == "That file isn't an image I can read."
