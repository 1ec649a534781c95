"""The fake Discord's support for acting on a message (issue 12), driven by the real discord.py.

Message commands on members' messages (image attachments and picture-link embeds), buttons
and select menus, a discord.py 2.7 modal with a Label-wrapped text input and file upload,
CDN links that expire and the attachment refresh endpoint, and Discord's validation of each.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from discord.http import Route
from PIL import Image

from tests.fakes.discord import FakeDiscord, FakeInteraction, FakeMessage


def png_bytes(color: tuple[int, int, int] = (200, 30, 30), size: tuple[int, int] = (8, 6)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


RED, BLUE = png_bytes((200, 30, 30)), png_bytes((30, 30, 200), (4, 4))


class EditModal(discord.ui.Modal, title="Edit this image"):
    """The shape issue 12's Edit modal takes: a prompt and an optional mask upload."""

    def __init__(self, bot: ActionsBot) -> None:
        super().__init__()
        self.bot = bot
        self.prompt: discord.ui.TextInput[EditModal] = discord.ui.TextInput(
            max_length=1000, default=bot.last_prompt
        )
        self.mask: discord.ui.FileUpload[EditModal] = discord.ui.FileUpload(required=False)
        self.add_item(discord.ui.Label(text="Prompt", component=self.prompt))
        self.add_item(
            discord.ui.Label(text="Mask", description="Transparent marks", component=self.mask)
        )

    async def on_submit(self, interaction: discord.Interaction) -> None:
        masks = [(a.filename, await a.read()) for a in self.mask.values]
        self.bot.submits.append((self.prompt.value, masks))
        await interaction.response.send_message("editing", ephemeral=True)


class PanelView(discord.ui.View):
    def __init__(self, bot: ActionsBot) -> None:
        super().__init__(timeout=None)
        self.bot = bot
        for k in range(1, 5):
            self.add_item(self._button(f"vary:{k}"))

    @discord.ui.button(label="Edit", custom_id="edit:1")
    async def edit(self, interaction: discord.Interaction, _: discord.ui.Button[Any]) -> None:
        await interaction.response.send_modal(EditModal(self.bot))

    def _button(self, custom_id: str) -> discord.ui.Button[PanelView]:
        button: discord.ui.Button[PanelView] = discord.ui.Button(
            label=custom_id, custom_id=custom_id
        )

        async def clicked(interaction: discord.Interaction) -> None:
            self.bot.clicks.append((custom_id, interaction.user.id, []))
            await interaction.response.defer()

        button.callback = clicked  # type: ignore[method-assign]
        return button

    @discord.ui.select(
        custom_id="pick",
        min_values=1,
        max_values=2,
        options=[discord.SelectOption(label=f"Image {k}", value=str(k)) for k in range(1, 4)],
    )
    async def pick(self, interaction: discord.Interaction, select: discord.ui.Select[Any]) -> None:
        self.bot.clicks.append(("pick", interaction.user.id, list(select.values)))
        await interaction.response.defer()


