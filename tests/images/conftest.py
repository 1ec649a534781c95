"""Fixtures for the Images API tests: a started fake, one session per test, a client factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Protocol

import aiohttp
import pytest

from bot.images.client import ImagesClient
from bot.images.profiles import Family, MiB, ResponseFormat, build_profile
from bot.retry import RetryPolicy
from bot.secrets import Secret
from bot.transport import Transport
from tests.fakes.images_api import FakeImagesAPI

API_KEY = "sk-proj-" + "k3yMaterial" * 5  # long and key-like, as OpenAI's are

# The model each family is tested with (the spec's names).
MODELS: dict[Family, str] = {
    "dall-e-2": "dall-e-2",
    "dall-e-3": "dall-e-3",
    "gpt-image": "gpt-image-1.5",
    "gpt-image-mini": "gpt-image-1-mini",
    "gpt-image-2": "gpt-image-2",
}


class ClientFactory(Protocol):
    def __call__(
        self,
        family: Family = ...,
        *,
        model: str | None = ...,
        response_format: ResponseFormat = ...,
        api_key: str | None = ...,
        organization: str | None = ...,
        project: str | None = ...,
        timeout: float = ...,
        max_attempts: int = ...,
        retry_deadline: float = ...,
        max_result_bytes: int = ...,
    ) -> ImagesClient: ...


@pytest.fixture
async def fake() -> AsyncIterator[FakeImagesAPI]:
    async with FakeImagesAPI(api_key=API_KEY) as api:
        yield api


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session


@pytest.fixture
def make_client(fake: FakeImagesAPI, session: aiohttp.ClientSession) -> ClientFactory:
    """A client for one family against the fake, with backoff tiny enough for a fast suite."""

    def make(
        family: Family = "gpt-image-2",
        *,
        model: str | None = None,
        response_format: ResponseFormat = "b64_json",
        api_key: str | None = API_KEY,
        organization: str | None = None,
        project: str | None = None,
        timeout: float = 5.0,
        max_attempts: int = 3,
        retry_deadline: float = 10.0,
        max_result_bytes: int = 50 * MiB,
    ) -> ImagesClient:
        transport = Transport(
            session,
            base_url=fake.base_url,
            api_key=Secret(api_key) if api_key is not None else None,
            organization=organization,
            project=project,
            timeout=timeout,
            retry=RetryPolicy(max_attempts, retry_deadline, backoff_base=0.01, backoff_cap=0.02),
        )
        return ImagesClient(
            transport,
            profile=build_profile(family, model or MODELS[family], response_format=response_format),
            max_result_bytes=max_result_bytes,
        )

    return make
