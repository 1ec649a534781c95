"""Streamed answers (live previews) against the fake Images API, which streams as the spec says."""

from __future__ import annotations

import base64

import aiohttp
import pytest

from bot.images.client import ImagesClient
from bot.images.errors import AnswerLost, ContentPolicyViolation, MalformedResponse, UpstreamFailure
from bot.images.profiles import Family, build_profile
from bot.images.requests import ImageOptions, InputImage
from bot.images.stream import ServerEvent, server_events
from bot.retry import RetryPolicy
from bot.secrets import Secret
from bot.transport import Transport
from tests.cogs.support import noise_png
from tests.fakes.images_api import FakeImagesAPI, solid_image
from tests.fakes.images_api_stream import StreamFault
from tests.images.conftest import API_KEY, MODELS

USER = "u-0123456789abcdef"


def streaming_client(
    fake: FakeImagesAPI,
    session: aiohttp.ClientSession,
    *,
    partial_images: int = 2,
    family: Family = "gpt-image-2",
) -> ImagesClient:
    transport = Transport(
        session,
        base_url=fake.base_url,
        api_key=Secret(API_KEY),
        timeout=5.0,
        retry=RetryPolicy(3, 10.0, backoff_base=0.01, backoff_cap=0.02),
    )
    profile = build_profile(family, MODELS[family])
    return ImagesClient(transport, profile=profile, partial_images=partial_images)


class Previews:
    def __init__(self) -> None:
        self.seen: list[tuple[int, bytes]] = []

    async def __call__(self, picture: bytes, index: int) -> None:
        self.seen.append((index, picture))


async def lines_of(text: bytes) -> list[ServerEvent]:
    async def lines():  # type: ignore[no-untyped-def]
        for line in text.split(b"\n"):
            yield line

    return [event async for event in server_events(lines())]


async def test_server_events_follow_the_standard() -> None:
    events = await lines_of(
        b": a comment\nevent: a\ndata: one\ndata: two\n\ndata: {}\r\n\nevent: b\ndata:x"
    )
    assert [(event.name, event.data) for event in events] == [
        ("a", b"one\ntwo"),
        (None, b"{}\r"),
        ("b", b"x"),
    ]


async def test_a_generation_streams_its_previews_then_the_image(
    fake: FakeImagesAPI, session: aiohttp.ClientSession
) -> None:
    client = streaming_client(fake, session, partial_images=3)
    previews = Previews()
    result = await client.generate(prompt="a red fox", user=USER, on_partial=previews)
    assert [index for index, _ in previews.seen] == [0, 1, 2]
    assert all(picture.startswith(b"\x89PNG") for _, picture in previews.seen)
    assert len(result.images) == 1
    assert result.images[0].format == "png"
    assert result.usage is not None
    assert result.usage.output_tokens == 1000
    sent = fake.requests[-1].json
    assert sent is not None
    assert sent["stream"] is True
    assert sent["partial_images"] == 3


async def test_an_edit_streams_too(fake: FakeImagesAPI, session: aiohttp.ClientSession) -> None:
    client = streaming_client(fake, session)
    image = InputImage(data=solid_image(64, 64), format="png", width=64, height=64)
    previews = Previews()
    result = await client.edit(images=[image], prompt="a hat", user=USER, on_partial=previews)
    assert [index for index, _ in previews.seen] == [0, 1]
    assert len(result.images) == 1
    assert fake.requests[-1].form["stream"] == ["true"]
    assert fake.violations == []


