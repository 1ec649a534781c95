"""Tests of the fake Discord, driven end to end by the real discord.py client.

The bot here is a throwaway: one slash command that defers, downloads its attachment and
sends it back as a followup, one that answers at once, and one with a button.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from discord.gateway import DiscordWebSocket
from discord.http import Route
from PIL import Image

from tests.fakes.discord import (
    FakeDiscord,
    FakeInteraction,
    Permission,
    SeenMessage,
)


def png_bytes(width: int = 8, height: int = 6) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


class ButtonView(discord.ui.View):
    def __init__(self, bot: PingBot) -> None:
        super().__init__(timeout=None)
        self.bot = bot

    @discord.ui.button(label="Press", custom_id="press", style=discord.ButtonStyle.primary)
    async def press(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        self.bot.clicks.append(interaction.user.id)
        await interaction.response.edit_message(content="pressed", view=None)


class ReportModal(discord.ui.Modal, title="Report"):
    reason: discord.ui.TextInput[ReportModal] = discord.ui.TextInput(label="Reason")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"reported: {self.reason.value}", ephemeral=True)


class PingBot(commands.Bot):
    """A throwaway bot: guild commands ``/ping count image``, ``/secret``, ``/buttons``,
    ``/draw`` and ``/report``, and the global command ``/whoami``."""

    def __init__(self, guild_id: int) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            guild_ready_timeout=0.05,  # or discord.py waits 2 s before on_ready
        )
        self.guild_id = guild_id
        self.ready = asyncio.Event()
        self.release = asyncio.Event()  # /ping waits for it before its followup
        self.release.set()
        self.errors: list[discord.HTTPException] = []
        self.clicks: list[int] = []

    async def setup_hook(self) -> None:
        guild = discord.Object(self.guild_id)
        for command in (
            self.ping_command(),
            self.secret_command(),
            self.buttons_command(),
            self.draw_command(),
            self.report_command(),
        ):
            self.tree.add_command(command, guild=guild)
        self.tree.add_command(self.whoami_command())
        self.tree.add_command(self.mod_group(), guild=guild)

    async def on_ready(self) -> None:
        self.ready.set()

    def ping_command(self) -> app_commands.Command[Any, Any, None]:
        @app_commands.command(name="ping", description="Send an attachment back")
        @app_commands.describe(count="A number", image="Any file")
        async def ping(
            interaction: discord.Interaction,
            count: app_commands.Range[int, 1, 10],
            image: discord.Attachment,
        ) -> None:
            await interaction.response.defer(thinking=True)
            data = await image.read()
            await self.release.wait()
            try:
                await interaction.followup.send(
                    content=f"pong {count} ({image.size} bytes claimed)",
                    file=discord.File(io.BytesIO(data), filename=f"echo-{image.filename}"),
                )
            except discord.HTTPException as exc:
                self.errors.append(exc)
                if isinstance(interaction.channel, discord.TextChannel):
                    await interaction.channel.send(f"{interaction.user.mention} pong {count}")

        return ping

    def secret_command(self) -> app_commands.Command[Any, Any, None]:
        @app_commands.command(name="secret", description="Answer at once, privately")
        async def secret(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("shh", ephemeral=True)

        return secret

    def buttons_command(self) -> app_commands.Command[Any, Any, None]:
        @app_commands.command(name="buttons", description="Show a button")
        async def buttons(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("choose", view=ButtonView(self))

        return buttons

    def draw_command(self) -> app_commands.Command[Any, Any, None]:
        @app_commands.command(name="draw", description="Defer privately, then edit in a file")
        async def draw(interaction: discord.Interaction) -> None:
            await interaction.response.defer(ephemeral=True, thinking=True)
            await interaction.edit_original_response(
                content="drawn",
                embed=discord.Embed(title="art").set_image(url="attachment://out.png"),
                attachments=[discord.File(io.BytesIO(b"IMG"), "out.png")],
            )

        return draw

    def report_command(self) -> app_commands.Command[Any, Any, None]:
        @app_commands.command(name="report", description="Open a modal")
        async def report(interaction: discord.Interaction) -> None:
            await interaction.response.send_modal(ReportModal())

        return report

    def mod_group(self) -> app_commands.Group:
        group = app_commands.Group(name="mod", description="Moderation")
        queue = app_commands.Group(name="queue", description="The queue", parent=group)

        @group.command(name="inspect", description="Show a member")
        async def inspect(
            interaction: discord.Interaction, target: discord.Member, note: str | None = None
        ) -> None:
            roles = ",".join(r.name for r in target.roles[1:])
            await interaction.response.send_message(f"{target.id} [{roles}] {note}")

        @queue.command(name="show", description="Show a position")
        async def show(interaction: discord.Interaction, position: int) -> None:
            await interaction.response.send_message(f"position {position}")

        _ = (inspect, show)
        return group

    def whoami_command(self) -> app_commands.Command[Any, Any, None]:
        @app_commands.command(name="whoami", description="Say where it was used")
        async def whoami(interaction: discord.Interaction) -> None:
            await interaction.response.send_message(
                f"dm={interaction.guild is None} user={interaction.user.id}"
            )

        return whoami


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake
    assert fake.internal_errors == []


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[PingBot]:
    bot = PingBot(fake.guild.id)
    async with fake.running(bot):
        await bot.tree.sync(guild=discord.Object(fake.guild.id))
        yield bot


async def test_points_discord_py_at_the_fake_and_restores_it() -> None:
    base, gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    async with FakeDiscord() as fake:
        assert fake.api_base == Route.BASE
        assert str(DiscordWebSocket.DEFAULT_GATEWAY) == fake.gateway_url
        assert fake.api_base.startswith("http://127.0.0.1:")
    assert (base, gateway) == (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY)


async def test_login_ready_and_guild_cache(fake: FakeDiscord) -> None:
    bot = PingBot(fake.guild.id)
    async with fake.running(bot) as task:
        await asyncio.wait_for(bot.ready.wait(), 5)
        assert bot.user is not None
        assert bot.user.id == fake.bot_user_id
        assert bot.application_id == fake.application_id
        guild = bot.get_guild(fake.guild.id)
        assert guild is not None
        nsfw = guild.get_channel(fake.nsfw_channel.id)
        assert isinstance(nsfw, discord.TextChannel)
        assert nsfw.is_nsfw()
        assert {r.name for r in guild.roles} == {"@everyone", "Imagine", "Moderators"}
        # Without the members intent discord.py caches only the bot's own member.
        assert guild.member_count == len(fake.guild.members)
        assert guild.me.guild_permissions.attach_files
        assert guild.owner_id == fake.owner.id
    assert task.done()
    assert task.exception() is None
    assert fake.identify_count == 1
    assert fake.identify_payloads[0]["intents"] == discord.Intents.default().value
    routes = [(r.method, r.path) for r in fake.requests]
    assert ("GET", "/users/@me") in routes
    assert ("GET", "/oauth2/applications/@me") in routes


async def test_wrong_token_fails_login(fake: FakeDiscord) -> None:
    bot = PingBot(fake.guild.id)
    with pytest.raises(discord.LoginFailure):
        async with fake.running(bot, token="not-the-token"):
            pass


async def test_sync_stores_commands_and_unchanged_sync_keeps_versions(
    fake: FakeDiscord, bot: PingBot
) -> None:
    stored = {c["name"]: c for c in fake.registered_commands(fake.guild.id)}
    assert set(stored) == {"ping", "secret", "buttons", "draw", "report", "mod"}
    assert [(o["name"], o["type"], o.get("required")) for o in stored["ping"]["options"]] == [
        ("count", 4, True),
        ("image", 11, True),
    ]
    assert fake.registered_commands() == []
    assert [p.guild_id for p in fake.command_puts] == [fake.guild.id]

    await bot.tree.sync(guild=discord.Object(fake.guild.id))
    again = {c["name"]: c for c in fake.registered_commands(fake.guild.id)}
    assert len(fake.command_puts) == 2
    assert {n: (c["id"], c["version"]) for n, c in again.items()} == {
        n: (c["id"], c["version"]) for n, c in stored.items()
    }
    fetched = await bot.tree.fetch_commands(guild=discord.Object(fake.guild.id))
    assert {c.name: str(c.id) for c in fetched} == {n: c["id"] for n, c in stored.items()}


async def test_deferred_command_followup_carries_the_file(fake: FakeDiscord, bot: PingBot) -> None:
    image = png_bytes()
    attachment = fake.add_attachment(image, "cat.png")
    assert (attachment["width"], attachment["height"]) == (8, 6)

    interaction = await fake.invoke("ping", {"count": 3, "image": attachment})
    response = await interaction.wait_for_response()
    assert (response.type, response.ok) == (5, True)
    assert response.elapsed is not None
    assert response.elapsed < 3

    seen = await interaction.wait_for_final()
    assert seen.via == "followup"
    assert seen.content == f"pong 3 ({len(image)} bytes claimed)"
    assert seen.filenames == ["echo-cat.png"]
    assert seen.files[0].data == image
    assert seen.files[0].content_type == "image/png"
    assert not seen.ephemeral
    # The first followup after a deferral replaces the "thinking..." message.
    assert interaction.original is not None
    assert seen.message_id == interaction.original.id
    assert not interaction.original.loading
    assert fake.attachment(attachment["id"]).downloads == 1
    assert fake.messages[fake.text_channel.id][-1].attachments[0].data == image
    assert fake.violations == []


async def test_immediate_ephemeral_response(fake: FakeDiscord, bot: PingBot) -> None:
    interaction = await fake.invoke("secret", user=fake.moderator)
    response = await interaction.wait_for_response()
    assert (response.type, response.flags) == (4, 64)
    seen = await interaction.wait_for_final()
    assert (seen.via, seen.content, seen.flags, seen.ephemeral) == ("callback", "shh", 64, True)


async def test_rate_limited_followup_is_retried(fake: FakeDiscord, bot: PingBot) -> None:
    fake.rate_limit_next("POST", "/webhooks/*", retry_after=0.05)
    attachment = fake.add_attachment(b"abc", "a.bin")
    interaction = await fake.invoke("ping", {"count": 1, "image": attachment})
    seen = await interaction.wait_for_final()
    assert seen.files[0].data == b"abc"
    webhook_posts = [
        r for r in fake.requests if r.method == "POST" and r.route.startswith("/webhooks/")
    ]
    assert [(r.status, r.injected) for r in webhook_posts] == [(429, True), (200, False)]
    assert bot.errors == []


async def test_global_rate_limit_on_channel_send_is_retried(
    fake: FakeDiscord, bot: PingBot
) -> None:
    fake.rate_limit_next("POST", "/channels/*/messages", retry_after=0.05, global_=True)
    channel = bot.get_channel(fake.text_channel.id)
    assert isinstance(channel, discord.TextChannel)
    message = await channel.send("hello")
    assert fake.message(message.id).content == "hello"
    statuses = [r.status for r in fake.requests if r.route == "/channels/{channel_id}/messages"]
    assert statuses == [429, 200]


async def test_expired_token_fails_followup_and_bot_falls_back_to_channel(
    fake: FakeDiscord, bot: PingBot
) -> None:
    bot.release.clear()
    attachment = fake.add_attachment(b"x", "x.bin")
    interaction = await fake.invoke("ping", {"count": 2, "image": attachment})
    assert (await interaction.wait_for_response()).type == 5
    fake.expire_token(interaction)
    bot.release.set()

    seen = await interaction.wait_for_final()
    assert seen.via == "channel"
    assert seen.content == f"{fake.member.mention} pong 2"
    [error] = bot.errors
    assert (error.status, error.code) == (401, 50027)


async def test_token_expires_fifteen_minutes_after_created_at(
    fake: FakeDiscord, bot: PingBot
) -> None:
    bot.release.clear()
    created = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=15) + dt.timedelta(seconds=1)
    attachment = fake.add_attachment(b"x", "x.bin")
    interaction = await fake.invoke("ping", {"count": 2, "image": attachment}, created_at=created)
    assert (await interaction.wait_for_response()).ok
    assert interaction.created_at == created.replace(microsecond=created.microsecond // 1000 * 1000)
    left = (interaction.expires_at - dt.datetime.now(dt.UTC)).total_seconds()
    await asyncio.sleep(max(0.0, left) + 0.01)
    assert interaction.expired
    bot.release.set()
    await interaction.wait_for_final()
    [error] = bot.errors
    assert isinstance(error, discord.HTTPException)
    assert error.code == 50027


async def test_button_click_reaches_the_view(fake: FakeDiscord, bot: PingBot) -> None:
    interaction = await fake.invoke("buttons")
    assert (await interaction.wait_for_response()).type == 4
    message = interaction.original
    assert message is not None
    assert message.custom_ids() == ["press"]

    click = await fake.click(message.id, "press", user=fake.moderator)
    assert (await click.wait_for_response()).type == 7
    seen = await click.wait_for_final()
    assert (seen.via, seen.content, seen.components) == ("update", "pressed", [])
    assert bot.clicks == [fake.moderator.id]
    assert fake.message(message.id).content == "pressed"


async def test_upload_over_the_interaction_limit_is_rejected(
    fake: FakeDiscord, bot: PingBot
) -> None:
    attachment = fake.add_attachment(b"z" * 2048, "big.bin")
    interaction = await fake.invoke(
        "ping", {"count": 1, "image": attachment}, attachment_size_limit=1024
    )
    assert interaction.payload["attachment_size_limit"] == 1024
    await fake.wait_for_message(lambda m: m.source == "channel")
    [error] = bot.errors
    assert (error.status, error.code) == (413, 40005)
    assert [v.kind for v in fake.violations] == ["upload"]


async def test_late_initial_response_is_unknown_interaction(
    fake: FakeDiscord, bot: PingBot
) -> None:
    fake.callback_deadline = 0.0
    interaction = await fake.invoke("secret")
    response = await interaction.wait_for_response()
    assert (response.ok, response.status, response.error_code) == (False, 404, 10062)
    assert interaction.is_dead()
    assert [v.kind for v in fake.violations] == ["deadline"]


async def test_sync_failure_reports_the_oversized_command(fake: FakeDiscord, bot: PingBot) -> None:
    choices = [
        app_commands.Choice(name=f"{i:03d}" + "n" * 97, value=f"{i:03d}" + "v" * 97)
        for i in range(25)
    ]

    @app_commands.command(name="huge", description="Too big")
    @app_commands.choices(a=choices, b=choices)
    async def huge(interaction: discord.Interaction, a: str, b: str) -> None:
        raise AssertionError("never invoked")

    bot.tree.add_command(huge, guild=discord.Object(fake.guild.id))
    with pytest.raises(app_commands.CommandSyncFailure, match="maximum size"):
        await bot.tree.sync(guild=discord.Object(fake.guild.id))
    assert fake.violations[-1].kind == "command"
    assert fake.command_puts[-1].status == 400
    assert "huge" not in {c["name"] for c in fake.registered_commands(fake.guild.id)}


def _option(name: str = "opt", **extra: Any) -> dict[str, Any]:
    return {"type": 3, "name": name, "description": "d", **extra}


@pytest.mark.parametrize(
    ("command", "error_path"),
    [
        ({"name": "Ping", "description": "d"}, "0.name"),
        ({"name": "has space", "description": "d"}, "0.name"),
        ({"name": "x" * 33, "description": "d"}, "0.name"),
        ({"name": "ok", "description": "d" * 101}, "0.description"),
        ({"name": "ok", "description": ""}, "0.description"),
        (
            {"name": "ok", "description": "d", "options": [_option(f"o{i}") for i in range(26)]},
            "0.options",
        ),
        (
            {
                "name": "ok",
                "description": "d",
                "options": [_option("a"), _option("b", required=True)],
            },
            "0.options.1.required",
        ),
        (
            {
                "name": "ok",
                "description": "d",
                "options": [_option(choices=[{"name": "c", "value": str(i)} for i in range(26)])],
            },
            "0.options.0.choices",
        ),
        (
            {
                "name": "ok",
                "description": "d",
                "options": [_option(choices=[{"name": "c", "value": "v" * 101}])],
            },
            "0.options.0.choices.0.value",
        ),
        (
            {
                "name": "ok",
                "description": "d",
                "options": [{"type": 4, "name": "n", "description": "d", "max_value": 2**53}],
            },
            "0.options.0.max_value",
        ),
        (
            {"name": "ok", "description": "d", "options": [_option("same"), _option("same")]},
            "0.options.1.name",
        ),
    ],
)
async def test_bulk_put_rejects_what_discord_rejects(
    fake: FakeDiscord, bot: PingBot, command: dict[str, Any], error_path: str
) -> None:
    assert bot.application_id is not None
    with pytest.raises(discord.HTTPException) as caught:
        await bot.http.bulk_upsert_guild_commands(
            bot.application_id, fake.guild.id, payload=[command]
        )
    assert (caught.value.status, caught.value.code) == (400, 50035)
    [violation] = fake.violations
    assert violation.kind == "command"
    assert error_path in [path for path, _, _ in violation.errors]


@pytest.mark.parametrize(
    ("payload", "code", "error_path"),
    [
        ({"content": "x" * 2001}, 50035, "content"),
        ({}, 50006, None),
        ({"embeds": [{"title": "t"}] * 11}, 50035, "embeds"),
        ({"embeds": [{"description": "d" * 4000}, {"description": "d" * 2001}]}, 50035, "embeds"),
        (
            {
                "content": "c",
                "components": [
                    {
                        "type": 1,
                        "components": [{"type": 2, "style": 1, "custom_id": f"b{i}", "label": "b"}],
                    }
                    for i in range(6)
                ],
            },
            50035,
            "components",
        ),
        (
            {
                "content": "c",
                "components": [
                    {
                        "type": 1,
                        "components": [
                            {"type": 2, "style": 1, "custom_id": f"b{i}"} for i in range(6)
                        ],
                    }
                ],
            },
            50035,
            "components.0.components",
        ),
        (
            {
                "content": "c",
                "components": [
                    {"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "c" * 101}]}
                ],
            },
            50035,
            "components.0.components.0.custom_id",
        ),
        (
            {
                "content": "c",
                "components": [
                    {
                        "type": 1,
                        "components": [
                            {"type": 2, "style": 1, "custom_id": "c", "label": "l" * 81}
                        ],
                    }
                ],
            },
            50035,
            "components.0.components.0.label",
        ),
    ],
)
async def test_channel_messages_are_validated(
    fake: FakeDiscord,
    bot: PingBot,
    payload: dict[str, Any],
    code: int,
    error_path: str | None,
) -> None:
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=fake.text_channel.id)
    with pytest.raises(discord.HTTPException) as caught:
        await bot.http.request(route, json=payload)
    assert (caught.value.status, caught.value.code) == (400, code)
    [violation] = fake.violations
    assert violation.kind == "message"
    if error_path is not None:
        assert error_path in [path for path, _, _ in violation.errors]


async def test_more_than_ten_files_is_rejected(fake: FakeDiscord, bot: PingBot) -> None:
    form = [{"name": "payload_json", "value": '{"content": "many"}'}] + [
        {
            "name": f"files[{i}]",
            "value": b"f",
            "filename": f"{i}.bin",
            "content_type": "application/octet-stream",
        }
        for i in range(11)
    ]
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=fake.text_channel.id)
    with pytest.raises(discord.HTTPException) as caught:
        await bot.http.request(route, form=form)
    assert caught.value.code == 50035
    assert fake.violations[0].errors[0][0] == "files"


async def test_channel_message_with_file_edit_fetch_and_delete(
    fake: FakeDiscord, bot: PingBot
) -> None:
    channel = bot.get_channel(fake.other_channel.id)
    assert isinstance(channel, discord.TextChannel)
    sent = await channel.send(
        f"hi {fake.member.mention}", file=discord.File(io.BytesIO(b"payload"), filename="p.txt")
    )
    stored = fake.message(sent.id)
    assert stored.mentions == [fake.member]
    assert stored.attachments[0].data == b"payload"
    assert await sent.attachments[0].read() == b"payload"

    edited = await sent.edit(content="edited", attachments=[])
    assert (edited.content, edited.attachments) == ("edited", [])
    assert fake.message(sent.id).edit_count == 1
    fetched = await channel.fetch_message(sent.id)
    assert fetched.content == "edited"
    await sent.delete()
    with pytest.raises(discord.NotFound):
        await channel.fetch_message(sent.id)


async def test_missing_permission_is_forbidden(fake: FakeDiscord, bot: PingBot) -> None:
    fake.text_channel.bot_permissions = Permission.VIEW_CHANNEL | Permission.SEND_MESSAGES
    channel = bot.get_channel(fake.text_channel.id)
    assert isinstance(channel, discord.TextChannel)
    await channel.send("text is fine")
    with pytest.raises(discord.Forbidden) as caught:
        await channel.send(file=discord.File(io.BytesIO(b"x"), filename="x.bin"))
    assert caught.value.code == 50013


async def test_injected_failure(fake: FakeDiscord, bot: PingBot) -> None:
    fake.fail_next("POST", "/channels/*/messages", 403, 50013, "Missing Permissions")
    channel = bot.get_channel(fake.text_channel.id)
    assert isinstance(channel, discord.TextChannel)
    with pytest.raises(discord.Forbidden):
        await channel.send("nope")
    await channel.send("yes")
    assert [m.content for m in fake.messages[channel.id]] == ["yes"]


async def test_resume_replays_events_sent_while_disconnected(
    fake: FakeDiscord, bot: PingBot
) -> None:
    generation = fake.ready_generation
    await fake.disconnect(4000)
    interaction = await fake.invoke("secret")  # buffered, replayed after RESUME
    await fake.wait_until_ready(after=generation)
    seen = await interaction.wait_for_final()
    assert seen.content == "shh"
    assert (fake.identify_count, fake.resume_count) == (1, 1)


async def test_wait_for_sees_past_and_future_requests(fake: FakeDiscord, bot: PingBot) -> None:
    login = await fake.wait_for_request(lambda r: r.path == "/users/@me")
    assert login.status == 200
    channel = bot.get_channel(fake.text_channel.id)
    assert isinstance(channel, discord.TextChannel)
    waiter = asyncio.create_task(fake.wait_for_message(lambda m: m.content == "later"))
    await channel.send("later")
    assert (await waiter).channel_id == channel.id


async def test_raw_http_shape(fake: FakeDiscord, bot: PingBot) -> None:
    async with aiohttp.ClientSession() as session:
        async with session.get(fake.api_base + "/users/@me") as response:
            assert response.status == 401
            assert response.headers["Content-Type"] == "application/json"
        headers = {"Authorization": f"Bot {fake.token}"}
        async with session.get(fake.api_base + "/nowhere", headers=headers) as response:
            assert response.status == 404
            assert (await response.json())["code"] == 0
        interaction = await fake.invoke("secret")
        await interaction.wait_for_response()
        url = f"{fake.api_base}/interactions/{interaction.id}/{interaction.token}/callback"
        async with session.post(url, json={"type": 4, "data": {"content": "again"}}) as response:
            assert response.status == 400
            assert (await response.json())["code"] == 40060
    assert [v.kind for v in fake.violations] == ["interaction"]


async def test_many_interactions_at_once(fake: FakeDiscord, bot: PingBot) -> None:
    attachment = fake.add_attachment(png_bytes(), "in.png")
    started = time.monotonic()
    interactions: list[FakeInteraction] = await asyncio.gather(
        *(fake.invoke("secret") for _ in range(150)),
        *(fake.invoke("ping", {"count": 1, "image": attachment}) for _ in range(150)),
    )
    finals: list[SeenMessage] = await asyncio.gather(
        *(i.wait_for_final(timeout=20) for i in interactions)
    )
    elapsed = time.monotonic() - started
    assert [s.via for s in finals] == ["callback"] * 150 + ["followup"] * 150
    assert all(i.response is not None and i.response.ok for i in interactions)
    assert fake.violations == []
    assert elapsed < 10


async def test_deferred_ephemeral_then_edit_original_with_file(
    fake: FakeDiscord, bot: PingBot
) -> None:
    interaction = await fake.invoke("draw")
    response = await interaction.wait_for_response()
    assert (response.type, response.ephemeral) == (5, True)
    seen = await interaction.wait_for_final()
    assert (seen.via, seen.content, seen.ephemeral) == ("edit_original", "drawn", True)
    assert [(f.filename, f.data) for f in seen.files] == [("out.png", b"IMG")]
    # Discord rewrites attachment:// in embeds to the uploaded file's CDN URL.
    image_url = seen.embeds[0]["image"]["url"]
    assert image_url.startswith(fake.cdn_base + seen.files[0].cdn_path + "?")
    assert len(interaction.original_edits) == 1
    assert interaction.followups == []


async def test_an_ephemeral_message_is_out_of_the_channels_reach(
    fake: FakeDiscord, bot: PingBot
) -> None:
    interaction = await fake.invoke("draw")
    await interaction.wait_for_final()
    assert interaction.original is not None
    channel = bot.get_partial_messageable(interaction.channel_id)
    message = channel.get_partial_message(interaction.original.id)
    # As on Discord: only the interaction's webhook reaches a private message.
    for attempt in (
        channel.fetch_message(interaction.original.id),
        message.edit(content="through the channel"),
        message.delete(),
    ):
        with pytest.raises(discord.NotFound) as caught:
            await attempt
        assert caught.value.code == 10008
    assert (interaction.original.content, interaction.original.deleted) == ("drawn", False)


async def test_modal_submit_reaches_the_modal(fake: FakeDiscord, bot: PingBot) -> None:
    opened = await fake.invoke("report")
    assert (await opened.wait_for_response()).type == 9
    submitted = await fake.submit_modal({"Reason": "spam"})
    seen = await submitted.wait_for_final()
    assert (seen.content, seen.ephemeral) == ("reported: spam", True)


async def test_global_command_in_a_dm(fake: FakeDiscord, bot: PingBot) -> None:
    await bot.tree.sync()
    assert [c["name"] for c in fake.registered_commands()] == ["whoami"]
    with pytest.raises(LookupError):
        await fake.invoke("ping", {"count": 1}, channel_id=fake.dm_channel.id)
    interaction = await fake.invoke("whoami", channel_id=fake.dm_channel.id)
    assert "member" not in interaction.payload
    assert interaction.payload["context"] == 1
    seen = await interaction.wait_for_final()
    assert seen.content == f"dm=True user={fake.member.id}"


async def test_world_changes_after_ready_reach_the_cache(fake: FakeDiscord, bot: PingBot) -> None:
    channel_created = asyncio.create_task(bot.wait_for("guild_channel_create", timeout=5))
    role_created = asyncio.create_task(bot.wait_for("guild_role_create", timeout=5))
    await asyncio.sleep(0)  # let both waiters register before the events go out
    channel = fake.add_channel(fake.guild, "late")
    role = fake.add_role(fake.guild, "Late role")
    assert (await channel_created).id == channel.id
    assert (await role_created).id == role.id
    assert fake.guild.permissions_for(fake.owner.id) == Permission.ALL


async def test_subcommands_and_member_options(fake: FakeDiscord, bot: PingBot) -> None:
    inspect = await fake.invoke(
        "mod", {"target": fake.moderator, "note": "hi"}, subcommand="inspect", user=fake.owner
    )
    seen = await inspect.wait_for_final()
    assert seen.content == f"{fake.moderator.id} [Moderators] hi"
    show = await fake.invoke("mod", {"position": 2}, subcommand="queue show")
    assert (await show.wait_for_final()).content == "position 2"
    with pytest.raises(ValueError, match="needs options"):
        await fake.invoke("mod", {}, subcommand="queue show")


async def test_declared_size_can_lie(fake: FakeDiscord, bot: PingBot) -> None:
    attachment = fake.add_attachment(b"tiny", "big.png", declared_size=50 * 1024 * 1024)
    assert attachment["size"] == 50 * 1024 * 1024
    interaction = await fake.invoke("ping", {"count": 1, "image": attachment})
    seen = await interaction.wait_for_final()
    assert seen.content == f"pong 1 ({50 * 1024 * 1024} bytes claimed)"
    assert seen.files[0].data == b"tiny"


async def test_urls_need_a_started_fake() -> None:
    fake = FakeDiscord(patch_discord=False)
    with pytest.raises(RuntimeError, match="FakeDiscord is not started"):
        _ = fake.api_base


async def test_starting_twice_keeps_one_server() -> None:
    async with FakeDiscord(patch_discord=False) as fake:
        port = fake.port
        await fake.start()
        assert fake.port == port
        assert fake.api_base == f"{fake.root_url}/api/v10"


def test_importing_the_fake_leaves_discord_py_unimported() -> None:
    # The fake patches discord.py only when asked (point_discord_py_at), so bench's parent
    # process and tests of the fake itself never load it by accident.
    code = (
        "import sys, tests.fakes.discord\n"
        "loaded = [m for m in sys.modules if m == 'discord' or m.startswith('discord.')]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run(  # noqa: S603 - this interpreter, fixed code
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        check=True,
        timeout=60,
    )
