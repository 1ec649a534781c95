"""Crash recovery: SIGKILL the real `python -m bot` at each stage of a job, restart it on the
same data, and see every interrupted job resolved as the API would charge it, and its member
told: in their private "thinking" message while its token lives, else by DM (images in the
channel), else at their next command."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import stat
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from bot.front.i18n import text
from tests.cogs.support import eventually
from tests.cogs.test_entry_point import LAUNCH, REPO
from tests.cogs.test_limits import imagine, quota
from tests.conftest import API_KEY
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.interaction import FakeInteraction
from tests.fakes.discord.models import FakeMessage
from tests.fakes.images_api import FakeImagesAPI

ORIGINAL = "/webhooks/*/messages/@original"
# What an English-speaking member reads after a restart (bot.front.handover).
REFUNDED = (
    "⚠️ This request was stopped by a restart of the bot before it reached the image "
    "service. It was not counted against your allowance: please try again."
)
LOST = (
    "⚠️ This request was stopped by a restart of the bot after it was sent to the image "
    "service, which charges for it, so it counts against your allowance. Its images could "
    "not be recovered, sorry."
)
LATE = "Here are the images of this request: the bot restarted before it could post them."
OPEN_DM = "/users/@me/channels"
ASKED = r"<t:\d+:f>"


@asynccontextmanager
async def bot_process(
    fake_discord: FakeDiscord, fake_api: FakeImagesAPI, data_dir: Path, **env: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """`python -m bot`'s main() in a process of its own, ready; killed at the end if alive."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(REPO),
        "DISCORD_TOKEN": fake_discord.token,
        "OPENAI_API_KEY": API_KEY,
        "OPENAI_BASE_URL": fake_api.base_url,
        "IMAGE_MODEL": "gpt-image-2",
        "DISCORD_GUILD_ID": str(fake_discord.guild.id),
        "DATA_DIR": str(data_dir),
        **env,
    }
    generation = fake_discord.ready_generation
    log = (data_dir.parent / "bot.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LAUNCH,
        fake_discord.api_base,
        fake_discord.gateway_url,
        fake_discord.cdn_base,
        cwd=data_dir.parent,
        env=environment,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=log,
        stderr=asyncio.subprocess.STDOUT,
    )
    log.close()  # the process has its own copy
    try:
        await fake_discord.wait_until_ready(30, after=generation)
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()


async def killed(process: asyncio.subprocess.Process) -> None:
    process.send_signal(signal.SIGKILL)
    await process.wait()


async def killed_once_sent(
    fake_discord: FakeDiscord, fake_api: FakeImagesAPI, data: Path
) -> FakeInteraction:
    """One image asked for, the bot killed once the request is upstream (never answered)."""
    fake_api.latency = 60.0
    async with bot_process(fake_discord, fake_api, data) as process:
        sent = await imagine(fake_discord, n=1)
        await eventually(lambda: len(fake_api.requests) == 1, timeout=10)
        await killed(process)
    fake_api.latency = 0.0
    return sent


def content_is(interaction: FakeInteraction, text: str) -> Callable[[], bool]:
    return lambda: interaction.original is not None and interaction.original.content == text


def later(notice: str, locale: str = "en-US") -> re.Pattern[str]:
    """What a member is told away from the "thinking" message, the date left open."""
    words = text(locale, f"restart.later.{notice}", command="imagine", asked="\0")
    return re.compile(re.escape(words).replace(re.escape("\0"), ASKED))


def dms(fake_discord: FakeDiscord) -> list[FakeMessage]:
    return [m for m in fake_discord.all_messages() if m.guild_id is None and not m.deleted]


def stored_documents(data: Path) -> list[str]:
    with sqlite3.connect(data / "bot.db") as db:
        documents = [document for (document,) in db.execute("SELECT document FROM jobs")]
    db.close()
    return documents


