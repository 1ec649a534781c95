"""The fake moderation endpoint is as strict as the spec: its answers and its refusals conform."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.fakes.moderation_api import CATEGORIES, FakeModerationAPI, schema_validator
from tests.moderation.conftest import API_KEY

HEADERS = {"Authorization": f"Bearer {API_KEY}"}


async def post(
    session: aiohttp.ClientSession, fake: FakeModerationAPI, **kwargs: Any
) -> tuple[int, Any]:
    kwargs.setdefault("headers", HEADERS)
    async with session.post(fake.base_url + "/moderations", **kwargs) as response:
        return response.status, await response.json(content_type=None)


@pytest.mark.parametrize(
    ("body", "flagged"),
    [
        ({"input": "a sword fight"}, [True]),
        ({"input": "a lake", "model": "omni-moderation-latest"}, [False]),
        ({"input": ["a lake", "a SWORD"], "model": "text-moderation-stable"}, [False, True]),
        (
            {
                "input": [
                    {"type": "text", "text": "a sword"},
                    {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
                ]
            },
            [True],
        ),
    ],
)
async def test_answers_follow_the_response_schema(
    fake_moderation: FakeModerationAPI,
    session: aiohttp.ClientSession,
    body: dict[str, Any],
    flagged: list[bool],
) -> None:
    fake_moderation.flag("sword", "violence")
    status, answer = await post(session, fake_moderation, json=body)
    assert status == 200
    assert list(schema_validator("CreateModerationResponse").iter_errors(answer)) == []
    assert [result["flagged"] for result in answer["results"]] == flagged
    for result in answer["results"]:
        assert set(result["categories"]) == set(CATEGORIES)
        assert result["categories"]["violence"] is result["flagged"]
    assert fake_moderation.violations == []


@pytest.mark.parametrize(
    ("request_kwargs", "param"),
    [
        ({"json": {}}, "input"),  # required
        ({"json": {"input": 5}}, "input"),
        ({"json": {"input": "x", "model": 7}}, "model"),
        ({"json": {"input": [{"type": "text"}]}}, "input"),  # a text part without text
        ({"json": {"input": "x", "user": "u-a"}}, "user"),  # no such field
        ({"data": "input=x"}, None),  # not JSON
    ],
)
async def test_requests_that_break_the_schema_are_refused_and_recorded(
    fake_moderation: FakeModerationAPI,
    session: aiohttp.ClientSession,
    request_kwargs: dict[str, Any],
    param: str | None,
) -> None:
    status, answer = await post(session, fake_moderation, **request_kwargs)
    assert status == 400
    assert list(schema_validator("ErrorResponse").iter_errors(answer)) == []
    [violation] = fake_moderation.violations
    assert violation.error.param == param
    assert fake_moderation.answers == []


async def test_a_missing_or_wrong_key_gets_a_401(
    fake_moderation: FakeModerationAPI, session: aiohttp.ClientSession
) -> None:
    status, answer = await post(session, fake_moderation, json={"input": "x"}, headers={})
    assert status == 401
    status, answer = await post(
        session, fake_moderation, json={"input": "x"}, headers={"Authorization": "Bearer nope"}
    )
    assert status == 401
    assert answer["error"]["code"] == "invalid_api_key"
    assert list(schema_validator("ErrorResponse").iter_errors(answer)) == []


def test_flag_rules_name_real_categories() -> None:
    fake = FakeModerationAPI()
    with pytest.raises(ValueError, match="name one or more"):
        fake.flag("x", "spam")
    with pytest.raises(ValueError, match="name one or more"):
        fake.flag("x")
