"""A result's controls end to end: Re-roll, Vary k, Edit k (the modal), before and after a
restart, as the member who clicks; refused clicks; n=10 within Discord's limits."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from bot.records import JobRecord, Stage, now_ms
from tests.cogs.support import mask, picture, private_reply, result
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord
from tests.fakes.discord.models import SeenMessage
from tests.fakes.images_api import FakeImagesAPI


def controls(seen: SeenMessage) -> list[dict[str, Any]]:
    """Every component under a result message, rows flattened."""
    return [c for row in seen.components for c in row.get("components", [])]


def labelled(seen: SeenMessage, label: str) -> str:
    return next(c["custom_id"] for c in controls(seen) if c.get("label") == label)


def custom_id(seen: SeenMessage, prefix: str) -> str:
    return next(c["custom_id"] for c in controls(seen) if c["custom_id"].startswith(prefix))


async def test_reroll_vary_and_edit_before_and_after_a_restart(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    other = fake_discord.other_member
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        first = await result(await fake_discord.invoke("imagine", {"prompt": "a red fox", "n": 2}))
        labels = [c.get("label") for c in controls(first)]
        assert labels == ["Re-roll", "Delete", "Vary 1", "Vary 2", "Edit 1", "Edit 2"]
        reroll = await fake_discord.click(
            first.message_id, custom_id(first, "imagine:roll:"), user=other
        )
        again = await result(reroll)
        assert f"<@{other.id}>" in again.content
        # Vary 2 before the restart: image 2 of the clicked message, as many images as it has.
        vary = await fake_discord.click(first.message_id, labelled(first, "Vary 2"), user=other)
        await result(vary)
    [asked, rerolled, varied] = fake_api.requests
    assert varied.path == "/v1/images/variations"
    assert varied.fields["n"] == "2"
    assert rerolled.fields["prompt"] == "a red fox"
    assert rerolled.fields["n"] == 2
    # Charged to, and keyed by, the member who clicked.
    assert rerolled.fields["user"] != asked.fields["user"]

    fake_discord.expire_cdn_links()
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        reroll = await fake_discord.click(
            first.message_id, custom_id(first, "imagine:roll:"), user=other
        )
        await result(reroll)
        vary = await fake_discord.click(first.message_id, custom_id(first, "imagine:vary:"))
        await result(vary)
        edit = await fake_discord.click(first.message_id, custom_id(first, "imagine:edit:"))
        assert (await edit.wait_for_response()).type == 9
        # Checked exactly as /edit checks it: a mask of another size is refused privately.
        bad = await fake_discord.submit_modal(
            {"prompt": "a blue fox"}, files={"mask": [mask(256, 256)]}
        )
        assert "same size" in await private_reply(bad)
        edit = await fake_discord.click(first.message_id, custom_id(first, "imagine:edit:"))
        assert (await edit.wait_for_response()).type == 9
        submitted = await fake_discord.submit_modal(
            {"prompt": "a blue fox"}, files={"mask": [mask(1024, 1024)]}
        )
        await result(submitted)
    paths = [r.path for r in fake_api.requests[3:]]
    assert paths == ["/v1/images/generations", "/v1/images/variations", "/v1/images/edits"]
    assert fake_api.requests[-1].fields["prompt"] == "a blue fox"
    assert not fake_api.violations


async def test_a_reroll_of_vary_fetches_its_input_again_with_fresh_links(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    image = fake_discord.add_attachment(picture(256, 256), "me.png")
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        first = await result(await fake_discord.invoke("vary", {"image": image}))
    fake_discord.expire_cdn_links()
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        again = await fake_discord.click(first.message_id, custom_id(first, "imagine:roll:"))
        await result(again)
    assert [r.path for r in fake_api.requests] == ["/v1/images/variations"] * 2


async def test_a_click_limited_to_the_owner_is_refused_privately_for_others(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        first = await result(await fake_discord.invoke("imagine", {"prompt": "a fox"}))
        setting = await fake_discord.invoke(
            "imagine-settings",
            {"owner_only": True},
            subcommand="result-buttons",
            user=fake_discord.owner,
        )
        answer = await setting.wait_for_response()
        assert answer.ephemeral
        assert "only for the member who asked" in str(answer.data)
        assert "Result buttons (Re-roll, Vary, Edit): only the member who asked" in str(answer.data)
    async with start_bot(IMAGE_MODEL="dall-e-2"):  # the setting is kept
        for prefix in ("imagine:roll:", "imagine:vary:", "imagine:edit:"):
            click = await fake_discord.click(
                first.message_id, custom_id(first, prefix), user=fake_discord.other_member
            )
            response = await click.wait_for_response()
            assert response.ephemeral
            assert "only the member who asked" in str(response.data)
        # The member who asked still may.
        mine = await fake_discord.click(first.message_id, custom_id(first, "imagine:vary:"))
        await result(mine)
    assert [r.path for r in fake_api.requests] == [
        "/v1/images/generations",
        "/v1/images/variations",
    ]


async def test_ten_images_get_a_select_within_discords_limits(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        first = await result(await fake_discord.invoke("imagine", {"prompt": "fox", "n": 10}))
        assert len(first.components) <= 5
        [select] = [c for c in controls(first) if c["type"] == 3]
        assert len(select["options"]) == 20
        # The member who asked has used their allowance: refused privately, nothing sent.
        pick = await fake_discord.click(first.message_id, select["custom_id"], values=["vary:10"])
        refused = await pick.wait_for_response()
        assert refused.ephemeral
        assert "You've used 10 of your 10 images" in str(refused.data)
        assert len(fake_api.requests) == 1
        pick = await fake_discord.click(
            first.message_id,
            select["custom_id"],
            values=["vary:10"],
            user=fake_discord.other_member,
        )
        await result(pick)
    assert fake_api.requests[-1].path == "/v1/images/variations"
    assert fake_api.requests[-1].fields["n"] == "4"


async def test_refused_clicks_are_private_and_send_nothing_upstream(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    guild = fake_discord.guild.id
    async with start_bot(IMAGE_MODEL="dall-e-2") as bot:
        first = await result(await fake_discord.invoke("imagine", {"prompt": "a red fox"}))
        await bot.server_settings.add_blocked_term(guild, "fox")
        blocked = await fake_discord.click(first.message_id, custom_id(first, "imagine:roll:"))
        assert "blocked" in str((await blocked.wait_for_response()).data).lower()
        await bot.server_settings.remove_blocked_term(guild, "fox")
        await bot.server_settings.allow_channel(guild, fake_discord.other_channel.id)
        elsewhere = await fake_discord.click(first.message_id, custom_id(first, "imagine:vary:"))
        assert (await elsewhere.wait_for_response()).ephemeral
    for click in (blocked, elsewhere):
        assert click.response is not None
        assert click.response.ephemeral
    assert len(fake_api.requests) == 1


async def test_a_reroll_past_retention_is_answered_privately(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot(IMAGE_MODEL="dall-e-2") as bot:
        first = await result(await fake_discord.invoke("imagine", {"prompt": "a red fox"}))
        job_id = custom_id(first, "imagine:roll:").split(":")[3]
        for _ in range(500):  # the record is settled just after the post
            record = await bot.records.get(job_id)
            if record is not None and record.stage.finished:
                break
            await asyncio.sleep(0.01)
        await bot.records.prune(now_ms=10**15, retention_ms=1)
        assert await bot.records.get(job_id) is None
        late = await fake_discord.click(first.message_id, custom_id(first, "imagine:roll:"))
        answer = await late.wait_for_response()
    assert answer.ephemeral
    assert "older than 30 days" in str(answer.data)
    assert len(fake_api.requests) == 1


async def test_gpt_edit_modal_takes_no_mask(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot(IMAGE_MODEL="gpt-image-1", PREVIEW_PARTIAL_IMAGES="0"):
        first = await result(await fake_discord.invoke("imagine", {"prompt": "a red fox"}))
        # No variations endpoint: Vary is an edit asking for one (the /vary rule).
        vary = await fake_discord.click(first.message_id, custom_id(first, "imagine:vary:"))
        varied = await result(vary)
        assert "no variations endpoint" in varied.content
        assert fake_api.requests[-1].path == "/v1/images/edits"
        edit = await fake_discord.click(first.message_id, custom_id(first, "imagine:edit:"))
        modal = (await edit.wait_for_response()).data
        assert "a red fox" in str(modal)
        submitted = await fake_discord.submit_modal({"prompt": "a fox in snow"})
        await result(submitted)
    request = fake_api.requests[-1]
    assert request.path == "/v1/images/edits"
    assert request.file_names == ["image"]
    assert request.fields["prompt"] == "a fox in snow"


async def test_context_menus_with_one_and_several_images(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    one = fake_discord.post_message(fake_discord.other_member, files=[picture(256, 256)])
    several = fake_discord.post_message(
        fake_discord.other_member,
        files=[picture(256, 256)],
        embed_images=[picture(512, 512)],
    )
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        vary = await fake_discord.invoke_message_command("Vary this image", one.id)
        await result(vary)
        ask = await fake_discord.invoke_message_command("Edit this image", several.id)
        offered = await ask.wait_for_response()
        assert offered.ephemeral
        [row] = offered.data["components"] if offered.data else []
        [select] = row["components"]
        assert [o["value"] for o in select["options"]] == ["1", "2"]
        picked = await fake_discord.click(
            ask.original.id if ask.original else 0, select["custom_id"], values=["2"]
        )
        assert (await picked.wait_for_response()).type == 9
        submitted = await fake_discord.submit_modal(
            {"prompt": "a green fox"}, files={"mask": [mask(512, 512)]}
        )
        await result(submitted)
    [varied, edited] = fake_api.requests
    assert varied.path == "/v1/images/variations"
    assert edited.path == "/v1/images/edits"
    assert edited.file_names == ["image", "mask"]


async def test_the_controls_speak_the_askers_language(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        asked = await fake_discord.invoke("imagine", {"prompt": "fox", "n": 2}, locale="zh-CN")
        first = await result(asked)
    labels = [c.get("label") for c in controls(first)]
    # Delete's words are the mod-log's (converted separately).
    assert labels[0] == "重新生成"
    assert labels[2:] == ["变体 1", "变体 2", "编辑 1", "编辑 2"]


async def test_an_edit_form_opened_before_a_restart_is_answered_after_it(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        first = await result(await fake_discord.invoke("imagine", {"prompt": "a red fox"}))
        edit = await fake_discord.click(first.message_id, custom_id(first, "imagine:edit:"))
        assert (await edit.wait_for_response()).type == 9
    fake_discord.expire_cdn_links()
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        submitted = await fake_discord.submit_modal(
            {"prompt": "a fox at dusk"}, files={"mask": [mask(1024, 1024)]}
        )
        await result(submitted)
        # Answered once: the listener, not also the form object.
        assert [c.type for c in submitted.callback_attempts] == [5]
    request = fake_api.requests[-1]
    assert request.path == "/v1/images/edits"
    assert request.fields["prompt"] == "a fox at dusk"
    assert request.file_names == ["image", "mask"]


async def test_records_are_kept_as_long_as_the_retention_setting_says(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    day_ms = 86_400_000
    async with start_bot(IMAGE_MODEL="dall-e-2") as bot:
        now = now_ms()
        for job_id, age in (("old", 2 * day_ms), ("recent", day_ms // 2)):
            record = JobRecord(job_id, "u-x", "imagine", "r", 1, now - age, Stage.DELIVERED)
            await bot.records.put(replace(record, updated_ms=now - age))
    # The outbox's pass prunes at start, by RESULT_ACTIONS_RETENTION_DAYS.
    async with start_bot(IMAGE_MODEL="dall-e-2", RESULT_ACTIONS_RETENTION_DAYS="1") as bot:
        for _ in range(500):
            if await bot.records.get("old") is None:
                break
            await asyncio.sleep(0.01)
        assert await bot.records.get("old") is None
        assert await bot.records.get("recent") is not None
