"""Issue 14, packaging: the compose file, .dockerignore, .env.example with `--env-file`, and
the package's metadata (license, optional Redis, bounded dependencies)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from bot.config import table

ROOT = Path(__file__).resolve().parent.parent


def _compose() -> dict[str, object]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _seconds(duration: str) -> float:
    match = re.fullmatch(r"(\d+)s", duration)
    assert match, duration
    return float(match.group(1))


def test_compose_gives_jobs_longer_than_the_shutdown_grace() -> None:
    bot = _compose()["services"]["bot"]  # type: ignore[index]
    assert _seconds(bot["stop_grace_period"]) > table.SHUTDOWN_GRACE_SECONDS.default


def test_compose_keeps_data_in_a_named_volume_and_checks_health() -> None:
    compose = _compose()
    bot = compose["services"]["bot"]  # type: ignore[index]
    assert "imagine-data:/data" in bot["volumes"]
    assert "imagine-data" in compose["volumes"]  # type: ignore[operator]
    assert bot["environment"]["DATA_DIR"] == "/data"
    assert bot["read_only"] is True
    assert any("/healthz" in part for part in bot["healthcheck"]["test"])
    assert bot["environment"]["METRICS_ADDR"].endswith(":9108")


def test_compose_starts_redis_only_under_its_profile() -> None:
    redis = _compose()["services"]["redis"]  # type: ignore[index]
    assert redis["profiles"] == ["redis"]


def test_dockerignore_keeps_secrets_state_and_venvs_out() -> None:
    lines = (ROOT / ".dockerignore").read_text().splitlines()
    for needed in (".env", "data/", ".venv", ".venv-*"):
        assert needed in lines


def test_env_example_works_unchanged_with_docker_env_file() -> None:
    """Docker's --env-file keeps quotes literally, and an active DATA_DIR would move the data
    out of the image's volume: every active line is KEY= or KEY=value with no quotes."""
    active = [
        line
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert active
    for line in active:
        key, _, value = line.partition("=")
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", key), line
        assert not value.startswith(("'", '"')), line
        assert key != "DATA_DIR", line


def test_metadata_license_is_spdx_and_redis_is_an_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"] == "MIT"
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert not any(dep.startswith("redis") for dep in project["dependencies"])
    assert project["optional-dependencies"]["redis"][0].startswith("redis")
    bounded = {"discord.py", "aiohttp", "Pillow", "prometheus-client"}
    for dep in project["dependencies"]:
        name = re.split(r"[<>=;\s]", dep, maxsplit=1)[0]
        if name in bounded:
            assert "<" in dep, dep


def _without_redis(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter where `import redis` fails, as without the extra
    (in `cwd`, away from any .env of the checkout)."""
    prelude = "import sys; sys.modules['redis'] = None\n"
    return subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", prelude + code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={"PATH": os.environ.get("PATH", ""), **env},
        check=False,
    )


def test_the_bot_runs_on_sqlite_without_the_redis_extra(tmp_path: Path) -> None:
    done = _without_redis(
        "import bot.__main__, bot.build, cogs.imagine, cogs.settings, cogs.metrics\n"
        "from bot.limits import open_store\n"
        "from bot.moderation import open_server_settings\n"
        "open_store('memory://'); open_server_settings('memory://')\n",
        tmp_path,
    )
    assert done.returncode == 0, done.stderr


def test_a_redis_state_url_without_the_extra_is_refused_clearly(tmp_path: Path) -> None:
    done = _without_redis(
        "import runpy; runpy.run_module('bot', run_name='__main__')",
        tmp_path,
        DISCORD_TOKEN="MTEy.fake.token-for-a-config-check",
        OPENAI_API_KEY="sk-fake-key-for-a-config-check",
        STATE_URL="redis://127.0.0.1:6379/0",
        DATA_DIR=str(tmp_path),
    )
    assert done.returncode == 2
    assert "STATE_URL" in done.stderr
    assert "pip install 'imagine-bot[redis]'" in done.stderr
    assert "Traceback" not in done.stderr
