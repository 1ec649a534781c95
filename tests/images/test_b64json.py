"""Reading base64 answers without copies: always what json.loads gives, views for the images."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

import pytest

from bot.images import b64json
from bot.images.b64json import decode_base64, decode_base64_stdlib, parse_answer

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40
ENCODED = base64.b64encode(PNG).decode()


def plain(value: Any) -> Any:
    """`value` with every memoryview turned into the str it shows, to compare with json.loads."""
    if isinstance(value, memoryview):
        return value.tobytes().decode("ascii")
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def answer(*items: dict[str, Any], **extra: Any) -> bytearray:
    return bytearray(json.dumps({"created": 1, "data": list(items), **extra}).encode())


def test_each_image_is_a_view_of_the_body_and_the_rest_is_parsed() -> None:
    body = answer(
        {"b64_json": ENCODED, "revised_prompt": 'a "quoted" prompt'},
        {"b64_json": ENCODED[::-1]},
        usage={"input_tokens": 1, "output_tokens": 2, "total_tokens": 3},
    )
    payload = parse_answer(body)
    first, second = payload["data"]
    assert isinstance(first["b64_json"], memoryview)
    assert first["b64_json"].obj is body  # no copy
    assert plain(payload) == json.loads(body)
    assert decode_base64(first["b64_json"]) == PNG
    assert second["b64_json"].tobytes() == ENCODED[::-1].encode()


@pytest.mark.parametrize(
    "text",
    [
        # Whitespace around the colon, and keys in another order.
        '{"data": [{"revised_prompt": "x", "b64_json" :\n "%s"}], "created": 2}',
        '{"data":[{"b64_json":"%s"}]}',
        # A prompt that talks about b64_json, escaped as JSON escapes it.
        '{"data": [{"revised_prompt": "say \\"b64_json\\": \\"no\\"", "b64_json": "%s"}]}',
    ],
)
def test_layouts_that_json_allows(text: str) -> None:
    body = bytearray((text % ENCODED).encode())
    payload = parse_answer(body)
    assert isinstance(payload["data"][0]["b64_json"], memoryview)
    assert plain(payload) == json.loads(body)


@pytest.mark.parametrize(
    "text",
    [
        # An escaped slash (some servers write "/" as "\/"): unescaping is json.loads' job.
        '{"data": [{"b64_json": "%s\\/AA"}]}',
        # The key outside the data items.
        '{"b64_json": "%s", "data": [{"url": "https://example.test/a.png"}]}',
        # The key given twice in one item: the last one counts, as in json.loads.
        '{"data": [{"b64_json": "%s", "b64_json": "QUJD"}]}',
        # A key spelled with an escape, standing where a marker would.
        '{"data": [{"b64\\u005fjson": "#0"}, {"b64_json": "%s"}]}',
        # A key whose own text ends in b64_json, written with an escaped quote.
        '{"data": [{"\\"b64_json": "%s"}]}',
    ],
)
def test_anything_unusual_gives_exactly_what_json_loads_gives(text: str) -> None:
    body = bytearray((text % ENCODED).encode())
    assert plain(parse_answer(body)) == json.loads(body)


def test_answers_without_base64_and_errors_are_plain_json() -> None:
    urls = answer({"url": "https://example.test/a.png"})
    assert parse_answer(urls) == json.loads(urls)
    with pytest.raises(json.JSONDecodeError):
        parse_answer(bytearray(b"<html>Bad gateway</html>"))
    with pytest.raises(json.JSONDecodeError):
        parse_answer(bytearray(b'{"data": [{"b64_json": "QUJD'))  # cut off


@pytest.mark.parametrize("decode", [decode_base64, decode_base64_stdlib])
@pytest.mark.parametrize(
    "bad",
    [
        b"QUJD*A==",  # not the alphabet
        b"QUJD\nQUJD",  # a line break
        b"QUJDQQ",  # missing padding
        b"QQ==QUJD",  # padding in the middle
    ],
)
def test_decoding_is_strict(decode: Any, bad: bytes) -> None:
    with pytest.raises(binascii.Error):
        decode(memoryview(bytearray(bad)))


@pytest.mark.parametrize("decode", [decode_base64, decode_base64_stdlib])
def test_text_is_decoded_from_views_strs_and_bytes(decode: Any) -> None:
    assert decode(ENCODED) == PNG
    assert decode(ENCODED.encode()) == PNG
    assert decode(memoryview(bytearray(ENCODED.encode()))) == PNG
    with pytest.raises(ValueError, match=r"ascii|base64"):
        decode("QUJD\u00e9A==")  # not ASCII


def test_the_standard_library_decodes_large_text_in_slices_as_strictly() -> None:
    data = bytes(range(256)) * 5_000  # over two slices of text
    assert decode_base64_stdlib(base64.b64encode(data)) == data
    # Padding exactly at the end of a slice would pass slice by slice; the whole is invalid.
    padded = base64.b64encode(b"\0" * (b64json._SLICE // 4 * 3 - 2))
    assert len(padded) == b64json._SLICE
    assert padded.endswith(b"==")
    with pytest.raises(binascii.Error):
        decode_base64_stdlib(padded + base64.b64encode(b"more"))
    with pytest.raises(binascii.Error):
        decode_base64(padded + base64.b64encode(b"more"))