async def test_sigkill_before_sending_refunds_and_after_sending_charges(
    fake_discord: FakeDiscord, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    # DEBUG logs every payload: the tokens kept in the records must still not show.
    limits = {"LIMIT_WINDOW_IMAGES": "8", "MAX_CONCURRENT_REQUESTS": "1", "LOG_LEVEL": "DEBUG"}
    fake_api.latency = 60.0
    async with bot_process(fake_discord, fake_api, data, **limits) as process:
        sent = await imagine(fake_discord, n=4)
        await eventually(lambda: len(fake_api.requests) == 1, timeout=10)
        # Another member's job waits for the one running place: reserved, never sent.
        waiting = await imagine(fake_discord, user=fake_discord.other_member, n=4)
        assert (await waiting.wait_for_response()).type == 5
        # Its place in line is shown once its record is complete (the "thinking" message's id).
        await eventually(lambda: bool(waiting.original_edits), timeout=10)
        assert waiting.original is not None
        assert waiting.original.components, "a waiting job offers Cancel"
        await killed(process)
    fake_api.latency = 0.0
    async with bot_process(fake_discord, fake_api, data, **limits):
        # Said in the member's own private "thinking" message, through the interaction's
        # webhook (the channel's routes never reach a private message).
        await eventually(content_is(waiting, REFUNDED), timeout=15)
        await eventually(content_is(sent, LOST), timeout=15)
        for told in (waiting.original, sent.original):
            assert (told.ephemeral, told.components, told.attachments) == (True, [], [])
        # Nothing is "in progress" any more: the sent job counts, the unsent one is given back.
        assert "4 of 8 images used, 4 left." in await quota(fake_discord)
        mine = await quota(fake_discord, user=fake_discord.other_member)
        assert "0 of 8 images used, 8 left." in mine
        assert "in progress" not in mine
    assert len(fake_api.requests) == 1  # the unsent job was never sent, before or after
    assert dms(fake_discord) == []
    # The tokens were kept while the jobs ran, and only then: never logged, gone once settled.
    log = (tmp_path / "bot.log").read_text()
    for interaction in (sent, waiting):
        assert interaction.token not in log
        assert not any(interaction.token in document for document in stored_documents(data))


async def test_sigkill_after_the_answer_delivers_the_images_on_restart(
    fake_discord: FakeDiscord, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    # Discord keeps the bot waiting before the result can replace the "thinking" message.
    fake_discord.rate_limit_next("PATCH", ORIGINAL, retry_after=60.0)
    async with bot_process(fake_discord, fake_api, data) as process:
        answered = await imagine(fake_discord, n=2)
        kept = data / "outbox" / str(answered.id)
        await eventually(lambda: kept.is_dir() and len(list(kept.glob("*.png"))) == 2, 10)
        assert stat.S_IMODE(kept.stat().st_mode) == 0o700
        assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in kept.iterdir())
        await killed(process)
    async with bot_process(fake_discord, fake_api, data):
        # Posted as a result is: a new public followup, naming the member.
        [late] = await answered.wait_for_followups(1, timeout=15)
        assert late.content == f"<@{fake_discord.member.id}> {LATE}"
        assert (late.ephemeral, len(late.attachments)) == (False, 2)
        assert late.mentions == [fake_discord.member]
        # The private "thinking" message was taken down, as after a delivery.
        await eventually(lambda: answered.original is not None and answered.original.deleted)
        await eventually(lambda: not kept.exists())
        assert "2 of 10 images used, 8 left." in await quota(fake_discord)
    assert len(fake_api.requests) == 1


async def test_a_thinking_message_that_is_gone_means_a_dm(
    fake_discord: FakeDiscord, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    sent = await killed_once_sent(fake_discord, fake_api, data)
    assert sent.original is not None
    sent.original.deleted = True  # the private "thinking…" message is gone (Unknown Message)
    async with bot_process(fake_discord, fake_api, data):
        await eventually(lambda: bool(dms(fake_discord)), timeout=15)
    # Away from the request, the DM says which request it means.
    [dm] = dms(fake_discord)
    assert later("lost").fullmatch(dm.content), dm.content


async def test_after_fifteen_minutes_images_go_to_the_channel_and_news_by_dm(
    fake_discord: FakeDiscord, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    fake_discord.rate_limit_next("PATCH", ORIGINAL, retry_after=60.0)
    async with bot_process(fake_discord, fake_api, data) as process:
        answered = await imagine(fake_discord, n=2)
        kept = data / "outbox" / str(answered.id)
        await eventually(lambda: kept.is_dir() and len(list(kept.glob("*.png"))) == 2, 10)
        fake_api.latency = 60.0
        sent = await fake_discord.invoke(
            "imagine", {"prompt": "a lighthouse"}, user=fake_discord.other_member, locale="zh-CN"
        )
        await eventually(lambda: len(fake_api.requests) == 2, timeout=10)
        await killed(process)
    # The restart comes too late for the interactions' webhooks.
    fake_discord.expire_token(answered)
    fake_discord.expire_token(sent)
    fake_api.latency = 0.0
    async with bot_process(fake_discord, fake_api, data):
        posted = await fake_discord.wait_for_message(
            lambda m: m.source == "channel" and len(m.attachments) == 2, timeout=15
        )
        mention = f"<@{fake_discord.member.id}> "
        assert posted.content.startswith(mention)
        assert re.fullmatch(
            f"2 images from your request of {ASKED} are ready:", posted.content[len(mention) :]
        )
        assert posted.mentions == [fake_discord.member]
        await eventually(lambda: bool(dms(fake_discord)), timeout=15)
        [dm] = dms(fake_discord)
        assert later("lost", "zh-CN").fullmatch(dm.content), dm.content
        await eventually(lambda: not kept.exists())
    assert len(fake_api.requests) == 2


async def test_when_nothing_reaches_the_member_they_are_told_at_their_next_command(
    fake_discord: FakeDiscord, fake_api: FakeImagesAPI, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    sent = await killed_once_sent(fake_discord, fake_api, data)
    fake_discord.expire_token(sent)
    # The member accepts no DM from the bot.
    fake_discord.fail_next("POST", OPEN_DM, 403, 50007, "Cannot send messages to this user", 5)
    async with bot_process(fake_discord, fake_api, data):
        await fake_discord.wait_for_request(
            lambda r: r.method == "POST" and r.path.endswith(OPEN_DM), timeout=15
        )
        # Any command: /quota answers first, then the news follows, privately.
        asked = await fake_discord.invoke("quota")
        response = await asked.wait_for_response()
        assert (response.type, response.ephemeral) == (4, True)
        [told] = await asked.wait_for_followups(1, timeout=10)
        assert told.ephemeral
        assert later("lost").fullmatch(told.content), told.content
        # Told once: the next command is only itself.
        again = await fake_discord.invoke("quota")
        await again.wait_for_response()
        await asyncio.sleep(0.5)
        assert again.followups == []
    assert dms(fake_discord) == []
