"""Server settings in the quotas' SQLite file, in their own table. Never blocks the event loop.

Through the file's shared `bot.state.SqliteDatabase`: the same connection and thread as the
quotas, so one file has one way in (the table comes from the file's migrations). A change is
one `BEGIN IMMEDIATE` transaction (read, change, write) on that thread, which takes SQLite's
write lock up front, so changes from this process or another one on the same file are
serialised.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Callable

from bot.moderation.store.base import DEFAULT_CACHE_TTL, RawChange, ServerSettingsStore
from bot.resource import Lease
from bot.state.sqlite import InSqliteFile, SqliteDatabase


class SqliteServerSettings(InSqliteFile, ServerSettingsStore):
    """Server settings in one SQLite file, through the file's shared `SqliteDatabase`."""

    def __init__(
        self,
        database: SqliteDatabase,
        *,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(cache_ttl=cache_ttl, monotonic=monotonic)
        self._lease = Lease(database, "SQLite settings store")

    async def _read(self, guild_id: int) -> str | None:
        return await self._lease.held.run(functools.partial(_document, guild_id=guild_id))

    async def _modify(self, guild_id: int, change: RawChange) -> None:
        # `change` is pure (decoding and checking a document), so it may run on the thread.
        write = functools.partial(_write, guild_id=guild_id, change=change)
        await self._lease.held.transaction(write)


def _document(db: sqlite3.Connection, *, guild_id: int) -> str | None:
    row = db.execute(
        "SELECT document FROM server_settings WHERE guild_id = ?", (guild_id,)
    ).fetchone()
    return None if row is None else str(row[0])


def _write(db: sqlite3.Connection, *, guild_id: int, change: RawChange) -> None:
    current = _document(db, guild_id=guild_id)
    document = change(current)
    if document is None:
        db.execute("DELETE FROM server_settings WHERE guild_id = ?", (guild_id,))
    elif document != current:
        db.execute(
            "INSERT INTO server_settings (guild_id, document, updated_ms) "
            "VALUES (?, ?, ?) ON CONFLICT (guild_id) DO UPDATE "
            "SET document = excluded.document, updated_ms = excluded.updated_ms",
            (guild_id, document, int(time.time() * 1000)),
        )
