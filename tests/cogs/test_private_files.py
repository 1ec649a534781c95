"""What the disk sees: under the usual umask (022) the data folder and every folder the bot
makes in it are 0700, and every file the bot writes there is 0600."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import StartBot
from tests.fakes.discord import FakeDiscord

ORIGINAL = "/webhooks/*/messages/@original"


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


def modes(root: Path) -> dict[str, int]:
    """Each path under `root` (and `root` itself) and its permission bits."""
    found = {".": stat.S_IMODE(root.stat().st_mode)}
    for path in root.rglob("*"):
        found[str(path.relative_to(root))] = stat.S_IMODE(path.stat().st_mode)
    return found


def assert_private(root: Path) -> None:
    for name, mode in modes(root).items():
        is_dir = (root / name).is_dir()
        assert mode == (0o700 if is_dir else 0o600), f"{name} is {mode:o}"


async def test_the_data_folder_salt_and_database_are_private(
    start_bot: StartBot, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    # No salt in the settings: the bot makes one in its data folder.
    async with start_bot(USER_ID_SALT=""):
        interaction = await fake_discord.invoke("imagine", {"prompt": "a garden"})
        await interaction.wait_for_final(predicate=lambda s: bool(s.files))
    data = tmp_path / "data"
    assert "user-id-salt" in modes(data)
    assert_private(data)


async def test_images_that_reach_nobody_are_saved_privately(
    start_bot: StartBot, fake_discord: FakeDiscord, tmp_path: Path
) -> None:
    # The state in memory: the only thing that makes the data folder is the saving itself.
    fake_discord.fail_next("PATCH", ORIGINAL, 400, 50035, "Invalid Form Body")
    fake_discord.fail_next("POST", "/channels/*/messages", 403, 50013, "Missing Permissions", 2)
    async with start_bot(STATE_URL="memory://"):
        interaction = await fake_discord.invoke("imagine", {"prompt": "a garden", "n": 2})
        await interaction.wait_for_final(predicate=lambda s: s.ephemeral)
    data = tmp_path / "data"
    kept = data / "outbox" / str(interaction.id)  # the outbox, since the recovery work
    assert len([path for path in kept.iterdir() if not path.name.startswith(".")]) == 2
    assert_private(data)
