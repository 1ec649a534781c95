"""What the end-to-end command tests share: pictures to upload, and readers of what the member
saw in the fake Discord."""

from __future__ import annotations

import asyncio
import io
import json
import random
import re
import time
from collections.abc import Callable

from PIL import Image

from tests.conftest import API_KEY
from tests.fakes.discord import FakeDiscord, FakeInteraction, SeenMessage

# What raw exception text looks like; none of it may reach a member.
RAW_ERROR = re.compile(
    r"Traceback|Error\(|Exception|aiohttp|discord\.|status=|request_id|req_fake|"
    r"Incorrect API key|safety_violations"
)


def picture(
    width: int,
    height: int,
    *,
    mode: str = "RGB",
    fill: tuple[int, ...] = (20, 90, 160),
    format: str = "PNG",
) -> bytes:
    """A solid picture in `format`."""
    buffer = io.BytesIO()
    Image.new(mode, (width, height), fill).save(buffer, format=format)
    return buffer.getvalue()


def mask(width: int, height: int, *, clear: bool = True) -> bytes:
    """An RGBA PNG mask, opaque except (with `clear`) a transparent square in the middle."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 255))
    if clear:
        box = (width // 4, height // 4, 3 * width // 4, 3 * height // 4)
        image.paste((0, 0, 0, 0), box)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def noise_png(width: int, height: int, *, seed: int = 7) -> bytes:
    """A PNG of random pixels: it barely compresses, so it is large for its size."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def format_of(data: bytes) -> str:
    with Image.open(io.BytesIO(data)) as image:
        return image.format or ""


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        return image.size


async def refused_at_once(interaction: FakeInteraction) -> str:
    """The private answer given as the very first response (nothing deferred)."""
    response = await interaction.wait_for_response()
    assert response.ok, response
    assert response.type == 4, "answered after deferring, not at once"
    assert response.ephemeral, "the refusal must be private"
    assert [c.type for c in interaction.callback_attempts] == [4]
    assert response.data is not None
    content: str = response.data["content"]
    assert not RAW_ERROR.search(content), content
    return content


async def private_reply(interaction: FakeInteraction, timeout: float = 10.0) -> str:
    """What the member was told privately after a deferral; checks that nothing of the
    interaction was ever public, from the "thinking..." message on (`never_public`)."""
    response = await interaction.wait_for_response()
    assert response.type == 5
    seen = await interaction.wait_for_final(timeout=timeout, predicate=answered)
    never_public(interaction)
    assert not seen.files
    assert not RAW_ERROR.search(seen.content), seen.content
    return seen.content


def answered(seen: SeenMessage) -> bool:
    """Whether `seen` is a private answer to the member (a refusal, an apology), not one of
    the waiting states shown in their private "thinking..." message (edits of @original)."""
    return seen.ephemeral and seen.via != "edit_original"


def never_public(interaction: FakeInteraction) -> None:
    """Nobody but the member ever saw anything of `interaction`: its deferral was private,
    and every message it posted or edited, and the @original at every moment, was ephemeral."""
    response = interaction.response
    assert response is None or response.type != 5 or response.ephemeral, "deferred in public"
    assert interaction.original is None or interaction.original.ephemeral
    public = [s for s in interaction.seen if not s.ephemeral]
    assert public == [], f"the channel saw {public}"
    assert all(m.ephemeral for m in interaction.followups), "a public followup"


def is_result(seen: SeenMessage) -> bool:
    """A message with images that are not live previews."""
    return any(not file.filename.startswith("preview.") for file in seen.files)


async def result(interaction: FakeInteraction, timeout: float = 10.0) -> SeenMessage:
    """The public message holding the images: a new message posted after a private
    deferral, whose "thinking..." message is then removed."""
    response = await interaction.wait_for_response()
    assert response.type == 5
    assert response.ephemeral, "an image command defers privately"
    # A live preview (bot.front.progress) carries a file too, but it is not the result.
    seen = await interaction.wait_for_final(timeout=timeout, predicate=is_result)
    assert not seen.ephemeral
    return seen


def discord_bodies(fake: FakeDiscord) -> str:
    """Everything the bot sent to Discord, as text (JSON bodies and text form fields)."""
    parts = []
    for request in fake.requests:
        if request.kind != "api":
            continue
        parts.append(json.dumps(request.json))
        parts.extend(request.form.values())
    return "\n".join(parts)


def assert_key_never_sent(fake: FakeDiscord) -> None:
    sent = discord_bodies(fake)
    assert API_KEY not in sent
    assert API_KEY[-12:] not in sent


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Let the bot run until `condition` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)
