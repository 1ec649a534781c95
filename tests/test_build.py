"""bot.build: every part constructed from the settings, with nothing opened until asked."""

from __future__ import annotations

from pathlib import Path

import aiohttp

from bot.build import build, connector, member_ids, moderation_client
from bot.config import Settings
from bot.secrets import Secret


def settings_in(tmp_path: Path, **values: object) -> Settings:
    return Settings.from_env(
        {
            "DISCORD_TOKEN": "MTIzNDU2Nzg5.discord-token-value",
            "OPENAI_API_KEY": "sk-test-key-0123456789abcdef",
            "DATA_DIR": str(tmp_path),
            **{key: str(value) for key, value in values.items()},
        }
    )


async def test_build_wires_the_parts_together_and_opens_nothing(tmp_path: Path) -> None:
    settings = settings_in(
        tmp_path,
        STATE_URL=f"sqlite:///{tmp_path / 'state' / 'bot.db'}",
        MODERATION_ENABLED="false",
    )
    async with aiohttp.ClientSession() as session:
        parts = build(settings, session)

        assert not (tmp_path / "state").exists()  # the stores open in setup_hook, not here
        assert parts.service.client is parts.images
        assert parts.service.limiter is parts.limiter
        assert parts.service.servers is parts.server_settings
        assert parts.service.moderation is None
        assert parts.images.on_rate_limited == parts.limiter.pause_for
        await parts.open()
        await parts.close()
    assert (tmp_path / "state" / "bot.db").exists()


async def test_moderation_client_follows_the_setting(tmp_path: Path) -> None:
    async with aiohttp.ClientSession() as session:
        off = settings_in(tmp_path, MODERATION_ENABLED="false")
        assert moderation_client(session, off) is None
        screening = settings_in(tmp_path, MODERATION_ENABLED="true")
        assert moderation_client(session, screening) is not None


def test_member_ids_use_the_configured_salt_else_the_data_folder(tmp_path: Path) -> None:
    configured = Settings(
        discord_token=Secret("x" * 20),
        openai_api_key=None,
        user_id_salt=Secret("a-test-salt-that-is-long-enough"),
        data_dir=tmp_path,
    )
    assert member_ids(configured)(42) == member_ids(configured)(42)
    assert not list(tmp_path.iterdir())  # a configured salt writes no salt file

    kept = settings_in(tmp_path)
    assert member_ids(kept)(42) == member_ids(kept)(42)  # the second read finds the file
    assert member_ids(kept)(42) != member_ids(configured)(42)


async def test_the_connection_pool_follows_max_concurrent_requests(tmp_path: Path) -> None:
    # aiohttp's default pool of 100 capped the Images API calls whatever the setting said.
    small = connector(settings_in(tmp_path, MAX_CONCURRENT_REQUESTS=4))
    large = connector(settings_in(tmp_path, MAX_CONCURRENT_REQUESTS=300))
    try:
        assert large.limit - small.limit == 296
        assert large.limit > 300  # room for downloads and moderation beside the calls
    finally:
        await small.close()
        await large.close()
