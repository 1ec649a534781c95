"""The fake Images API's streamed events: the picture spliced in is the JSON json.dumps makes."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from tests.fakes.images_api_stream import _event


def _plain(data: dict[str, Any], name: str) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


@pytest.mark.parametrize(
    "picture",
    [base64.b64encode(bytes(range(256)) * 40).decode(), "", 'not "base64"\\\n\u00e9', None],
)
def test_an_image_event_is_the_same_bytes_as_plain_json(picture: str | None) -> None:
    data = {
        "type": "image_generation.partial_image",
        "b64_json": picture,
        "size": "1024x1024",
        "partial_image_index": 0,
    }
    assert _event(data) == _plain(data, "image_generation.partial_image")
    assert _event(data, "other") == _plain(data, "other")
