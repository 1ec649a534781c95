"""The moderation settings: MODERATION_ENABLED, MODERATION_BASE_URL, MODERATION_API_KEY,
MODERATION_MODEL, MODERATION_BLOCK_CATEGORIES and MODERATION_FAIL_OPEN."""

from __future__ import annotations

from pathlib import Path

import pytest
from dotenv import dotenv_values

from bot.config import ConfigError, Settings

TOKEN = "MTIzNDU2Nzg5.discord-token-value"
IMAGES_KEY = "sk-images-0123456789abcdef"
MODERATION_KEY = "sk-moderation-0123456789abcdef"
LOCAL = "http://127.0.0.1:8080/v1"
LOCAL_MODEL = {"IMAGE_MODEL": "sd", "IMAGE_MODEL_FAMILY": "dall-e-2"}


def settings(**env: str) -> Settings:
    return Settings.from_env({"DISCORD_TOKEN": TOKEN, **env})


def problems(**env: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        settings(**env)
    return caught.value.problems


def test_with_openai_moderation_is_on_and_uses_the_images_key() -> None:
    s = settings(OPENAI_API_KEY=IMAGES_KEY)
    assert s.moderation_enabled
    assert s.moderation_base_url == "https://api.openai.com/v1"
    assert s.moderation_api_key is not None
    assert s.moderation_api_key.reveal() == IMAGES_KEY
    assert s.moderation_model == "omni-moderation-latest"
    assert s.moderation_block_categories is None  # every flagged category refuses
    assert not s.moderation_fail_open


def test_with_a_self_hosted_server_moderation_is_off_unless_asked_for() -> None:
    assert not settings(OPENAI_BASE_URL=LOCAL, **LOCAL_MODEL).moderation_enabled
    # A local moderation server (no key needed) when asked for.
    s = settings(OPENAI_BASE_URL=LOCAL, MODERATION_ENABLED="true", **LOCAL_MODEL)
    assert (s.moderation_enabled, s.moderation_base_url, s.moderation_api_key) == (
        True,
        LOCAL,
        None,
    )


def test_a_self_hosted_image_server_can_use_openais_moderation_with_its_own_key() -> None:
    s = settings(
        OPENAI_BASE_URL=LOCAL,
        MODERATION_BASE_URL="https://api.openai.com/v1/",
        MODERATION_API_KEY=MODERATION_KEY,
        **LOCAL_MODEL,
    )
    assert s.moderation_enabled  # on by default: the endpoint is OpenAI's
    assert s.moderation_base_url == "https://api.openai.com/v1"
    assert s.openai_api_key is None  # the image server gets no key
    assert s.moderation_api_key is not None
    assert s.moderation_api_key.reveal() == MODERATION_KEY
    assert MODERATION_KEY not in repr(s)


def test_openais_moderation_without_any_key_is_a_problem() -> None:
    found = problems(
        OPENAI_BASE_URL=LOCAL, MODERATION_BASE_URL="https://api.openai.com/v1", **LOCAL_MODEL
    )
    assert found == [
        "MODERATION_API_KEY: is missing; OpenAI's moderation endpoint needs your OpenAI API key "
        "(set MODERATION_API_KEY or OPENAI_API_KEY), or set MODERATION_ENABLED=false."
    ]
    # Turned off, nothing is missing.
    settings(
        OPENAI_BASE_URL=LOCAL,
        MODERATION_BASE_URL="https://api.openai.com/v1",
        MODERATION_ENABLED="false",
        **LOCAL_MODEL,
    )
    # With OpenAI for images too, only the images key is asked for (the same key serves both).
    assert [p.split(":")[0] for p in problems()] == ["OPENAI_API_KEY"]


def test_bad_moderation_values_are_listed_without_echoing_them() -> None:
    found = problems(
        OPENAI_API_KEY=IMAGES_KEY,
        MODERATION_BASE_URL=f"ftp://{MODERATION_KEY}",
        MODERATION_ENABLED="maybe",
        MODERATION_BLOCK_CATEGORIES="violence,gore",
        MODERATION_FAIL_OPEN="sometimes",
    )
    assert [p.split(":")[0] for p in found] == [
        "MODERATION_BASE_URL",
        "MODERATION_ENABLED",
        "MODERATION_BLOCK_CATEGORIES",
        "MODERATION_FAIL_OPEN",
    ]
    assert not any(MODERATION_KEY in p or "gore" in p for p in found)


def test_block_categories_and_fail_open() -> None:
    s = settings(
        OPENAI_API_KEY=IMAGES_KEY,
        MODERATION_BLOCK_CATEGORIES=" Sexual/Minors, violence ",
        MODERATION_FAIL_OPEN="true",
        MODERATION_MODEL="text-moderation-latest",
    )
    assert s.moderation_block_categories == frozenset({"sexual/minors", "violence"})
    assert s.moderation_fail_open
    assert s.moderation_model == "text-moderation-latest"


def test_the_example_env_file_gives_these_defaults() -> None:
    example = Path(__file__).resolve().parents[2] / ".env.example"
    values = {k: v or "" for k, v in dotenv_values(example).items()}
    assert {"MODERATION_BASE_URL", "MODERATION_API_KEY"} <= set(values)
    s = Settings.from_env(values | {"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": IMAGES_KEY})
    assert s.moderation_enabled
    assert s.moderation_base_url == s.openai_base_url
    assert s.moderation_api_key == s.openai_api_key
