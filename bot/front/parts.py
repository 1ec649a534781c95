"""The parts of the core the front works with, built by `bot.build` and handed to the bot.

Declared here, in the front that uses them, so that the front never imports the builder
(which sits above it, beside the entry point).
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.identity import MemberIds
from bot.images.client import ImagesClient
from bot.limits import Limiter, Store
from bot.moderation import ServerSettingsStore
from bot.records import RecordStore
from bot.service import ImageService


@dataclass(frozen=True, slots=True)
class Parts:
    """Everything the commands use, built once per process; the stores open with `open()`."""

    store: Store
    limiter: Limiter
    images: ImagesClient
    member_ids: MemberIds
    server_settings: ServerSettingsStore
    service: ImageService
    records: RecordStore

    async def open(self) -> None:
        """Open the stores (connect, create tables)."""
        await self.store.open()
        await self.server_settings.open()
        await self.records.open()

    async def close(self) -> None:
        """Close the stores; each closes even when one before it fails."""
        try:
            await self.store.close()
        finally:
            try:
                await self.server_settings.close()
            finally:
                await self.records.close()
