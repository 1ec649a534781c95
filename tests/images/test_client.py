"""ImagesClient against the fake Images API: request shapes, errors, retries, results."""

from __future__ import annotations

import asyncio
import base64
import email.utils
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from bot.build import images_client
from bot.config import Settings
from bot.front.explain import explain
from bot.images.client import ImagesClient
from bot.images.errors import (
    AnswerLost,
    AuthenticationFailed,
    ContentPolicyViolation,
    ImagesError,
    InvalidRequest,
    MalformedResponse,
    ModelNotFound,
    QuotaExhausted,
    RateLimited,
    UpstreamFailure,
)
from bot.images.profiles import (
    CHOICE_FIELDS,
    FAMILIES,
    Family,
    ModelProfile,
    Operation,
    build_profile,
)
from bot.images.requests import ImageOptions, InputImage
from bot.images.results import ImagesResult
from bot.secrets import Secret
from tests.fakes.images_api import FakeImagesAPI, schema_validator, solid_image
from tests.images.conftest import API_KEY, MODELS, ClientFactory

USER = "u-0123456789abcdef"
GPT_FAMILIES: tuple[Family, ...] = ("gpt-image", "gpt-image-mini", "gpt-image-2")


def png(size: int = 256, height: int | None = None, *, alpha: bool = False) -> InputImage:
    height = size if height is None else height
    return InputImage(
        data=solid_image(size, height, alpha=alpha), format="png", width=size, height=height
    )


def options_with(**fields: Any) -> ImageOptions:
    return ImageOptions(**fields)


def edit_inputs(family: Family, count: int = 1) -> tuple[list[InputImage], InputImage]:
    """Input images and a mask that the family's edit endpoint takes."""
    side = 256 if family == "dall-e-2" else 64
    return [png(side) for _ in range(count)], png(side, alpha=True)


async def call(
    client: ImagesClient, operation: Operation, options: ImageOptions | None = None
) -> ImagesResult:
    family = client.profile.family
    options = options or ImageOptions()
    if operation == "generate":
        return await client.generate(prompt="a red fox", user=USER, options=options)
    if operation == "edit":
        images, mask = edit_inputs(family)
        return await client.edit(
            images=images, mask=mask, prompt="a red fox", user=USER, options=options
        )
    return await client.create_variation(image=png(256), user=USER, options=options)


def operations(profile: ModelProfile) -> list[Operation]:
    found: list[Operation] = ["generate"]
    if profile.supports_edits:
        found.append("edit")
    if profile.supports_variations:
        found.append("variation")
    return found


def family_operations() -> list[tuple[Family, Operation]]:
    return [
        (family, operation)
        for family in FAMILIES
        for operation in operations(build_profile(family, MODELS[family]))
    ]


# --- Request shapes ----------------------------------------------------------------------------


@pytest.mark.parametrize("family", FAMILIES)
async def test_generate_sends_json_with_model_user_and_only_allowed_fields(
    fake: FakeImagesAPI, make_client: ClientFactory, family: Family
) -> None:
    result = await make_client(family).generate(prompt="a red fox", user=USER)

    [request] = fake.requests
    assert request.path == "/v1/images/generations"
    assert not request.is_multipart
    expected = {"model": MODELS[family], "prompt": "a red fox", "n": 1, "user": USER}
    if family.startswith("dall-e"):
        expected["response_format"] = "b64_json"
    assert request.fields == expected
    assert not fake.violations
    assert [(i.format, i.width, i.height) for i in result.images] == [("png", 1024, 1024)]


@pytest.mark.parametrize("family", ["dall-e-2", *GPT_FAMILIES])
async def test_edit_with_one_image_sends_multipart_image_and_mask(
    fake: FakeImagesAPI, make_client: ClientFactory, family: Family
) -> None:
    [image], mask = edit_inputs(family)

    await make_client(family).edit(images=[image], mask=mask, prompt="add a hat", user=USER)

    [request] = fake.requests
    assert request.path == "/v1/images/edits"
    assert request.is_multipart
    expected = {"model": MODELS[family], "prompt": "add a hat", "n": "1", "user": USER}
    if family == "dall-e-2":
        expected["response_format"] = "b64_json"
    assert request.fields == expected
    assert request.file_names == ["image", "mask"]
    sent_image, sent_mask = request.files
    assert (sent_image.data, sent_image.content_type) == (image.data, "image/png")
    assert (sent_mask.data, sent_mask.filename) == (mask.data, "image.png")
    assert not fake.violations


