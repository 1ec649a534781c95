"""/imagine end to end: fake Discord -> real bot -> real client -> fake Images API."""

from __future__ import annotations

import time

from tests.cogs.support import format_of, refused_at_once, result, size_of
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord
from tests.fakes.images_api import FakeImagesAPI


async def test_imagine_posts_the_images_as_files(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot():
        interaction = await fake_discord.invoke(
            "imagine", {"prompt": "a red fox in the snow", "n": 2, "size": "1024x1024"}
        )
        response = await interaction.wait_for_response()
        assert response.type == 5
        final = await interaction.wait_for_final(timeout=15, predicate=lambda s: bool(s.files))
    assert len(final.files) == 2
    assert all(f.data.startswith(b"\x89PNG") for f in final.files)
    assert all(size_of(f.data) == (1024, 1024) for f in final.files)
    assert "a red fox in the snow" in final.content
    # Size, model, who asked and how long it took.
    assert "1024x1024" in final.content
    assert "gpt-image-2" in final.content
    assert f"<@{fake_discord.member.id}>" in final.content
    assert final.content.rstrip().endswith(" s")
    [request] = fake_api.requests
    assert request.operation == "generate"
    assert not request.is_multipart
    assert request.fields["prompt"] == "a red fox in the snow"
    assert request.fields["n"] == 2
    assert request.fields["user"].startswith("u-")
    assert str(fake_discord.member.id) not in request.fields["user"]
    assert not fake_api.violations
    assert not fake_discord.violations


async def test_the_member_id_sent_upstream_is_stable_and_differs_between_members(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot():
        for who in (fake_discord.member, fake_discord.member, fake_discord.other_member):
            interaction = await fake_discord.invoke("imagine", {"prompt": "a kite"}, user=who)
            await result(interaction)
    first, again, other = (r.fields["user"] for r in fake_api.requests)
    assert first == again != other
    assert str(fake_discord.other_member.id) not in other


async def test_options_reach_the_api_and_the_files_match_the_format(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot(IMAGE_MODEL="gpt-image-1.5"):
        interaction = await fake_discord.invoke(
            "imagine",
            {
                "prompt": "a paper boat",
                "size": "1536x1024",
                "quality": "low",
                "output_format": "webp",
                "output_compression": 60,
                "background": "opaque",
                "moderation": "low",
            },
        )
        seen = await result(interaction)
    [request] = fake_api.requests
    assert {k: request.fields[k] for k in ("size", "quality", "output_format")} == {
        "size": "1536x1024",
        "quality": "low",
        "output_format": "webp",
    }
    assert request.fields["output_compression"] == 60
    assert request.fields["moderation"] == "low"
    [file] = seen.files
    assert file.filename.endswith(".webp")
    assert format_of(file.data) == "WEBP"
    assert "1536x1024" in seen.content
    assert not fake_api.violations


async def test_the_deferral_arrives_long_before_a_slow_upstream_answers(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.latency = 1.5
    async with start_bot():
        interaction = await fake_discord.invoke("imagine", {"prompt": "a slow snail"})
        response = await interaction.wait_for_response()
        deferred_at = time.monotonic()
        assert response.type == 5
        assert response.ok
        assert response.elapsed is not None
        assert response.elapsed < 1.0
        seen = await result(interaction)
    [request] = fake_api.requests
    # The API answered `latency` after the request arrived; the deferral came well before.
    assert request.arrived + fake_api.latency > deferred_at + 1.0
    assert seen.at - deferred_at > 1.0
    assert not fake_discord.violations


async def test_dall_e_3_shows_the_revised_prompt_and_never_the_api_url(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    # URL results are downloaded at once and posted as files; the URL expires upstream.
    async with start_bot(IMAGE_MODEL="dall-e-3", IMAGE_RESPONSE_FORMAT="url"):
        interaction = await fake_discord.invoke(
            "imagine", {"prompt": "a lighthouse", "style": "natural", "quality": "hd"}
        )
        seen = await result(interaction)
    [request] = fake_api.requests
    assert request.fields["response_format"] == "url"
    assert (request.fields["style"], request.fields["quality"]) == ("natural", "hd")
    assert "n" not in request.fields or request.fields["n"] == 1
    assert len(fake_api.file_requests) == 1
    [file] = seen.files
    assert file.data.startswith(b"\x89PNG")
    assert "The model rewrote the prompt as: A detailed rendering of: a lighthouse" in seen.content
    assert "dall-e-3" in seen.content
    assert fake_api.root_url not in seen.content
    assert "http" not in seen.content
    assert not seen.embeds
    assert not fake_api.violations


async def test_ten_images_arrive_in_one_message(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot(IMAGE_MODEL="dall-e-2", LIMIT_WINDOW_IMAGES="20"):
        interaction = await fake_discord.invoke(
            "imagine", {"prompt": "ten tiny robots", "n": 10, "size": "256x256"}
        )
        seen = await result(interaction)
    assert len(seen.files) == 10
    assert len({f.filename for f in seen.files}) == 10
    assert interaction.followups == [seen.message]  # one message, posted after the deferral
    assert fake_api.requests[0].fields["n"] == 10
    assert not fake_discord.violations


async def test_mentions_in_a_prompt_never_ping(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    prompt = f"@everyone @here <@{fake_discord.other_member.id}> <@&{fake_discord.guild.id}> cats"
    async with start_bot():
        interaction = await fake_discord.invoke("imagine", {"prompt": prompt})
        seen = await result(interaction)
    assert "@everyone" in seen.content
    # The result (a new message), and the live previews before it (issue 12, edits of the
    # private "thinking" message): every message with files has mentions off.
    with_files = [r for r in fake_discord.requests if r.path.startswith("/webhooks/") and r.files]
    assert [r.method for r in with_files].count("POST") == 1
    assert all(r.json["allowed_mentions"] == {"parse": []} for r in with_files)


async def test_a_6000_character_prompt_fits_a_2000_character_message(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    prompt = ("a very long and detailed prompt about *stars* and _moons_ " * 200)[:6000]
    async with start_bot():
        interaction = await fake_discord.invoke("imagine", {"prompt": prompt})
        seen = await result(interaction)
    assert fake_api.requests[0].fields["prompt"] == prompt
    assert len(seen.content) <= 2000
    assert seen.content.startswith("**a very long and detailed prompt about")
    assert "…" in seen.content
    last = seen.content.splitlines()[-1]
    assert last.startswith("-# /imagine")
    assert f"<@{fake_discord.member.id}>" in last
    assert not fake_discord.violations


async def test_a_long_rewritten_prompt_never_pushes_out_the_prompt_or_the_footer(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    prompt = "an orchard in spring, " * 181  # 3982 characters, under DALL-E 3's 4000
    async with start_bot(IMAGE_MODEL="dall-e-3"):
        interaction = await fake_discord.invoke("imagine", {"prompt": prompt})
        seen = await result(interaction)
    lines = seen.content.splitlines()
    assert len(seen.content) <= 2000
    assert lines[0].startswith("**an orchard in spring")
    assert lines[1].startswith("-# The model rewrote the prompt as: A detailed rendering of")
    assert lines[-1].startswith("-# /imagine · 1024x1024 · dall-e-3 · asked by")
    assert len(lines[0]) > 500
    assert len(lines[1]) > 500


async def test_a_prompt_over_the_model_limit_is_refused_before_deferring(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    # Discord's own max_length (1000 here) normally stops this; a stale command or a client
    # that ignores it does not, and the model's limit is ours to enforce.
    async with start_bot(IMAGE_MODEL="dall-e-2"):
        interaction = await fake_discord.invoke("imagine", {"prompt": "x" * 1001})
        text = await refused_at_once(interaction)
    assert "1,001 characters" in text
    assert "1,000" in text
    assert fake_api.requests == []


async def test_a_blank_prompt_is_refused_before_deferring(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot():
        interaction = await fake_discord.invoke("imagine", {"prompt": "   \n\t "})
        text = await refused_at_once(interaction)
    assert "prompt is empty" in text
    assert fake_api.requests == []


async def test_every_problem_is_listed_at_once(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    async with start_bot(IMAGE_MODEL="gpt-image-1.5"):
        interaction = await fake_discord.invoke(
            "imagine",
            {"prompt": " ", "output_format": "jpeg", "background": "transparent"},
        )
        text = await refused_at_once(interaction)
    assert "prompt is empty" in text
    assert "transparent background needs PNG or WebP" in text
    assert fake_api.requests == []
