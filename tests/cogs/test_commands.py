"""The slash commands each model family registers, as Discord receives them.

Checked against shared/specs/DISCORD-LIMITS.md section 1: names, descriptions, option types,
required-before-optional, choices and ranges, and the total size of a command.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord

STRING, INTEGER, ATTACHMENT = 3, 4, 11
NAME = re.compile(r"^[a-z0-9_-]{1,32}$")

GPT_SIZES = ["auto", "1024x1024", "1536x1024", "1024x1536"]
GPT2_SIZES = [*GPT_SIZES, "2048x2048", "2048x1152", "1152x2048"]
QUALITY = ["auto", "low", "medium", "high"]
BACKGROUND = ["auto", "opaque", "transparent"]
FORMATS = ["png", "jpeg", "webp"]

# (name, type, required, choices or None, (min, max) or None), in the order Discord gets them.
Option = tuple[str, int, bool, list[str] | None, tuple[int, int] | None]


def _gpt(sizes: list[str], *, fidelity: bool) -> dict[str, list[Option]]:
    common: list[Option] = [
        ("n", INTEGER, False, None, (1, 10)),
        ("size", STRING, False, sizes, None),
        ("quality", STRING, False, QUALITY, None),
        ("background", STRING, False, BACKGROUND, None),
        ("output_format", STRING, False, FORMATS, None),
    ]
    compression: Option = ("output_compression", INTEGER, False, None, (0, 100))
    fidelity_option: list[Option] = (
        [("input_fidelity", STRING, False, ["low", "high"], None)] if fidelity else []
    )
    return {
        "imagine": [
            ("prompt", STRING, True, None, None),
            *common,
            ("moderation", STRING, False, ["auto", "low"], None),
            compression,
        ],
        "edit": [
            ("image", ATTACHMENT, True, None, None),
            ("prompt", STRING, True, None, None),
            ("mask", ATTACHMENT, False, None, None),  # GPT image models edit without a mask
            *common,
            *fidelity_option,
            compression,
        ],
        "vary": [
            ("image", ATTACHMENT, True, None, None),
            ("n", INTEGER, False, None, (1, 10)),
            ("size", STRING, False, sizes, None),
            ("quality", STRING, False, QUALITY, None),
            ("output_format", STRING, False, FORMATS, None),
        ],
        "quota": [],
        "help": [],
    }


DALLE2_SIZES = ["256x256", "512x512", "1024x1024"]
EXPECTED: dict[str, tuple[int, dict[str, list[Option]]]] = {
    # model: (the prompt's max_length, the commands)
    "dall-e-2": (
        1000,
        {
            "imagine": [
                ("prompt", STRING, True, None, None),
                ("n", INTEGER, False, None, (1, 10)),
                ("size", STRING, False, DALLE2_SIZES, None),
            ],
            "edit": [
                ("image", ATTACHMENT, True, None, None),
                ("mask", ATTACHMENT, True, None, None),  # DALL-E 2 needs a mask
                ("prompt", STRING, True, None, None),
                ("n", INTEGER, False, None, (1, 10)),
                ("size", STRING, False, DALLE2_SIZES, None),
            ],
            "vary": [
                ("image", ATTACHMENT, True, None, None),
                ("n", INTEGER, False, None, (1, 10)),
                ("size", STRING, False, DALLE2_SIZES, None),
            ],
            "quota": [],
            "help": [],
        },
    ),
    # DALL-E 3: one image at a time (no n), style, and neither edits nor variations.
    "dall-e-3": (
        4000,
        {
            "imagine": [
                ("prompt", STRING, True, None, None),
                ("size", STRING, False, ["1024x1024", "1792x1024", "1024x1792"], None),
                ("quality", STRING, False, ["standard", "hd"], None),
                ("style", STRING, False, ["vivid", "natural"], None),
            ],
            "quota": [],
            "help": [],
        },
    ),
    # Discord caps what a member can type at 6000, below the model's 32,000.
    "gpt-image-1.5": (6000, _gpt(GPT_SIZES, fidelity=True)),
    "gpt-image-1-mini": (6000, _gpt(GPT_SIZES, fidelity=False)),
    "gpt-image-2": (6000, _gpt(GPT2_SIZES, fidelity=True)),
}


def _summary(option: dict[str, Any]) -> Option:
    choices = option.get("choices")
    limits = None
    if "min_value" in option or "max_value" in option:
        limits = (option["min_value"], option["max_value"])
    return (
        option["name"],
        option["type"],
        bool(option.get("required")),
        [c["value"] for c in choices] if choices else None,
        limits,
    )


def _check_limits(command: dict[str, Any]) -> None:
    """DISCORD-LIMITS.md section 1, for one CHAT_INPUT command."""
    assert NAME.match(command["name"])
    assert 1 <= len(command["description"]) <= 100
    options = command.get("options") or []
    assert len(options) <= 25
    names = [o["name"] for o in options]
    assert len(set(names)) == len(names)
    required = [bool(o.get("required")) for o in options]
    assert required == sorted(required, reverse=True), "required options must come first"
    size = len(command["name"]) + len(command["description"])
    for option in options:
        assert NAME.match(option["name"]), option["name"]
        assert 1 <= len(option["description"]) <= 100, option["description"]
        assert option["type"] in (STRING, INTEGER, ATTACHMENT)
        size += len(option["name"]) + len(option["description"])
        choices = option.get("choices") or []
        assert len(choices) <= 25
        assert not (choices and option.get("autocomplete"))
        for choice in choices:
            assert 1 <= len(choice["name"]) <= 100
            assert 1 <= len(str(choice["value"])) <= 100
            size += len(choice["name"]) + len(str(choice["value"]))
        if option["type"] == STRING and "max_length" in option:
            assert 1 <= option.get("min_length", 0) <= option["max_length"] <= 6000
        if option["type"] == INTEGER and "max_value" in option:
            assert option["min_value"] <= option["max_value"] <= 2**53 - 1
    assert size <= 8000
    # Guild-installed, in servers only (ALLOW_DMS is false by default).
    assert command["contexts"] == [0]
    assert command["integration_types"] == [0]


@pytest.mark.parametrize("model", list(EXPECTED))
async def test_each_family_registers_exactly_the_options_its_model_accepts(
    start_bot: StartBot, fake_discord: FakeDiscord, model: str
) -> None:
    prompt_max, expected = EXPECTED[model]
    async with start_bot(IMAGE_MODEL=model):
        pass
    [put] = fake_discord.command_puts
    assert put.guild_id == fake_discord.guild.id
    assert put.status == 200
    # The admins' /imagine-settings is the same for every family (tests/cogs/test_settings.py).
    slash = [c for c in put.commands if c.get("type", 1) == 1]
    sent = {c["name"]: c for c in slash if c["name"] != "imagine-settings"}
    assert sorted(sent) == sorted(expected)
    # Issue 12: the message commands follow the slash commands the model offers.
    menus = sorted(c["name"] for c in put.commands if c.get("type") == 3)
    offered = {"vary": "Vary this image", "edit": "Edit this image"}
    assert menus == sorted(menu for name, menu in offered.items() if name in expected)
    for name, options in expected.items():
        command = sent[name]
        _check_limits(command)
        assert [_summary(o) for o in command.get("options", [])] == options
        for option in command.get("options", []):
            if option["name"] == "prompt":
                assert (option["min_length"], option["max_length"]) == (1, prompt_max)
    assert fake_discord.violations == []


async def test_commands_work_in_dms_only_when_allowed(
    start_bot: StartBot, fake_discord: FakeDiscord
) -> None:
    async with start_bot(ALLOW_DMS="true"):
        pass
    [put] = fake_discord.command_puts
    assert {c["name"]: c["contexts"] for c in put.commands} == {
        "imagine": [0, 1],
        "edit": [0, 1],
        "vary": [0, 1],
        "quota": [0, 1],
        "help": [0, 1],
        "imagine-settings": [0],
        # Issue 12's message commands follow the same setting.
        "Vary this image": [0, 1],
        "Edit this image": [0, 1],
    }
