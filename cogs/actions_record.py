"""What a result's Re-roll needs, kept in its job record (bot.records: `details["replay"]`).

The options as the member gave them and where each input picture is on Discord's CDN: never
the pictures themselves, whose links are refreshed when the click comes (cogs/actions.py).
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from bot.records import Stage, now_ms
from bot.service import Upload

if TYPE_CHECKING:
    from bot.front.client import ImagineBot

log = logging.getLogger(__name__)


def replay_of(
    command: str, prompt: str | None, fields: Mapping[str, Any], uploads: Iterable[Upload | None]
) -> dict[str, Any]:
    """What a Re-roll of this command needs, as JSON for the job record: the options as the
    member gave them, and where each input picture is on Discord's CDN (its link, refreshed
    at click time: the bytes are never kept)."""
    return {
        "command": command,
        "prompt": prompt,
        "fields": {name: value for name, value in fields.items() if value is not None},
        "inputs": [dataclasses.asdict(upload) for upload in uploads if upload is not None],
    }


async def remember(bot: ImagineBot, job_id: str, replay: Mapping[str, Any]) -> None:
    """Keep `replay` in the job's record; a failure costs only the Re-roll, so it is logged."""
    try:
        await bot.records.advance(job_id, Stage.RESERVED, now_ms=now_ms(), replay=dict(replay))
    except Exception:
        log.exception("could not keep what job %s's Re-roll needs", job_id)