@pytest.mark.parametrize(
    ("partial_images", "n", "family", "listening"),
    [
        (0, 1, "gpt-image-2", True),
        (2, 2, "gpt-image-2", True),
        (2, 1, "gpt-image-2", False),
        (2, 1, "dall-e-2", True),
    ],
)
async def test_no_stream_when_previews_cannot_be_shown(
    fake: FakeImagesAPI,
    session: aiohttp.ClientSession,
    partial_images: int,
    n: int,
    family: Family,
    listening: bool,
) -> None:
    client = streaming_client(fake, session, partial_images=partial_images, family=family)
    previews = Previews()
    result = await client.generate(
        prompt="a red fox",
        user=USER,
        options=ImageOptions(n=n),
        on_partial=previews if listening else None,
    )
    assert len(result.images) == n
    assert previews.seen == []
    sent = fake.requests[-1].json
    assert sent is not None
    assert "stream" not in sent
    assert "partial_images" not in sent


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("error_event", UpstreamFailure),
        ("stops_early", MalformedResponse),
        ("connection_cut", AnswerLost),
        ("malformed_event", MalformedResponse),
    ],
)
async def test_a_broken_stream_is_never_sent_again(
    fake: FakeImagesAPI,
    session: aiohttp.ClientSession,
    fault: StreamFault,
    error: type[Exception],
) -> None:
    client = streaming_client(fake, session)
    fake.fail_stream(fault)
    previews = Previews()
    with pytest.raises(error) as raised:
        await client.generate(prompt="a red fox", user=USER, on_partial=previews)
    # Once the answer had begun, the request was carried out: one request, never two.
    assert len(fake.requests) == 1
    assert [index for index, _ in previews.seen] == [0]
    # An error event is the server's word that no image was made: not charged. The others
    # may have been carried out and billed.
    assert raised.value.maybe_paid is (fault != "error_event")
    assert raised.value.request_id == fake.requests[0].request_id


async def test_a_refusal_in_the_stream_is_the_providers_refusal(
    fake: FakeImagesAPI, session: aiohttp.ClientSession
) -> None:
    client = streaming_client(fake, session)
    fake.fail_stream("error_event", code="moderation_blocked")
    with pytest.raises(ContentPolicyViolation):
        await client.generate(prompt="a red fox", user=USER, on_partial=Previews())
    assert len(fake.requests) == 1


async def test_a_preview_that_fails_to_show_costs_nothing(
    fake: FakeImagesAPI, session: aiohttp.ClientSession
) -> None:
    client = streaming_client(fake, session)

    async def broken(_picture: bytes, _index: int) -> None:
        raise RuntimeError("Discord said no")

    result = await client.generate(prompt="a red fox", user=USER, on_partial=broken)
    assert len(result.images) == 1


async def test_megabyte_events_arrive_whole(
    fake: FakeImagesAPI, session: aiohttp.ClientSession
) -> None:
    # A realistic preview is megabytes of base64 on one line: beyond aiohttp's own readline.
    picture = noise_png(700, 700)
    assert len(picture) > 1_000_000
    fake.stream_b64 = base64.b64encode(picture).decode()
    client = streaming_client(fake, session)
    previews = Previews()
    result = await client.generate(prompt="a red fox", user=USER, on_partial=previews)
    assert [seen for _, seen in previews.seen] == [picture, picture]
    assert result.images[0].data == picture


async def test_previews_are_not_held_back_by_the_wait_for_room(
    fake: FakeImagesAPI, session: aiohttp.ClientSession
) -> None:
    # The wait for memory for the result (`before_reading`) came before the stream was read,
    # so a job waiting for room showed no preview either: at 50 at once, about half the
    # previews came a whole second late. It now comes with the final image.
    client = streaming_client(fake, session)
    previews = Previews()
    previews_when_room_asked: list[int] = []

    async def room() -> None:
        previews_when_room_asked.append(len(previews.seen))

    result = await client.generate(
        prompt="a red fox", user=USER, on_partial=previews, before_reading=room
    )
    assert previews_when_room_asked == [2]
    assert len(result.images) == 1


async def test_an_answer_that_is_not_streamed_still_waits_for_room_first(
    fake: FakeImagesAPI, session: aiohttp.ClientSession
) -> None:
    client = streaming_client(fake, session, partial_images=0)
    asked: list[str] = []

    async def room() -> None:
        asked.append("room")

    result = await client.generate(prompt="a red fox", user=USER, before_reading=room)
    assert asked == ["room"]
    assert len(result.images) == 1
