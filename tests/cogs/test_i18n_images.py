"""A member whose Discord is in Chinese (zh-CN) reads in Chinese every refusal of option
validation, the picture and mask checks, the downloads and the Images API's failures; a French
member (a language the bot does not ship) reads the English. Through the fake Discord."""

# Chinese is written with its own punctuation, and sizes with a real multiplication sign.
# ruff: noqa: RUF001

from __future__ import annotations

import logging
import re
from typing import Any

import pytest

from tests.cogs.support import mask, picture, private_reply, refused_at_once
from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord
from tests.fakes.images_api import FakeImagesAPI

CHINESE = "zh-CN"
# A Chinese reply is Chinese: none of the English sentence it replaces is left in it.
ENGLISH_WORDS = re.compile(r"\b(?:Your|your|the|and|try|again|Please|image service)\b")

# (settings, /imagine's options, what a Chinese member reads): refused before deferring.
OPTIONS: dict[str, tuple[dict[str, str], dict[str, Any], str]] = {
    "empty prompt": ({}, {"prompt": "   "}, "你的提示词是空的"),
    "prompt too long": (
        {"IMAGE_MODEL": "dall-e-2"},
        {"prompt": "a" * 1_001},
        "你的提示词有 1,001 个字符；这个模型最多接受 1,000 个",
    ),
    "n out of range": ({}, {"prompt": "a fox", "n": 11}, "你要求生成 11 张图片"),
    "size": (
        {"IMAGE_MODEL": "dall-e-2"},
        {"prompt": "a fox", "size": "999x999"},
        "“999x999”不是这个模型能生成的尺寸。请从以下尺寸中选择：256x256, 512x512, 1024x1024。",
    ),
    "custom size": (
        {"IMAGE_MODEL": "gpt-image-2"},
        {"prompt": "a fox", "size": "1000x1000"},
        "也可以自定义“宽x高”",
    ),
    "quality": (
        {"IMAGE_MODEL": "dall-e-3"},
        {"prompt": "a fox", "quality": "ultra"},
        "“ultra”不是这个模型提供的画质（quality）选项。请从以下选项中选择：standard, hd。",
    ),
    "style": (
        {"IMAGE_MODEL": "dall-e-3"},
        {"prompt": "a fox", "style": "bold"},
        "“bold”不是这个模型提供的风格（style）选项",
    ),
    "background": (
        {"IMAGE_MODEL": "gpt-image-1"},
        {"prompt": "a fox", "background": "transparent", "output_format": "jpeg"},
        "透明背景需要 PNG 或 WebP 输出格式；JPEG 不支持透明",
    ),
    "output compression": (
        {"IMAGE_MODEL": "gpt-image-1"},
        {"prompt": "a fox", "output_compression": 150},
        "输出压缩必须在 0 到 100 之间；你填的是 150",
    ),
}


@pytest.mark.parametrize("case", list(OPTIONS))
async def test_a_chinese_member_reads_each_option_refusal_in_chinese(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI, case: str
) -> None:
    settings, options, expected = OPTIONS[case]
    async with start_bot(**settings):
        interaction = await fake_discord.invoke("imagine", options, locale=CHINESE)
        text = await refused_at_once(interaction)
    assert expected in text
    assert not ENGLISH_WORDS.search(text), text
    assert fake_api.requests == []


