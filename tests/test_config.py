"""Settings: every problem listed at once, secrets masked, `python -m bot` exits 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bot.config import ConfigError, Settings
from bot.config.table import SETTINGS
from bot.identity import MemberIds, load_or_create_salt
from bot.secrets import Secret

REPO = Path(__file__).resolve().parent.parent
TOKEN = "MTIzNDU2Nzg5.discord-token-value"
KEY = "sk-test-key-0123456789abcdef"


def base_env(**extra: str) -> dict[str, str]:
    return {"DISCORD_TOKEN": TOKEN, "OPENAI_API_KEY": KEY, **extra}


def test_defaults() -> None:
    settings = Settings.from_env(base_env())
    assert settings.openai_base_url == "https://api.openai.com/v1"
    assert settings.image_model == "gpt-image-2"
    assert settings.image_model_family == "gpt-image-2"
    assert settings.profile.family == "gpt-image-2"
    assert settings.discord_guild_id is None
    assert settings.allow_dms is False


def test_event_loop_choice() -> None:
    assert Settings.from_env(base_env()).event_loop == "uvloop"
    assert Settings.from_env(base_env(EVENT_LOOP="AsyncIO")).event_loop == "asyncio"
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(base_env(EVENT_LOOP="trio"))
    assert [p.split(":")[0] for p in caught.value.problems] == ["EVENT_LOOP"]


def test_secrets_never_in_repr() -> None:
    settings = Settings.from_env(base_env(USER_ID_SALT="a-salt-of-sixteen-chars"))
    text = repr(settings) + str(settings) + f"{settings}"
    assert TOKEN not in text
    assert KEY not in text
    assert "a-salt-of-sixteen-chars" not in text
    assert settings.discord_token.reveal() == TOKEN
    assert f"{Secret('x')}" == "Secret('********')"


def test_every_problem_listed_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(
            {
                "IMAGES_TIMEOUT_SECONDS": "soon",
                "DISCORD_GUILD_ID": "my server",
                "OPENAI_BASE_URL": "ftp://example",
                "IMAGE_MODEL_FAMILY": "dall-e-4",
            }
        )
    names = {problem.split(":")[0] for problem in caught.value.problems}
    assert names == {
        "DISCORD_TOKEN",
        "IMAGES_TIMEOUT_SECONDS",
        "DISCORD_GUILD_ID",
        "OPENAI_BASE_URL",
        "IMAGE_MODEL_FAMILY",
    }
    # The key is required only for OpenAI's own URL; with the URL itself wrong, asking for a
    # key as well would send the owner after the wrong problem.
    assert "ftp://example" not in caught.value.report()


def test_key_optional_for_self_hosted_server() -> None:
    settings = Settings.from_env(
        {
            "DISCORD_TOKEN": TOKEN,
            "OPENAI_BASE_URL": "http://127.0.0.1:8080/v1/",
            "IMAGE_MODEL": "stablediffusion",
            "IMAGE_MODEL_FAMILY": "dall-e-2",
        }
    )
    assert settings.openai_api_key is None
    assert settings.openai_base_url == "http://127.0.0.1:8080/v1"
    assert settings.profile.family == "dall-e-2"
    assert settings.profile.model == "stablediffusion"


def test_unknown_model_needs_a_family() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(base_env(IMAGE_MODEL="my-model"))
    assert caught.value.problems[0].startswith("IMAGE_MODEL_FAMILY")
    assert "dall-e-2" in caught.value.problems[0]


def test_value_of_a_bad_setting_is_not_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(base_env(IMAGES_MAX_ATTEMPTS=KEY))
    assert KEY not in caught.value.report()


def test_salt_is_created_once_and_kept(tmp_path: Path) -> None:
    first = load_or_create_salt(tmp_path)
    second = load_or_create_salt(tmp_path)
    assert first == second
    assert len(first) == 32
    assert (tmp_path / "user-id-salt").stat().st_mode & 0o077 == 0
    ids = MemberIds(first)
    assert ids(1234) == ids(1234)
    assert ids(1234) != ids(1235)
    assert "1234" not in ids(1234)
    assert MemberIds(b"another-salt-16b!")(1234) != ids(1234)
    assert first.hex() not in repr(ids)


def test_python_m_bot_without_settings_lists_what_is_missing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "OPENAI_"))}
    env["PYTHONPATH"] = str(REPO)
    done = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,  # no .env here
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "DISCORD_TOKEN: is missing" in done.stderr
    assert "OPENAI_API_KEY: is missing" in done.stderr
    assert "Traceback" not in done.stderr


def test_env_file_is_read_and_environment_wins(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("DISCORD_TOKEN=from-file\nIMAGES_MAX_ATTEMPTS=zero\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "OPENAI_"))}
    env |= {"PYTHONPATH": str(REPO), "IMAGES_MAX_ATTEMPTS": "3"}
    done = subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "DISCORD_TOKEN" not in done.stderr  # found in .env
    assert "IMAGES_MAX_ATTEMPTS" not in done.stderr  # the environment's valid value won
    assert "OPENAI_API_KEY: is missing" in done.stderr


class _Recording(dict[str, str]):
    """An environment that remembers which variables were asked for, and how often."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.asked: list[str] = []

    def get(self, key: str, default: object = None) -> Any:
        self.asked.append(key)
        return super().get(key, default)


def test_every_declared_setting_is_read_once() -> None:
    # A declaration that from_env forgot would be documented but silently ignored.
    env = _Recording(base_env())
    Settings.from_env(env)
    assert sorted(env.asked) == sorted(setting.env for setting in SETTINGS)
