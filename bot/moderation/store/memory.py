"""The in-memory settings store: one process, lost on restart. For tests and `memory://`."""

from __future__ import annotations

from bot.moderation.store.base import RawChange, ServerSettingsStore


class MemoryServerSettings(ServerSettingsStore):
    """A dict of JSON documents. Nothing awaits inside a change, so each one is atomic.

    Documents rather than objects, so this backend also exercises the stored form. No cache:
    a dict lookup is as fast as one.
    """

    def __init__(self) -> None:
        super().__init__(cache_ttl=0)
        self._documents: dict[int, str] = {}

    def __repr__(self) -> str:
        return "MemoryServerSettings()"

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def _read(self, guild_id: int) -> str | None:
        return self._documents.get(guild_id)

    async def _modify(self, guild_id: int, change: RawChange) -> None:
        document = change(self._documents.get(guild_id))
        if document is None:
            self._documents.pop(guild_id, None)
        else:
            self._documents[guild_id] = document