async def test_several_problems_come_under_one_chinese_heading(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot(IMAGE_MODEL="dall-e-3"):
        options = {"prompt": " ", "size": "2x2", "quality": "ultra"}
        interaction = await fake_discord.invoke("imagine", options, locale=CHINESE)
        text = await refused_at_once(interaction)
    lines = text.splitlines()
    assert len(lines) == 4
    assert lines[1].startswith("- 你的提示词是空的")
    assert lines[2].startswith("- “2x2”不是这个模型能生成的尺寸")


# (the image's bytes and size, the mask's, settings, what a Chinese member reads): /edit's
# pictures are judged by their bytes once downloaded, after the private deferral.
def _edit_cases() -> dict[str, tuple[bytes, bytes | None, dict[str, str], str]]:
    square, wide = picture(512, 512), picture(600, 400)
    return {
        "not a picture": (b"shopping list: eggs", None, {}, "你的图片不是我能读取的图片"),
        "damaged": (square[:300], None, {}, "你的图片文件已损坏或不完整"),
        "too many pixels": (
            square,
            None,
            {"MAX_IMAGE_PIXELS": "10000"},
            "你的图片是 512 × 512 像素（共 262,144 像素）；我最多接受 10,000 像素（约 100 × 100）",
        ),
        "mask of the wrong size": (
            square,
            mask(256, 256),
            {"IMAGE_MODEL": "dall-e-2"},
            "你的蒙版是 256 × 256 像素，而你的图片是 512 × 512；两者的尺寸必须完全相同",
        ),
        "mask marks nothing": (
            square,
            picture(512, 512, fill=(0, 0, 0)),
            {"IMAGE_MODEL": "dall-e-2"},
            "你的蒙版没有完全透明（或白色）的区域",
        ),
        "not square": (
            wide,
            mask(600, 400),
            {"IMAGE_MODEL": "dall-e-2"},
            "你的图片是 600 × 400 像素；这个模型只接受正方形图片",
        ),
        "unreadable mask": (
            square,
            b"not a mask",
            {"IMAGE_MODEL": "dall-e-2"},
            "你的蒙版不是我能读取的图片",
        ),
    }


@pytest.mark.parametrize("case", list(_edit_cases()))
async def test_a_chinese_member_reads_each_picture_refusal_in_chinese(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI, case: str
) -> None:
    image, drawn, settings, expected = _edit_cases()[case]
    options: dict[str, Any] = {"prompt": "add a moon"}
    options["image"] = fake_discord.add_attachment(image, "image.png")
    if drawn is not None:
        options["mask"] = fake_discord.add_attachment(drawn, "mask.png")
    async with start_bot(**settings):
        interaction = await fake_discord.invoke("edit", options, locale=CHINESE)
        text = await private_reply(interaction)
    assert expected in text
    assert not ENGLISH_WORDS.search(text), text
    assert fake_api.requests == []


async def test_a_chinese_member_reads_the_download_refusals_in_chinese(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    declared = fake_discord.add_attachment(picture(64, 64), "huge.png", declared_size=300_000)
    lying = fake_discord.add_attachment(
        picture(64, 64) + b"\0" * 300_000, "small.png", declared_size=2_000
    )
    async with start_bot(MAX_ATTACHMENT_BYTES="200000"):
        first = await fake_discord.invoke(
            "edit", {"image": declared, "prompt": "a cat"}, locale=CHINESE
        )
        too_large = await refused_at_once(first)
        second = await fake_discord.invoke(
            "edit", {"image": lying, "prompt": "a cat"}, locale=CHINESE
        )
        larger_than = await private_reply(second)
    assert "你的图片有 0.3 MB，我最多接受 0.2 MB" in too_large
    assert "你的图片超过了 0.2 MB" in larger_than
    assert fake_api.requests == []


# (fail_next arguments, what a Chinese member reads) for each upstream failure a member sees.
UPSTREAM: dict[str, tuple[dict[str, Any], str]] = {
    "the member's input": (
        {"kind": "invalid_request", "param": "prompt", "message": "Invalid value for 'prompt'."},
        "图片服务拒绝了这个请求：Invalid value for 'prompt'.",
    ),
    "not the member's input": (
        {"kind": "invalid_request", "param": "model", "message": "model file not loaded"},
        "由于图片服务那边的问题，这个请求没能完成",
    ),
    "model not found": ({"kind": "model_not_found"}, "这个机器人设置的图片模型已经不可用了"),
    "bad key": ({"kind": "unauthorized"}, "机器人现在无法登录它的图片服务"),
    "quota": ({"kind": "insufficient_quota"}, "机器人的图片服务额度已经用完"),
    "rate limited": (
        {"kind": "rate_limited", "times": 2, "retry_after_ms": 20},
        "图片服务现在很忙",
    ),
    "server error": ({"kind": "server_error", "times": 2}, "图片服务那边出了问题"),
    "answer lost": ({"kind": "drop", "times": 2}, "结果在返回途中丢失了"),
    "not an image": ({"kind": "not_an_image"}, "图片服务返回的内容不是可用的图片"),
}


@pytest.mark.parametrize("case", list(UPSTREAM))
async def test_a_chinese_member_reads_each_upstream_failure_in_chinese(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI, case: str
) -> None:
    failure, expected = UPSTREAM[case]
    fake_api.fail_next(**failure)
    async with start_bot():
        interaction = await fake_discord.invoke(
            "imagine", {"prompt": "a quiet harbour"}, locale=CHINESE
        )
        text = await private_reply(interaction)
    assert expected in text
    assert "model file" not in text


async def test_the_operators_failure_is_logged_as_an_error_with_the_id_the_member_reads(
    start_bot: StartBot,
    fake_discord: FakeDiscord,
    fake_api: FakeImagesAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake_api.fail_next("unauthorized")
    async with start_bot():
        interaction = await fake_discord.invoke(
            "imagine", {"prompt": "a quiet harbour"}, locale=CHINESE
        )
        text = await private_reply(interaction)
    found = re.search(r"错误编号 `([0-9a-f]{8})`", text)
    assert found, text
    logged = [
        r for r in caplog.records if r.levelno == logging.ERROR and found[1] in r.getMessage()
    ]
    assert len(logged) == 1
    assert "OPENAI_API_KEY" in logged[0].getMessage()


async def test_a_french_member_reads_english(
    start_bot: StartBot, fake_discord: FakeDiscord, fake_api: FakeImagesAPI
) -> None:
    fake_api.fail_next("server_error", times=2)
    image = fake_discord.add_attachment(b"shopping list: eggs", "notes.txt", "text/plain")
    async with start_bot():
        refused = await fake_discord.invoke("imagine", {"prompt": " "}, locale="fr")
        option_text = await refused_at_once(refused)
        failed = await fake_discord.invoke("imagine", {"prompt": "a harbour"}, locale="fr")
        upstream_text = await private_reply(failed)
        edit = await fake_discord.invoke("edit", {"image": image, "prompt": "a cat"}, locale="fr")
        picture_text = await private_reply(edit)
    assert option_text == "Your prompt is empty. Describe the picture you want and try again."
    assert upstream_text == (
        "The image service had a problem on its side. Please try again in a moment."
    )
    assert picture_text.startswith("Your image isn't a picture I can read")