class ActionsBot(commands.Bot):
    """Two message commands, ``Vary this image`` and ``Edit this image``, and ``/panel``."""

    def __init__(self, guild_id: int, session: aiohttp.ClientSession) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            guild_ready_timeout=0.05,
        )
        self.guild_id = guild_id
        self.session = session
        self.images: list[tuple[str, bytes]] = []
        self.submits: list[tuple[str, list[tuple[str, bytes]]]] = []
        self.clicks: list[tuple[str, int, list[str]]] = []
        self.last_prompt: str | None = None  # filled into the Edit modal's prompt when set

    async def setup_hook(self) -> None:
        guild = discord.Object(self.guild_id)
        self.tree.add_command(
            app_commands.ContextMenu(name="Vary this image", callback=self.vary), guild=guild
        )
        self.tree.add_command(
            app_commands.ContextMenu(name="Edit this image", callback=self.edit), guild=guild
        )

        @app_commands.command(name="panel", description="Buttons and a select")
        async def panel(interaction: discord.Interaction) -> None:
            await interaction.response.send_message("panel", view=PanelView(self))

        self.tree.add_command(panel, guild=guild)

    async def vary(self, interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        urls = [(a.filename, a.url) for a in message.attachments]
        urls += [("embed", str(e.thumbnail.proxy_url)) for e in message.embeds if e.thumbnail]
        for name, url in urls:
            async with self.session.get(url) as response:
                response.raise_for_status()
                self.images.append((name, await response.read()))
        await interaction.followup.send(f"{len(urls)} images", ephemeral=True)

    async def edit(self, interaction: discord.Interaction, message: discord.Message) -> None:
        await interaction.response.send_modal(EditModal(self))


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake
    assert fake.internal_errors == []


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[ActionsBot]:
    async with aiohttp.ClientSession() as session:
        bot = ActionsBot(fake.guild.id, session)
        async with fake.running(bot):
            await bot.tree.sync(guild=discord.Object(fake.guild.id))
            yield bot


async def get_status(url: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.read()


# ---------------------------------------------------------------------- message commands


async def test_message_commands_are_registered_as_discord_stores_them(
    fake: FakeDiscord, bot: ActionsBot
) -> None:
    menus = {c["name"]: c for c in fake.registered_commands(fake.guild.id) if c["type"] == 3}
    assert sorted(menus) == ["Edit this image", "Vary this image"]
    assert menus["Vary this image"]["description"] == ""
    assert "options" not in menus["Vary this image"]


@pytest.mark.parametrize(
    ("command", "path", "code"),
    [
        ({"name": "Vary", "description": "no"}, "0.description", "CONTEXT_MENU_DESCRIPTION"),
        ({"name": "Vary", "options": [{"name": "a"}]}, "0.options", "OPTIONS_INVALID"),
        ({"name": "x" * 33}, "0.name", "BASE_TYPE_BAD_LENGTH"),
        ({"name": " Vary"}, "0.name", "INVALID_NAME"),
        ({"name": "Vary!"}, "0.name", "INVALID_NAME"),
    ],
)
async def test_message_command_registration_is_validated(
    fake: FakeDiscord, bot: ActionsBot, command: dict[str, Any], path: str, code: str
) -> None:
    assert bot.application_id is not None
    with pytest.raises(discord.HTTPException) as caught:
        await bot.http.bulk_upsert_guild_commands(
            bot.application_id, fake.guild.id, [{"type": 3, **command}]
        )
    assert caught.value.code == 50035
    [(where, what, _)] = fake.violations[-1].errors
    assert where == path
    assert what.endswith(code)


async def test_a_message_command_on_a_members_attachments(
    fake: FakeDiscord, bot: ActionsBot
) -> None:
    posted = fake.post_message(fake.other_member, "look", files=[("a.png", RED), ("b.png", BLUE)])
    interaction = await fake.invoke_message_command("Vary this image", posted.id, user=fake.member)
    data = interaction.payload["data"]
    assert (data["type"], data["target_id"]) == (3, str(posted.id))
    target = data["resolved"]["messages"][str(posted.id)]
    assert target["author"]["id"] == str(fake.other_member.id)
    assert [a["filename"] for a in target["attachments"]] == ["a.png", "b.png"]

    seen = await interaction.wait_for_final()
    assert (seen.content, seen.ephemeral) == ("2 images", True)
    assert bot.images == [("a.png", RED), ("b.png", BLUE)]
    with pytest.raises(ValueError, match="ephemeral"):  # no Apps menu on a private reply
        await fake.invoke_message_command("Vary this image", seen.message_id)
    assert interaction.original is not None
    assert interaction.original.to_payload()["type"] == 23  # CONTEXT_MENU_COMMAND
    metadata = interaction.original.to_payload()["interaction_metadata"]
    assert (metadata["command_type"], metadata["target_message_id"]) == (3, str(posted.id))


async def test_a_message_command_on_a_picture_link_embed(
    fake: FakeDiscord, bot: ActionsBot
) -> None:
    posted = fake.post_message(fake.other_member, "https://example.com/b.png", embed_images=[BLUE])
    [embed] = posted.to_payload()["embeds"]
    assert (embed["type"], embed["thumbnail"]["width"]) == ("image", 4)
    interaction = await fake.invoke_message_command("Vary this image", posted.id)
    assert (await interaction.wait_for_final()).content == "1 images"
    assert bot.images == [("embed", BLUE)]


async def test_message_commands_need_a_registered_command_and_a_message(
    fake: FakeDiscord, bot: ActionsBot
) -> None:
    posted = fake.post_message(fake.member, files=[RED])
    with pytest.raises(LookupError):
        await fake.invoke_message_command("panel", posted.id)  # a slash command, not type 3
    with pytest.raises(LookupError):
        await fake.invoke_message_command("Vary this image", 12345)


async def test_the_bot_cannot_edit_a_members_message(fake: FakeDiscord, bot: ActionsBot) -> None:
    posted = fake.post_message(fake.member, "mine")
    channel = bot.get_channel(fake.text_channel.id)
    assert isinstance(channel, discord.TextChannel)
    fetched = await channel.fetch_message(posted.id)
    assert fetched.content == "mine"
    with pytest.raises(discord.Forbidden) as caught:
        await bot.http.edit_message(channel.id, posted.id, params=_params(content="no"))
    assert caught.value.code == 50005


def _params(**payload: Any) -> Any:
    from discord.http import MultipartParameters

    return MultipartParameters(payload=payload, multipart=None, files=None)


# ---------------------------------------------------------------------- modals


async def test_the_edit_modal_with_label_text_input_and_file_upload(
    fake: FakeDiscord, bot: ActionsBot
) -> None:
    posted = fake.post_message(fake.other_member, files=[RED])
    opened = await fake.invoke_message_command("Edit this image", posted.id)
    assert (await opened.wait_for_response()).type == 9
    modal = (await opened.wait_for_response()).data
    assert modal is not None
    prompt, mask = modal["components"]
    assert (prompt["type"], prompt["label"], prompt["component"]["type"]) == (18, "Prompt", 4)
    assert (mask["type"], mask["component"]["type"], mask["component"]["required"]) == (
        18,
        19,
        False,
    )

    submitted = await fake.submit_modal({"Prompt": "a hat"}, files={"Mask": [("m.png", BLUE)]})
    data = submitted.payload["data"]
    [upload_id] = data["components"][1]["component"]["values"]
    assert data["resolved"]["attachments"][upload_id]["filename"] == "m.png"
    assert all(isinstance(c["id"], int) for c in data["components"])
    seen = await submitted.wait_for_final()
    assert (seen.content, seen.ephemeral) == ("editing", True)
    assert bot.submits == [("a hat", [("m.png", BLUE)])]


async def test_the_edit_modal_without_a_mask_and_what_the_client_refuses(
    fake: FakeDiscord, bot: ActionsBot
) -> None:
    posted = fake.post_message(fake.other_member, files=[RED])
    opened = await fake.invoke_message_command("Edit this image", posted.id)
    await opened.wait_for_response()
    with pytest.raises(ValueError, match="required"):
        await fake.submit_modal({})
    with pytest.raises(ValueError, match="0-1 files"):
        await fake.submit_modal({"Prompt": "x"}, files={"Mask": [RED, BLUE]})
    with pytest.raises(ValueError, match="no field"):
        await fake.submit_modal({"Prompt": "x", "Typo": "y"})
    submitted = await fake.submit_modal({"Prompt": "no mask"})
    assert "resolved" not in submitted.payload["data"]
    await submitted.wait_for_final()
    assert bot.submits == [("no mask", [])]

    bot.last_prompt = "a red boat"
    reopened = await fake.invoke_message_command("Edit this image", posted.id)
    await reopened.wait_for_response()
    await (await fake.submit_modal({})).wait_for_final()  # the member kept the prompt
    assert bot.submits[-1] == ("a red boat", [])


def _label(child: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": 18, "label": "Mask", "component": child, **extra}


_UPLOAD: dict[str, Any] = {"type": 19, "custom_id": "mask"}
_TEXT: dict[str, Any] = {"type": 4, "custom_id": "prompt", "style": 1}


@pytest.mark.parametrize(
    ("components", "path", "code"),
    [
        ([_label(_UPLOAD, label="x" * 46)], "data.components.0.label", "BAD_LENGTH"),
        ([_label(_UPLOAD, description="x" * 101)], "data.components.0.description", "BAD_LENGTH"),
        ([_label({**_UPLOAD, "max_values": 11})], "data.components.0.component.max_values", "MAX"),
        ([_label({**_UPLOAD, "min_values": 3, "max_values": 2})], "", "MAX"),
        ([_label({**_UPLOAD, "custom_id": "x" * 101})], "", "BAD_LENGTH"),
        ([_label({**_TEXT, "style": 3})], "data.components.0.component.style", "CHOICES"),
        ([_label({**_TEXT, "max_length": 4001})], "", "MAX"),
        ([_label({"type": 2, "style": 1, "custom_id": "b", "label": "B"})], "", "TYPE_INVALID"),
        ([{"type": 1, "components": [{**_TEXT}]}], "data.components.0.components.0.label", ""),
        ([_label(_UPLOAD), _label({**_UPLOAD})], "data.components.1.component.custom_id", "DUP"),
        ([_label({**_TEXT, "custom_id": f"t{i}"}) for i in range(6)], "data.components", "LENGTH"),
        ([], "data.components", "BAD_LENGTH"),
    ],
)
async def test_modals_are_validated_as_discord_does(
    fake: FakeDiscord, bot: ActionsBot, components: list[dict[str, Any]], path: str, code: str
) -> None:
    interaction = await _unanswered(fake, bot)
    body = {"type": 9, "data": {"custom_id": "m", "title": "Edit", "components": components}}
    async with aiohttp.ClientSession() as session:
        url = f"{fake.api_base}/interactions/{interaction.id}/{interaction.token}/callback"
        async with session.post(url, json=body) as response:
            assert response.status == 400
            assert (await response.json())["code"] == 50035
    errors = fake.violations[-1].errors
    assert fake.violations[-1].kind == "modal"
    assert any(where.startswith(path) and code in what for where, what, _ in errors), errors


async def _unanswered(fake: FakeDiscord, bot: ActionsBot) -> FakeInteraction:
    """An interaction the bot leaves unanswered (a message command it does not know)."""
    posted = fake.post_message(fake.member, "x")
    assert bot.application_id is not None
    await bot.http.bulk_upsert_guild_commands(
        bot.application_id, fake.guild.id, [{"type": 3, "name": "Unknown to the bot"}]
    )
    return await fake.invoke_message_command("Unknown to the bot", posted.id)


# ---------------------------------------------------------------------- components


async def panel(fake: FakeDiscord) -> FakeMessage:
    interaction = await fake.invoke("panel")
    await interaction.wait_for_final()
    assert interaction.original is not None
    return interaction.original


async def test_buttons_and_a_select_are_clicked_by_any_member(
    fake: FakeDiscord, bot: ActionsBot
) -> None:
    message = await panel(fake)
    await (await fake.click(message.id, "vary:2", user=fake.other_member)).wait_for_response()
    picked = await fake.click(message.id, "pick", values=["1", "3"], locale="zh-CN")
    await picked.wait_for_response()
    assert picked.payload["data"] == {
        "custom_id": "pick",
        "component_type": 3,
        "values": ["1", "3"],
    }
    assert picked.payload["message"]["id"] == str(message.id)
    assert bot.clicks == [
        ("vary:2", fake.other_member.id, []),
        ("pick", fake.member.id, ["1", "3"]),
    ]
    with pytest.raises(ValueError, match="not options"):
        await fake.click(message.id, "pick", values=["9"])
    with pytest.raises(ValueError, match="1-2 values"):
        await fake.click(message.id, "pick", values=["1", "2", "3"])


def _row(*children: dict[str, Any]) -> dict[str, Any]:
    return {"type": 1, "components": list(children)}


def _button(custom_id: str, **extra: Any) -> dict[str, Any]:
    return {"type": 2, "style": 1, "custom_id": custom_id, "label": "Go", **extra}


def _select(custom_id: str = "s", n: int = 2, **extra: Any) -> dict[str, Any]:
    options = [{"label": f"o{i}", "value": str(i)} for i in range(n)]
    return {"type": 3, "custom_id": custom_id, "options": options, **extra}


@pytest.mark.parametrize(
    ("components", "path", "code"),
    [
        ([_row(_button(f"b{i}")) for i in range(6)], "components", "MAX_LENGTH"),
        ([_row(*[_button(f"b{i}") for i in range(6)])], "components.0.components", "LENGTH"),
        ([_row(_select(), _button("b"))], "components.0.components", "WIDTH"),
        ([_row(_button("x" * 101))], "components.0.components.0.custom_id", "LENGTH"),
        ([_row(_button("b", label="x" * 81))], "components.0.components.0.label", "LENGTH"),
        ([_row(_select(n=0))], "components.0.components.0.options", "LENGTH"),
        ([_row(_select(n=26))], "components.0.components.0.options", "LENGTH"),
        ([_row(_select(max_values=3))], "components.0.components.0.max_values", "TOO_HIGH"),
        ([_row(_button("b")), _row(_button("b"))], "components.1.components.0.custom_id", "DUP"),
        ([_row(_UPLOAD)], "components.0.components.0.type", "TYPE_INVALID"),
        ([_label(_UPLOAD)], "components.0.type", ""),
    ],
)
async def test_message_components_are_validated_as_discord_does(
    fake: FakeDiscord, bot: ActionsBot, components: list[dict[str, Any]], path: str, code: str
) -> None:
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=fake.text_channel.id)
    with pytest.raises(discord.HTTPException) as caught:
        await bot.http.request(route, json={"content": "x", "components": components})
    assert caught.value.code == 50035
    errors = fake.violations[-1].errors
    assert any(where == path and code in what for where, what, _ in errors), errors


async def test_five_rows_of_five_buttons_are_fine(fake: FakeDiscord, bot: ActionsBot) -> None:
    rows = [_row(*[_button(f"b{r}{c}") for c in range(5)]) for r in range(5)]
    route = Route("POST", "/channels/{channel_id}/messages", channel_id=fake.text_channel.id)
    sent = await bot.http.request(route, json={"content": "x", "components": rows})
    assert len(fake.message(int(sent["id"])).custom_ids()) == 25


# ---------------------------------------------------------------------- CDN links


async def test_cdn_links_expire_and_the_refresh_endpoint_renews_them(
    fake: FakeDiscord, bot: ActionsBot
) -> None:
    posted = fake.post_message(fake.member, files=[("a.png", RED)])
    [old] = [a["url"] for a in posted.to_payload()["attachments"]]
    assert await get_status(old) == (200, RED)
    fake.expire_cdn_links()
    assert (await get_status(old))[0] == 404

    refresh = Route("POST", "/attachments/refresh-urls")
    answer = await bot.http.request(refresh, json={"attachment_urls": [old, "https://x.test/a"]})
    [renewed, foreign] = answer["refreshed_urls"]
    assert (renewed["original"], foreign) == (
        old,
        {"original": "https://x.test/a", "refreshed": "https://x.test/a"},
    )
    assert renewed["refreshed"] != old
    assert await get_status(renewed["refreshed"]) == (200, RED)

    channel = bot.get_channel(fake.text_channel.id)
    assert isinstance(channel, discord.TextChannel)
    reread = await channel.fetch_message(posted.id)  # a re-read message carries fresh links
    assert await reread.attachments[0].read() == RED


async def test_embed_images_are_signed_afresh_on_every_read(
    fake: FakeDiscord, bot: ActionsBot
) -> None:
    posted = fake.post_message(fake.member, embed_images=[BLUE])
    fake.expire_cdn_links()
    assert (await get_status(posted.embeds[0]["thumbnail"]["proxy_url"]))[0] == 404
    channel = bot.get_channel(fake.text_channel.id)
    assert isinstance(channel, discord.TextChannel)
    reread = await channel.fetch_message(posted.id)
    assert await get_status(str(reread.embeds[0].thumbnail.proxy_url)) == (200, BLUE)


async def test_forged_or_unsigned_links_are_refused(fake: FakeDiscord, bot: ActionsBot) -> None:
    posted = fake.post_message(fake.member, files=[RED])
    url = posted.to_payload()["attachments"][0]["url"]
    base, _, query = url.partition("?")
    expires = int(query.split("&")[0].removeprefix("ex="), 16)
    forged = url.replace(f"ex={expires:x}", f"ex={expires + 3600:x}")
    assert (await get_status(forged))[0] == 404
    assert (await get_status(base))[0] == 404


@pytest.mark.parametrize("urls", [[], ["u"] * 51, [3]])
async def test_the_refresh_endpoint_validates_its_body(
    fake: FakeDiscord, bot: ActionsBot, urls: list[Any]
) -> None:
    with pytest.raises(discord.HTTPException) as caught:
        await bot.http.request(
            Route("POST", "/attachments/refresh-urls"), json={"attachment_urls": urls}
        )
    assert caught.value.code == 50035


async def test_modal_uploads_are_served_by_the_cdn(fake: FakeDiscord, bot: ActionsBot) -> None:
    posted = fake.post_message(fake.other_member, files=[RED])
    opened = await fake.invoke_message_command("Edit this image", posted.id)
    await opened.wait_for_response()
    submitted = await fake.submit_modal({"Prompt": "p"}, files={"Mask": [BLUE]})
    [upload] = submitted.payload["data"]["resolved"]["attachments"].values()
    assert upload["ephemeral"] is True
    assert await get_status(upload["url"]) == (200, BLUE)
    await asyncio.wait_for(submitted.wait_for_final(), 5)


async def test_a_modal_opened_by_a_button_is_submitted_with_that_message(
    fake: FakeDiscord, bot: ActionsBot
) -> None:
    message = await panel(fake)
    opened = await fake.click(message.id, "edit:1", user=fake.other_member)
    assert (await opened.wait_for_response()).type == 9
    submitted = await fake.submit_modal({"Prompt": "p"}, user=fake.other_member)
    assert submitted.payload["message"]["id"] == str(message.id)
    assert submitted.source_message is message
    await submitted.wait_for_final()
    assert bot.submits == [("p", [])]
