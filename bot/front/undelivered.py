"""The last resort: images no route could post are kept in the outbox, owed to the member.

They go to the job's outbox folder (`bot.records.outbox`, 0600 files in 0700 folders), keyed
by the interaction's id like the job's record, so `cogs.outbox` hands them over later (a DM,
or privately at the member's next command) instead of leaving them on disk unseen.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import discord

from bot.front.files import ImageFile
from bot.records import Outbox, OwedImage

log = logging.getLogger(__name__)


async def save_rest(
    interaction: discord.Interaction, groups: list[list[ImageFile]], data_dir: Path, why: str
) -> Path:
    """Keep `groups` as what the job still owes (in the outbox), logging why; the folder."""
    outbox = Outbox(data_dir)
    job_id = str(interaction.id)
    if groups:
        owed = [OwedImage(image.filename, image.data) for group in groups for image in group]
        # Shielded: this also runs while the job is being cancelled.
        await asyncio.shield(asyncio.to_thread(outbox.keep, job_id, owed, gave_up=True))
        log.error(
            "could not post %d images of interaction %s (%s); kept in the outbox to hand over"
            " later",
            len(owed),
            interaction.id,
            why,
        )
        interaction.client.dispatch("results_undelivered", len(owed))
    return outbox.folder(job_id)