@pytest.mark.parametrize("family", GPT_FAMILIES)
async def test_edit_with_several_images_repeats_image_brackets(
    fake: FakeImagesAPI, make_client: ClientFactory, family: Family
) -> None:
    images = [
        png(64),
        InputImage(data=solid_image(64, 32, format="JPEG"), format="jpeg", width=64, height=32),
        InputImage(data=solid_image(48, 48, format="WEBP"), format="webp", width=48, height=48),
    ]

    await make_client(family).edit(images=images, prompt="combine them", user=USER)

    [request] = fake.requests
    assert request.file_names == ["image[]", "image[]", "image[]"]
    assert [part.data for part in request.files] == [image.data for image in images]
    assert [part.content_type for part in request.files] == [
        "image/png",
        "image/jpeg",
        "image/webp",
    ]
    assert [part.filename for part in request.files] == ["image.png", "image.jpg", "image.webp"]
    assert not fake.violations


async def test_variation_sends_multipart_without_prompt(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    image = png(512)

    result = await make_client("dall-e-2").create_variation(
        image=image, user=USER, options=ImageOptions(n=2, size="512x512")
    )

    [request] = fake.requests
    assert request.path == "/v1/images/variations"
    assert request.fields == {
        "model": "dall-e-2",
        "n": "2",
        "size": "512x512",
        "response_format": "b64_json",
        "user": USER,
    }
    assert request.file_names == ["image"]
    assert request.files[0].data == image.data
    assert [(i.width, i.height) for i in result.images] == [(512, 512), (512, 512)]
    assert not fake.violations


def sweep(profile: ModelProfile, operation: Operation) -> list[ImageOptions]:
    """Every option value the profile accepts for `operation`, one at a time and all at once."""
    accepted = [name for name in CHOICE_FIELDS if profile.accepts(operation, name)]
    found = [options_with(**{name: value}) for name in accepted for value in profile.choices[name]]
    found += [ImageOptions(size=size) for size in profile.sizes_for(operation)]
    if profile.custom_sizes and operation != "variation":
        found.append(ImageOptions(size="1536x864"))
    found.append(ImageOptions(n=profile.n_max))
    everything: dict[str, Any] = {name: profile.choices[name][-1] for name in accepted}
    if profile.accepts(operation, "output_compression"):
        found += [
            ImageOptions(output_format="jpeg", output_compression=0),
            ImageOptions(output_format="webp", output_compression=100),
        ]
        everything |= {"background": "transparent", "output_format": "webp"}
        everything["output_compression"] = 80
    found.append(
        ImageOptions(n=min(2, profile.n_max), size=profile.sizes_for(operation)[-1], **everything)
    )
    return found


@pytest.mark.parametrize(("family", "operation"), family_operations())
async def test_every_accepted_option_is_sent_and_valid(
    fake: FakeImagesAPI, make_client: ClientFactory, family: Family, operation: Operation
) -> None:
    client = make_client(family)
    options_list = sweep(client.profile, operation)

    results = [await call(client, operation, options) for options in options_list]

    assert not fake.violations, fake.violations[:3]
    assert len(fake.requests) == len(options_list)
    for options, request, result in zip(options_list, fake.requests, results, strict=True):
        sent = {**options.optional_fields(), "n": options.n}
        if options.size is not None:
            sent["size"] = options.size
        if request.is_multipart:
            sent = {name: str(value) for name, value in sent.items()}
        assert {name: request.fields.get(name) for name in sent} == sent
        always = {"model", "user"} | ({"prompt"} if operation != "variation" else set())
        if client.profile.response_format is not None:
            always.add("response_format")
        assert set(request.fields) == always | set(sent)  # nothing else is sent
        assert len(result.images) == options.n
        if options.size not in (None, "auto"):
            width, height = map(int, options.size.split("x"))
            assert {(i.width, i.height) for i in result.images} == {(width, height)}
        if options.output_format is not None:
            assert {i.format for i in result.images} == {options.output_format}


@pytest.mark.parametrize(("family", "operation"), family_operations())
async def test_rejected_options_raise_before_any_request(
    fake: FakeImagesAPI, make_client: ClientFactory, family: Family, operation: Operation
) -> None:
    client = make_client(family)
    rejected = [
        name
        for name in (*CHOICE_FIELDS, "output_compression")
        if not client.profile.accepts(operation, name)
    ]
    assert rejected  # each family rejects some field on each operation

    for name in rejected:
        value = 50 if name == "output_compression" else "auto"
        options = options_with(**{name: value})
        with pytest.raises(ValueError, match=name):
            await call(client, operation, options)

    assert fake.requests == []


async def test_unsupported_operations_and_image_counts_raise_before_any_request(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    with pytest.raises(ValueError, match="edits"):
        await make_client("dall-e-3").edit(images=[png()], prompt="x", user=USER)
    for family in ("dall-e-3", *GPT_FAMILIES):
        with pytest.raises(ValueError, match="variations"):
            await make_client(family).create_variation(image=png(), user=USER)
    with pytest.raises(ValueError, match="1 to 1"):
        await make_client("dall-e-2").edit(images=[png(), png()], prompt="x", user=USER)
    with pytest.raises(ValueError, match="1 to 16"):
        await make_client("gpt-image").edit(images=[png(16)] * 17, prompt="x", user=USER)
    with pytest.raises(ValueError, match="not 0"):
        await make_client("gpt-image-2").edit(images=[], prompt="x", user=USER)

    assert fake.requests == []


async def test_headers_carry_key_organization_and_project(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    await make_client(organization="org-123", project="proj_abc").generate(prompt="x", user=USER)
    await make_client().generate(prompt="x", user=USER)

    with_ids, without = fake.requests
    assert with_ids.headers["Authorization"] == f"Bearer {API_KEY}"
    assert with_ids.headers["OpenAI-Organization"] == "org-123"
    assert with_ids.headers["OpenAI-Project"] == "proj_abc"
    assert "OpenAI-Organization" not in without.headers
    assert "OpenAI-Project" not in without.headers


async def test_no_key_sends_no_authorization(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    with pytest.raises(AuthenticationFailed) as caught:
        await make_client(api_key=None).generate(prompt="x", user=USER)

    [request] = fake.requests
    assert "Authorization" not in request.headers
    assert caught.value.status == 401


async def test_from_settings_uses_the_configured_model_and_ids(
    fake: FakeImagesAPI, session: aiohttp.ClientSession
) -> None:
    settings = Settings(
        discord_token=Secret("discord-token"),
        openai_api_key=Secret(API_KEY),
        openai_base_url=fake.base_url,
        openai_org_id="org-9",
        openai_project_id="proj_9",
        image_model="gpt-image-1-mini",
        image_model_family="gpt-image-mini",
    )
    client = images_client(session, settings)

    result = await client.generate(prompt="x", user=USER)

    [request] = fake.requests
    assert request.fields["model"] == result.model == "gpt-image-1-mini"
    assert request.headers["OpenAI-Project"] == "proj_9"
    assert API_KEY not in repr(client)
    assert "gpt-image-1-mini" in repr(client)


# --- Errors ------------------------------------------------------------------------------------

NOT_RETRIED = [
    ("invalid_request", {"param": "size"}, InvalidRequest, 400, "invalid_value", "size"),
    ("content_policy", {}, ContentPolicyViolation, 400, "content_policy_violation", None),
    ("moderation_blocked", {}, ContentPolicyViolation, 400, "moderation_blocked", None),
    ("model_not_found", {}, ModelNotFound, 404, "model_not_found", None),
    (
        "invalid_request",
        {"status": 422, "code": None},
        InvalidRequest,
        422,
        "invalid_value",
        "prompt",
    ),
    ("unauthorized", {}, AuthenticationFailed, 401, "invalid_api_key", None),
    ("forbidden", {}, AuthenticationFailed, 403, None, None),
    ("insufficient_quota", {}, QuotaExhausted, 429, "insufficient_quota", None),
    *[
        ("insufficient_quota", {"code": code}, QuotaExhausted, 429, code, None)
        for code in (
            "credit_balance_exhausted",
            "organization_spend_limit_exceeded",
            "project_spend_limit_exceeded",
            "organization_usage_limit_exceeded",
        )
    ],
]


@pytest.mark.parametrize(("kind", "script", "error_class", "status", "code", "param"), NOT_RETRIED)
async def test_errors_that_are_not_retried(
    fake: FakeImagesAPI,
    make_client: ClientFactory,
    kind: Any,
    script: dict[str, Any],
    error_class: type[ImagesError],
    status: int,
    code: str | None,
    param: str | None,
) -> None:
    fake.fail_next(kind, times=3, **script)

    with pytest.raises(ImagesError) as caught:
        await make_client(max_attempts=3).generate(prompt="x", user=USER)

    err = caught.value
    assert type(err) is error_class
    assert len(fake.requests) == 1  # never retried
    assert (err.status, err.code, err.param) == (status, code, param)
    assert err.request_id == fake.requests[0].request_id
    assert API_KEY not in explain(None, err) + repr(err) + str(err.api_message)


RETRIED = [
    ("rate_limited", {"retry_after_ms": 1}, RateLimited, 429, "rate_limit_exceeded"),
    ("server_error", {}, UpstreamFailure, 500, None),
    ("server_error", {"status": 502}, UpstreamFailure, 502, None),
    ("server_error", {"status": 503}, UpstreamFailure, 503, None),
]


@pytest.mark.parametrize(("kind", "script", "error_class", "status", "code"), RETRIED)
async def test_retryable_errors_when_attempts_run_out(
    fake: FakeImagesAPI,
    make_client: ClientFactory,
    kind: Any,
    script: dict[str, Any],
    error_class: type[ImagesError],
    status: int,
    code: str | None,
) -> None:
    fake.fail_next(kind, times=3, **script)

    with pytest.raises(ImagesError) as caught:
        await make_client(max_attempts=2).generate(prompt="x", user=USER)

    err = caught.value
    assert type(err) is error_class
    assert len(fake.requests) == 2
    assert (err.status, err.code) == (status, code)
    assert err.request_id == fake.requests[-1].request_id


async def test_invalid_request_message_shows_the_api_message(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    fake.fail_next("invalid_request", param="size", message="Invalid size '999x999'.")

    with pytest.raises(InvalidRequest) as caught:
        await make_client().generate(prompt="x", user=USER)

    expected = "The image service rejected the request: Invalid size '999x999'."
    assert explain(None, caught.value) == expected


@pytest.mark.parametrize(
    ("param", "code"),
    [(None, None), ("model", None), ("response_format", "unknown_parameter")],
)
async def test_a_400_not_about_the_members_input_is_kept_from_them(
    fake: FakeImagesAPI,
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
    param: str | None,
    code: str | None,
) -> None:
    text = "model file /srv/models/sdxl.safetensors not loaded on worker gpu-3"
    error = {"message": text, "type": "invalid_request_error", "param": param, "code": code}
    fake.queue_response(400, json={"error": error})

    with pytest.raises(InvalidRequest) as caught:
        await make_client().generate(prompt="x", user=USER)

    assert "/srv/models" not in explain(None, caught.value)
    assert "server owner" in explain(None, caught.value)
    logged = [r.getMessage() for r in caplog.records if "/srv/models" in r.getMessage()]
    assert logged
    assert fake.requests[0].request_id in logged[0]


async def test_content_policy_message_is_written_for_members(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    fake.fail_next("moderation_blocked")

    with pytest.raises(ContentPolicyViolation) as caught:
        await make_client().generate(prompt="x", user=USER)

    assert "content policy" in explain(None, caught.value)
    assert "safety_violations" in str(caught.value.api_message)  # kept for the log


@pytest.mark.parametrize(
    "key", ["sk-proj-" + "Wr0ngKeyMaterial" * 4, "local-secret-7"], ids=["openai", "short"]
)
async def test_an_echoed_api_key_never_reaches_errors_or_logs(
    fake: FakeImagesAPI,
    make_client: ClientFactory,
    caplog: pytest.LogCaptureFixture,
    key: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.api_key = "the-right-key"

    with pytest.raises(AuthenticationFailed) as caught:
        await make_client(api_key=key).generate(prompt="x", user=USER)

    [request] = fake.requests
    err = caught.value
    assert err.status == 401
    assert err.request_id == request.request_id
    assert "Incorrect API key provided" in str(err.api_message)
    for text in (explain(None, err), repr(err), str(err.api_message), caplog.text):
        assert key not in text
    assert caplog.records  # the failure was logged


async def test_scripted_401_echoing_the_real_key_is_masked(
    fake: FakeImagesAPI, make_client: ClientFactory, caplog: pytest.LogCaptureFixture
) -> None:
    fake.fail_next("unauthorized")

    with pytest.raises(AuthenticationFailed) as caught:
        await make_client().generate(prompt="x", user=USER)

    error = caught.value
    assert API_KEY not in explain(None, error) + repr(error) + str(error.api_message)
    assert API_KEY not in caplog.text


# --- Retries -----------------------------------------------------------------------------------


def gaps(fake: FakeImagesAPI) -> list[float]:
    return [later - earlier for earlier, later in itertools.pairwise(fake.arrivals)]


async def test_retry_waits_for_retry_after_ms(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    fake.fail_next("rate_limited", retry_after_ms=300)

    result = await make_client().generate(prompt="x", user=USER)

    [gap] = gaps(fake)
    assert gap >= 0.3
    assert result.upstream_seconds >= 0.3
    assert result.request_id == fake.requests[-1].request_id


async def test_a_server_error_retry_honours_the_servers_wait(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    fake.fail_next("server_error", status=503, retry_after_ms=300)

    await make_client().generate(prompt="x", user=USER)

    [gap] = gaps(fake)
    assert gap >= 0.3


async def test_retry_after_ms_wins_over_retry_after(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    fake.fail_next("rate_limited", retry_after_ms=200, retry_after=30)

    await make_client().generate(prompt="x", user=USER)

    [gap] = gaps(fake)
    assert 0.2 <= gap < 2.0


async def test_retry_waits_for_retry_after_seconds(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    fake.fail_next("rate_limited", retry_after=1)

    await make_client().generate(prompt="x", user=USER)

    [gap] = gaps(fake)
    assert gap >= 1.0


async def test_retry_waits_for_retry_after_http_date(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    # HTTP dates have whole seconds: two seconds from now is at least one second away.
    when = email.utils.formatdate(time.time() + 2, usegmt=True)
    fake.fail_next("rate_limited", retry_after=when)

    await make_client().generate(prompt="x", user=USER)

    [gap] = gaps(fake)
    assert gap >= 0.95


async def test_a_wait_past_the_deadline_gives_up_at_once(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    fake.fail_next("rate_limited", retry_after_ms=5000)
    started = time.monotonic()

    with pytest.raises(RateLimited) as caught:
        await make_client(retry_deadline=1.0, max_attempts=5).generate(prompt="x", user=USER)

    assert time.monotonic() - started < 0.5
    assert len(fake.requests) == 1
    assert caught.value.retry_after == pytest.approx(5.0)


async def test_max_attempts_is_respected(fake: FakeImagesAPI, make_client: ClientFactory) -> None:
    fake.fail_next("server_error", times=5)

    with pytest.raises(UpstreamFailure):
        await make_client(max_attempts=3).generate(prompt="x", user=USER)

    assert len(fake.requests) == 3


async def test_server_error_is_retried_then_succeeds(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    fake.fail_next("server_error", status=502)

    result = await make_client().generate(prompt="x", user=USER)

    assert len(fake.requests) == 2
    assert len(result.images) == 1
    assert result.request_id == fake.requests[1].request_id


async def test_x_should_retry_false_is_honoured(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    fake.fail_next("server_error", times=3, should_retry=False)

    with pytest.raises(UpstreamFailure):
        await make_client(max_attempts=3).generate(prompt="x", user=USER)

    assert len(fake.requests) == 1


# A request the service received whole may have been carried out and billed: never sent again.
# (These pinned the old rule, "a dropped connection or a timeout is retried", which paid twice.)


async def test_a_connection_dropped_after_the_request_is_never_sent_again(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    fake.fail_next("drop", times=3)

    with pytest.raises(AnswerLost) as caught:
        await make_client(max_attempts=3).generate(prompt="x", user=USER)

    assert len(fake.requests) == 1
    assert caught.value.maybe_paid
    assert isinstance(caught.value.__cause__, aiohttp.ClientError)


async def test_a_slow_answer_is_lost_and_never_sent_again(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    fake.fail_next("slow", delay=5, times=3)
    started = time.monotonic()

    with pytest.raises(AnswerLost) as caught:
        await make_client(timeout=0.3, max_attempts=3).generate(prompt="x", user=USER)

    assert time.monotonic() - started < 1.5
    assert len(fake.requests) == 1
    assert caught.value.maybe_paid
    assert isinstance(caught.value.__cause__, TimeoutError)


async def test_a_200_cut_off_halfway_is_never_sent_again(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    fake.fail_next("truncated", times=3)

    with pytest.raises(AnswerLost) as caught:
        await make_client(max_attempts=3).generate(prompt="x", user=USER)

    assert len(fake.requests) == 1
    assert caught.value.maybe_paid
    assert caught.value.status == 200
    assert caught.value.request_id == fake.requests[0].request_id


async def test_an_error_status_says_nothing_was_made_and_is_retried(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    fake.fail_next("server_error", status=503)
    fake.fail_next("rate_limited", retry_after_ms=1)

    result = await make_client(max_attempts=3).generate(prompt="x", user=USER)

    assert len(fake.requests) == 3
    assert len(result.images) == 1


async def test_a_rate_limit_pauses_every_concurrent_call(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    client = make_client()
    fake.fail_next("rate_limited", retry_after_ms=400)
    first = asyncio.create_task(client.generate(prompt="first", user=USER))
    await eventually(lambda: len(fake.requests) == 1)
    await asyncio.sleep(0.05)  # time for the 429 to reach the client

    second = asyncio.create_task(client.generate(prompt="second", user=USER))
    await asyncio.gather(first, second)

    limited, *later = fake.requests
    assert limited.fields["prompt"] == "first"
    assert sorted(request.fields["prompt"] for request in later) == ["first", "second"]
    # Without the shared cool-down the second call would arrive about 0.05 s after the 429.
    assert all(request.arrived - limited.arrived >= 0.4 for request in later)


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.005)


# --- Results -----------------------------------------------------------------------------------


async def test_gpt_results_carry_bytes_format_size_and_usage(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    options = ImageOptions(n=2, size="1536x1024", output_format="jpeg", output_compression=70)

    result = await make_client("gpt-image").generate(prompt="x", user=USER, options=options)

    assert [(i.format, i.width, i.height) for i in result.images] == [("jpeg", 1536, 1024)] * 2
    assert result.images[0].data.startswith(b"\xff\xd8")
    assert result.model == "gpt-image-1.5"
    assert result.usage is not None
    assert result.usage.total_tokens == result.usage.input_tokens + result.usage.output_tokens
    assert abs(result.created - time.time()) < 60
    assert result.request_id == fake.requests[0].request_id
    assert result.revised_prompt is None


async def test_dalle3_results_carry_the_revised_prompt(make_client: ClientFactory) -> None:
    result = await make_client("dall-e-3").generate(prompt="a red fox", user=USER)

    assert result.revised_prompt is not None
    assert "a red fox" in result.revised_prompt
    assert result.usage is None


async def test_url_results_are_downloaded(fake: FakeImagesAPI, make_client: ClientFactory) -> None:
    client = make_client("dall-e-2", response_format="url")

    result = await client.generate(prompt="x", user=USER, options=ImageOptions(n=3, size="512x512"))

    assert fake.requests[0].fields["response_format"] == "url"
    assert len(fake.file_requests) == 3
    assert [(i.format, i.width, i.height) for i in result.images] == [("png", 512, 512)] * 3
    assert result.images[0].data == solid_image(512, 512)


async def test_url_results_from_a_server_that_ignores_response_format(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    fake.result_mode = "url"

    result = await make_client("gpt-image-2").generate(prompt="x", user=USER)

    assert len(fake.file_requests) == 1
    assert (result.images[0].width, result.images[0].height) == (1024, 1024)


async def test_an_oversized_url_result_is_refused(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    fake.file_padding = 20_000

    with pytest.raises(MalformedResponse) as caught:
        await make_client("dall-e-2", response_format="url", max_result_bytes=10_000).generate(
            prompt="x", user=USER, options=ImageOptions(size="256x256")
        )

    assert len(fake.requests) == 1  # the images were billed: never generated again
    assert caught.value.request_id == fake.requests[0].request_id


async def test_an_expired_url_result_is_malformed(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    fake.file_status = 404

    with pytest.raises(MalformedResponse):
        await make_client("dall-e-2", response_format="url").generate(prompt="x", user=USER)

    assert len(fake.file_requests) == 1


async def test_an_oversized_base64_result_is_refused(make_client: ClientFactory) -> None:
    with pytest.raises(MalformedResponse):
        await make_client(max_result_bytes=100).generate(prompt="x", user=USER)


@pytest.mark.parametrize("kind", ["not_json", "no_data", "bad_base64", "not_an_image"])
async def test_malformed_answers(
    fake: FakeImagesAPI, make_client: ClientFactory, kind: Any
) -> None:
    fake.fail_next(kind, times=3)

    with pytest.raises(MalformedResponse) as caught:
        await make_client().generate(prompt="x", user=USER)

    assert len(fake.requests) == 1
    assert caught.value.request_id == fake.requests[0].request_id
    assert caught.value.status == 200


async def test_an_image_in_an_unexpected_format_is_malformed(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    gif = base64.b64encode(solid_image(8, 8, format="GIF")).decode()
    fake.queue_response(json={"created": 1, "data": [{"b64_json": gif}]})

    with pytest.raises(MalformedResponse):
        await make_client().generate(prompt="x", user=USER)


async def test_images_response_from_a_minimal_compatible_server(
    fake: FakeImagesAPI, make_client: ClientFactory
) -> None:
    # No `created`, no `usage`: a self-hosted server may leave them out.
    encoded = base64.b64encode(solid_image(32, 16)).decode()
    fake.queue_response(json={"data": [{"b64_json": encoded}]})

    result = await make_client().generate(prompt="x", user=USER)

    assert (result.images[0].width, result.images[0].height) == (32, 16)
    assert result.usage is None
    assert abs(result.created - time.time()) < 60


# --- The fake is as strict as the real API (otherwise `not fake.violations` proves nothing) ----


PNG = solid_image(256, 256)
ALPHA = solid_image(256, 256, alpha=True)


def bad_json(case: str, param: str, code: str, **body: Any) -> Any:
    """A generation the real API refuses with `param`/`code` (prompt "x" unless given)."""
    body = {"prompt": "x", **body}
    return pytest.param({k: v for k, v in body.items() if v is not None}, param, code, id=case)


@pytest.mark.parametrize(
    ("body", "param", "code"),
    [
        bad_json("gpt-response-format", "response_format", "unknown_parameter",
                 model="gpt-image-1", response_format="url"),
        bad_json("gpt-style", "style", "unknown_parameter", model="gpt-image-1", style="vivid"),
        bad_json("gpt-quality-hd", "quality", "invalid_value", model="gpt-image-2", quality="hd"),
        bad_json("dalle3-n", "n", "invalid_value", model="dall-e-3", n=2),
        bad_json("dalle3-size", "size", "invalid_value", model="dall-e-3", size="512x512"),
        bad_json("custom-size", "size", "invalid_value", model="gpt-image-2", size="1000x1000"),
        bad_json("n-as-text", "n", "invalid_type", model="gpt-image-1", n="2"),
        bad_json("no-prompt", "prompt", "missing_required_parameter", model="gpt-image-1",
                 prompt=None),
        bad_json("no-model", "model", "missing_required_parameter"),
        bad_json("long-prompt", "prompt", "string_above_max_length", model="dall-e-2",
                 prompt="x" * 1001),
        bad_json("safety-identifier", "safety_identifier", "unknown_parameter",
                 model="gpt-image-1", safety_identifier="u-1"),
        bad_json("png-compression", "output_compression", "invalid_value", model="gpt-image-1",
                 output_format="png", output_compression=50),
    ],
)  # fmt: skip
async def test_the_fake_refuses_generations_the_real_api_refuses(
    fake: FakeImagesAPI, session: aiohttp.ClientSession, body: Any, param: str, code: str
) -> None:
    await expect_refusal(fake, session, "generations", param, code, json=body)


def bad_form(
    case: str, param: str, code: str, files: list[tuple[str, bytes, str]], **fields: str
) -> Any:
    """A multipart edit (or variation, without a prompt) the real API refuses."""
    return pytest.param(fields, files, param, code, id=case)


def png_part(data: bytes = PNG, name: str = "image") -> tuple[str, bytes, str]:
    return (name, data, "image/png")


@pytest.mark.parametrize(
    ("fields", "files", "param", "code"),
    [
        bad_form("moderation", "moderation", "unknown_parameter", [png_part()],
                 model="gpt-image-1", prompt="x", moderation="low"),
        bad_form("mini-fidelity", "input_fidelity", "unknown_parameter", [png_part()],
                 model="gpt-image-1-mini", prompt="x", input_fidelity="high"),
        bad_form("dalle3-edit", "model", "invalid_value", [png_part()],
                 model="dall-e-3", prompt="x"),
        bad_form("n-as-text", "n", "invalid_type", [png_part()],
                 model="gpt-image-1", prompt="x", n="ten"),
        bad_form("dalle2-not-square", "image", "invalid_image",
                 [png_part(solid_image(256, 128, alpha=True))], model="dall-e-2", prompt="x"),
        bad_form("dalle2-no-alpha-no-mask", "image", "invalid_image", [png_part()],
                 model="dall-e-2", prompt="x"),
        bad_form("mask-without-alpha", "mask", "invalid_image_file",
                 [png_part(), png_part(PNG, "mask")], model="dall-e-2", prompt="x"),
        bad_form("mask-other-size", "mask", "invalid_image",
                 [png_part(), png_part(solid_image(128, 128, alpha=True), "mask")],
                 model="gpt-image-1", prompt="x"),
        bad_form("octet-stream", "image", "unsupported_file_mimetype",
                 [("image", ALPHA, "application/octet-stream")], model="dall-e-2", prompt="x"),
        bad_form("jpeg-sent-as-png", "image", "invalid_image_format",
                 [png_part(solid_image(64, 64, format="JPEG"))], model="gpt-image-1", prompt="x"),
        bad_form("dalle2-two-images", "image", "invalid_value",
                 [png_part(ALPHA, "image[]"), png_part(ALPHA, "image[]")],
                 model="dall-e-2", prompt="x"),
    ],
)  # fmt: skip
async def test_the_fake_refuses_edits_the_real_api_refuses(
    fake: FakeImagesAPI,
    session: aiohttp.ClientSession,
    fields: dict[str, str],
    files: list[tuple[str, bytes, str]],
    param: str,
    code: str,
) -> None:
    await expect_refusal(fake, session, "edits", param, code, data=multipart(fields, files))


@pytest.mark.parametrize(
    ("model", "image"),
    [("gpt-image-1", PNG), ("dall-e-2", solid_image(64, 32)), ("dall-e-2", b"GIF89a")],
    ids=["gpt-model", "not-square", "not-an-image"],
)
async def test_the_fake_refuses_variations_the_real_api_refuses(
    fake: FakeImagesAPI, session: aiohttp.ClientSession, model: str, image: bytes
) -> None:
    form = multipart({"model": model}, [png_part(image)])

    async with session.post(f"{fake.base_url}/images/variations", headers=AUTH, data=form) as r:
        assert r.status == 400
    assert len(fake.violations) == 1


AUTH = {"Authorization": f"Bearer {API_KEY}"}


def multipart(fields: dict[str, str], files: list[tuple[str, bytes, str]]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in fields.items():
        form.add_field(name, value)
    for name, data, content_type in files:
        form.add_field(name, data, filename="image.png", content_type=content_type)
    return form


async def expect_refusal(
    fake: FakeImagesAPI,
    session: aiohttp.ClientSession,
    endpoint: str,
    param: str,
    code: str,
    **body: Any,
) -> None:
    url = f"{fake.base_url}/images/{endpoint}"
    async with session.post(url, headers=AUTH, **body) as response:
        status, payload = response.status, await response.json()

    assert status == 400
    assert (payload["error"]["param"], payload["error"]["code"]) == (param, code)
    assert [(v.param, v.code) for v in fake.violations] == [(param, code)]


async def test_the_fakes_answers_match_the_schema(
    fake: FakeImagesAPI, session: aiohttp.ClientSession
) -> None:
    url = f"{fake.base_url}/images/generations"
    fake.fail_next("rate_limited")
    async with session.post(url, headers=AUTH, json={"model": "gpt-image-1", "prompt": "x"}) as r:
        error = await r.json()
    body = {"model": "gpt-image-1", "prompt": "x", "n": 2}
    async with session.post(url, headers=AUTH, json=body) as r:
        answer = await r.json()

    assert list(schema_validator("ErrorResponse").iter_errors(error)) == []
    assert list(schema_validator("ImagesResponse").iter_errors(answer)) == []
    assert len(answer["data"]) == 2
    assert not fake.violations


async def test_the_fake_answers_401_without_the_key(
    fake: FakeImagesAPI, session: aiohttp.ClientSession
) -> None:
    url = f"{fake.base_url}/images/generations"
    async with session.post(url, json={"model": "gpt-image-1", "prompt": "x"}) as response:
        assert response.status == 401
    assert not fake.violations
