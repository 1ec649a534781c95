"""The last resort: images no route could post are saved in the data folder for the owner."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import discord

from bot.front.files import ImageFile
from bot.private import write_private

log = logging.getLogger(__name__)


async def save_rest(
    interaction: discord.Interaction, groups: list[list[ImageFile]], data_dir: Path, why: str
) -> Path:
    """Save `groups` in the data folder's undelivered/<interaction id>, logging why; the folder."""
    folder = data_dir / "undelivered" / str(interaction.id)
    if groups:
        # Shielded: this also runs while the job is being cancelled.
        await asyncio.shield(asyncio.to_thread(_save, groups, folder))
        log.error(
            "could not post %d images of interaction %s (%s); saved them in %s",
            sum(len(group) for group in groups),
            interaction.id,
            why,
            folder,
        )
        interaction.client.dispatch("results_undelivered", sum(len(group) for group in groups))
    return folder


def _save(groups: list[list[ImageFile]], folder: Path) -> Path:
    for group in groups:
        for image in group:
            write_private(folder / image.filename, image.data)
    return folder
