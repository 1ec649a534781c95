"""Prompt screening: blocked terms, the moderation endpoint (against the fake), the provider."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, Protocol

import aiohttp
import pytest

from bot.front.explain import explain, say
from bot.images.client import ImagesClient
from bot.images.errors import ContentPolicyViolation
from bot.images.profiles import build_profile
from bot.moderation import (
    ModerationClient,
    ModerationResult,
    ModerationUnavailable,
    PromptRefused,
    ServerSettings,
    refused_by_provider,
    screen,
)
from bot.retry import RetryPolicy
from bot.secrets import Secret
from bot.transport import Transport
from tests.fakes.images_api import FakeImagesAPI
from tests.fakes.moderation_api import FakeModerationAPI
from tests.moderation.conftest import API_KEY

GUILD = 31

BLOCKED_TERM = (
    "Your prompt contains a term this server has blocked, so nothing was generated. "
    "Please rephrase it."
)
PROVIDER = "The image provider refused this prompt under its content policy. Try rephrasing it."


class ClientFactory(Protocol):
    def __call__(self, **options: Any) -> ModerationClient: ...


@pytest.fixture
def make_client(
    fake_moderation: FakeModerationAPI, session: aiohttp.ClientSession
) -> ClientFactory:
    """A client against the fake, with waits short enough for a fast suite."""

    def make(
        *,
        api_key: Secret | None = None,
        timeout: float = 5.0,
        max_attempts: int = 2,
        **options: Any,
    ) -> ModerationClient:
        transport = Transport(
            session,
            base_url=fake_moderation.base_url,
            api_key=api_key or Secret(API_KEY),
            timeout=timeout,
            retry=RetryPolicy(max_attempts, deadline=30.0, backoff_base=0.01, backoff_cap=0.02),
        )
        return ModerationClient(transport, **options)

    return make


async def refused(
    prompt: str, settings: ServerSettings | None, moderation: ModerationClient | None
) -> PromptRefused:
    with pytest.raises(PromptRefused) as refusal:
        await screen(prompt, settings, moderation)
    return refusal.value


# --- blocked terms -----------------------------------------------------------------------------


async def test_a_blocked_term_is_refused_without_naming_it(
    make_client: ClientFactory, fake_moderation: FakeModerationAPI
) -> None:
    settings = ServerSettings(GUILD).with_blocked_term("gizmo")
    refusal = await refused("a shiny G.1.Z.M.O on a desk", settings, make_client())
    assert refusal.layer == "blocked_terms"
    assert explain(None, refusal) == BLOCKED_TERM
    assert "gizmo" not in explain(None, refusal).lower()
    assert "gizmo" not in repr(refusal)
    assert say(None, refusal.reason) == "blocked term 'gizmo' (written as 'g.1.z.m.o')"
    # Refused before any request: the moderation endpoint was never asked (or paid).
    assert fake_moderation.requests == []


async def test_a_prompt_that_only_contains_a_blocked_term_passes() -> None:
    settings = ServerSettings(GUILD).with_blocked_term("ass")
    await screen("a class of assorted glass", settings, None)


async def test_no_settings_and_no_moderation_let_everything_through() -> None:
    await screen("anything at all", None, None)
    await screen("anything at all", ServerSettings(GUILD), None)


# --- the moderation endpoint -------------------------------------------------------------------


async def test_a_clean_prompt_passes_and_the_request_is_well_formed(
    make_client: ClientFactory, fake_moderation: FakeModerationAPI
) -> None:
    fake_moderation.flag("sword", "violence")
    await screen("a quiet lake at dawn", ServerSettings(GUILD), make_client())
    [request] = fake_moderation.requests
    assert request.json == {"model": "omni-moderation-latest", "input": "a quiet lake at dawn"}
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert fake_moderation.violations == []


async def test_a_flagged_prompt_is_refused_with_its_categories(
    make_client: ClientFactory, fake_moderation: FakeModerationAPI
) -> None:
    fake_moderation.flag("sword fight", "violence", "violence/graphic", score=0.97)
    refusal = await refused("A gory SWORD FIGHT", None, make_client())
    assert refusal.layer == "moderation"
    assert refusal.categories == ("violence", "violence/graphic")
    assert explain(None, refusal) == (
        "The moderation check flagged your prompt (violence, graphic violence). Please rephrase it."
    )
    assert "violence=0.97, violence/graphic=0.97" in say(None, refusal.reason)
    assert fake_moderation.requests[0].request_id in say(None, refusal.reason)
    assert "omni-moderation-2024-09-26" in say(None, refusal.reason)


async def test_categories_configured_not_to_block_pass(
    make_client: ClientFactory, fake_moderation: FakeModerationAPI
) -> None:
    fake_moderation.flag("sword", "violence")
    fake_moderation.flag("kiss", "sexual")
    only_sexual = make_client(block_categories={"sexual"})
    await screen("a sword on a wall", None, only_sexual)
    refusal = await refused("a kiss", None, only_sexual)
    assert refusal.categories == ("sexual",)
    assert (
        explain(None, refusal)
        == "The moderation check flagged your prompt (sexual content). Please rephrase it."
    )


async def test_a_configured_category_covers_its_subcategories(
    make_client: ClientFactory, fake_moderation: FakeModerationAPI
) -> None:
    fake_moderation.flag("gore", "violence/graphic")
    parent = make_client(block_categories={"violence"})
    assert (await refused("gore", None, parent)).categories == ("violence/graphic",)
    exact = make_client(block_categories={"violence/graphic"})
    assert (await refused("gore", None, exact)).categories == ("violence/graphic",)
    await screen("gore", None, make_client(block_categories={"hate", "harassment"}))
    # A subcategory does not cover its parent.
    fake_moderation.flag("punch", "violence")
    await screen("a punch", None, exact)


def test_flagged_without_a_category_blocks_only_under_the_default(
    make_client: ClientFactory,
) -> None:
    result = ModerationResult(flagged=True, categories=frozenset())
    assert make_client().refuses(result)
    assert not make_client(block_categories={"hate"}).refuses(result)
    assert not make_client().refuses(ModerationResult(flagged=False, categories=frozenset()))


def test_unknown_categories_are_a_configuration_error(make_client: ClientFactory) -> None:
    with pytest.raises(ValueError, match="unknown moderation categories"):
        make_client(block_categories={"violence", "spam"})


async def test_a_legacy_model_with_null_categories_works(
    make_client: ClientFactory, fake_moderation: FakeModerationAPI
) -> None:
    fake_moderation.flag("sword", "violence")
    legacy = make_client(model="text-moderation-latest")
    await screen("a lake", None, legacy)
    assert (await refused("a sword", None, legacy)).categories == ("violence",)
    assert fake_moderation.requests[-1].json["model"] == "text-moderation-latest"
    assert fake_moderation.answers[0]["results"][0]["categories"]["illicit"] is None


# --- when the endpoint fails -------------------------------------------------------------------


async def test_the_endpoint_down_refuses_politely_by_default(
    make_client: ClientFactory, fake_moderation: FakeModerationAPI
) -> None:
    fake_moderation.fail_next("server_error", times=2)
    with pytest.raises(ModerationUnavailable) as unavailable:
        await screen("a lake", None, make_client())
    assert explain(None, unavailable.value) == (
        "I couldn't check your prompt with the moderation service right now, so nothing was "
        "generated and nothing was counted. Please try again in a minute."
    )
    assert unavailable.value.status == 500
    assert len(fake_moderation.requests) == 2  # one retry, then the policy


async def test_the_endpoint_down_lets_prompts_through_when_set_to_fail_open(
    make_client: ClientFactory,
    fake_moderation: FakeModerationAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_moderation.fail_next("overloaded", times=2)
    with caplog.at_level(logging.WARNING):
        await screen("a lake", None, make_client(fail_open=True))
    assert "letting the prompt through" in caplog.text
    assert len(fake_moderation.requests) == 2


async def test_fail_open_still_refuses_what_the_endpoint_does_flag(
    make_client: ClientFactory, fake_moderation: FakeModerationAPI
) -> None:
    fake_moderation.flag("sword", "violence")
    assert (await refused("sword", None, make_client(fail_open=True))).layer == "moderation"


async def test_one_transient_failure_is_retried(
    make_client: ClientFactory, fake_moderation: FakeModerationAPI
) -> None:
    fake_moderation.flag("sword", "violence")
    fake_moderation.fail_next("rate_limited")
    assert (await refused("sword", None, make_client())).layer == "moderation"
    assert len(fake_moderation.requests) == 2


@pytest.mark.parametrize(
    ("kind", "requests"),
    [
        ("insufficient_quota", 1),  # not transient: never retried
        ("unauthorized", 1),
        ("drop", 2),
        ("not_json", 1),
        ("no_results", 1),
    ],
)
async def test_every_failure_becomes_unavailable(
    make_client: ClientFactory, fake_moderation: FakeModerationAPI, kind: Any, requests: int
) -> None:
    fake_moderation.fail_next(kind, times=2)
    with pytest.raises(ModerationUnavailable):
        await screen("a lake", None, make_client())
    assert len(fake_moderation.requests) == requests


async def test_a_slow_endpoint_times_out(
    make_client: ClientFactory, fake_moderation: FakeModerationAPI
) -> None:
    fake_moderation.fail_next("slow", delay=10)
    with pytest.raises(ModerationUnavailable):
        await screen("a lake", None, make_client(timeout=0.2, max_attempts=1))
    assert len(fake_moderation.requests) == 1


async def test_an_unknown_model_is_logged_as_an_error(
    make_client: ClientFactory,
    fake_moderation: FakeModerationAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING), pytest.raises(ModerationUnavailable) as unavailable:
        await screen("a lake", None, make_client(model="omni-moderation-2099"))
    assert unavailable.value.code == "model_not_found"
    assert [record.levelno for record in caplog.records] == [logging.ERROR]
    assert fake_moderation.violations == []  # a wrong model is not a malformed request


async def test_the_api_key_is_never_logged(
    make_client: ClientFactory,
    fake_moderation: FakeModerationAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong_key = "sk-proj-" + "wr0ngKeyMaterial" * 3
    client = make_client(api_key=Secret(wrong_key))
    with caplog.at_level(logging.DEBUG), pytest.raises(ModerationUnavailable) as unavailable:
        await screen("a lake", None, client)
    assert unavailable.value.status == 401
    assert "401" in caplog.text
    assert wrong_key not in caplog.text
    assert "wr0ngKeyMaterial" not in caplog.text
    assert wrong_key not in repr(client)
    assert len(fake_moderation.requests) == 1


# --- the provider's own refusal ----------------------------------------------------------------


@pytest.fixture
async def fake_images() -> AsyncIterator[FakeImagesAPI]:
    async with FakeImagesAPI(api_key=API_KEY) as api:
        yield api


@pytest.mark.parametrize("kind", ["content_policy", "moderation_blocked"])
async def test_the_providers_refusal_becomes_a_prompt_refusal(
    fake_images: FakeImagesAPI, session: aiohttp.ClientSession, kind: Any
) -> None:
    transport = Transport(
        session,
        base_url=fake_images.base_url,
        api_key=Secret(API_KEY),
        timeout=5.0,
        retry=RetryPolicy(),
    )
    client = ImagesClient(transport, profile=build_profile("gpt-image-2", "gpt-image-2"))
    fake_images.fail_next(kind)
    with pytest.raises(ContentPolicyViolation) as violation:
        await client.generate(prompt="a lake", user="u-a")
    refusal = refused_by_provider(violation.value)
    assert refusal.layer == "provider"
    assert explain(None, refusal) == PROVIDER
    assert explain(None, refusal) == (
        "The image provider refused this prompt under its content policy. Try rephrasing it."
    )
    assert f"code={violation.value.code}" in say(None, refusal.reason)
    assert violation.value.code in ("content_policy_violation", "moderation_blocked")
    assert f"request_id={fake_images.requests[0].request_id}" in say(None, refusal.reason)
