"""The limit settings: LIMIT_*, IMAGES_PER_MINUTE, the queue caps and STATE_URL."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, Settings
from bot.limits import EXEMPT, LimitPolicy, open_store
from bot.limits.store import SqliteStore

BASE = {"DISCORD_TOKEN": "MTIzNDU2Nzg5.discord-token-value", "OPENAI_API_KEY": "sk-test-0123"}


def settings(**env: str) -> Settings:
    return Settings.from_env(BASE | env)


def test_defaults() -> None:
    s = settings()
    policies = s.role_policies
    assert policies.default == LimitPolicy(window_seconds=3600, window_images=10, daily_images=30)
    assert dict(policies.overrides) == {}
    assert policies.exempt_roles == frozenset()
    assert (s.images_per_minute, s.max_concurrent_requests) == (50, 4)
    # 50 images a minute over Discord's 15 minutes less one job's 300 s timeout (issue 10
    # raised the timeout from 180 s, which made this 600).
    assert (s.queue_max, s.queue_max_per_member) == (500, 3)
    assert s.state_url == "sqlite:///data/bot.db"
    store = open_store(s.state_url)
    assert isinstance(store, SqliteStore)
    assert store.path == Path("data/bot.db")


def test_the_default_database_lives_in_data_dir(tmp_path: Path) -> None:
    s = settings(DATA_DIR=str(tmp_path / "state"))
    store = open_store(s.state_url)
    assert isinstance(store, SqliteStore)
    assert store.path == tmp_path / "state" / "bot.db"


def test_roles_and_numbers() -> None:
    s = settings(
        LIMIT_WINDOW_SECONDS="600",
        LIMIT_WINDOW_IMAGES="4",
        LIMIT_DAILY_IMAGES="12",
        LIMIT_ROLES=" 111=8/40, 222=20/100 ",
        LIMIT_EXEMPT_ROLES="333,444",
        IMAGES_PER_MINUTE="7",
        MAX_CONCURRENT_REQUESTS="2",
        QUEUE_MAX="9",
        QUEUE_MAX_PER_MEMBER="1",
        STATE_URL="redis://127.0.0.1:6379/2",
    )
    policies = s.role_policies
    assert policies.default == LimitPolicy(window_seconds=600, window_images=4, daily_images=12)
    # An override keeps the window length and sets its own numbers.
    assert policies.resolve([111]) == LimitPolicy(
        window_seconds=600, window_images=8, daily_images=40
    )
    assert policies.resolve([111, 222]) == LimitPolicy(
        window_seconds=600, window_images=20, daily_images=100
    )
    assert policies.resolve([222, 444]) is EXEMPT
    assert policies.resolve([999]) == policies.default
    assert (s.images_per_minute, s.max_concurrent_requests) == (7, 2)
    assert (s.queue_max, s.queue_max_per_member) == (9, 1)
    assert s.state_url == "redis://127.0.0.1:6379/2"


def test_every_bad_limit_setting_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as refused:
        settings(
            LIMIT_WINDOW_SECONDS="90000",
            LIMIT_WINDOW_IMAGES="0",
            LIMIT_ROLES="111=5",
            LIMIT_EXEMPT_ROLES="staff",
            IMAGES_PER_MINUTE="-1",
            QUEUE_MAX="many",
            STATE_URL="sqlite://data/bot.db",
        )
    named = {problem.split(":", 1)[0] for problem in refused.value.problems}
    assert named == {
        "LIMIT_WINDOW_SECONDS",
        "LIMIT_WINDOW_IMAGES",
        "LIMIT_ROLES",
        "LIMIT_EXEMPT_ROLES",
        "IMAGES_PER_MINUTE",
        "QUEUE_MAX",
        "STATE_URL",
    }
    roles = next(p for p in refused.value.problems if p.startswith("LIMIT_ROLES"))
    assert "e.g. 123456789012345678=50/200" in roles


@pytest.mark.parametrize(
    "url", ["sqlite:///", "redis://host:port/0", "redis://", "memory://somewhere"]
)
def test_a_state_url_that_cannot_be_opened_is_a_settings_problem(url: str) -> None:
    # Caught with the other settings at start-up, not as a crash when the bot is built.
    with pytest.raises(ConfigError) as refused:
        settings(STATE_URL=url)
    [problem] = refused.value.problems
    assert problem.startswith("STATE_URL: has a value that isn't valid")


def test_a_redis_password_is_never_shown() -> None:
    with pytest.raises(ConfigError) as refused:
        settings(STATE_URL="redis://:hunter2-secret@host:port/0")
    assert "hunter2" not in refused.value.report()
    ok = settings(STATE_URL="redis://:hunter2-secret@cache:6379/0")
    assert "hunter2" not in repr(ok)
