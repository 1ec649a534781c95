"""Server settings in the quotas' SQLite file, in their own table. Never blocks the event loop.

On a connection of its own, through aiosqlite, with the same WAL mode and busy timeout as
`bot.limits.store.sqlite` (which runs plain sqlite3 on a thread of its own to batch a burst's
reservations; settings change far too rarely to need that). A change is one `BEGIN
IMMEDIATE` transaction (read, change, write), which takes SQLite's write lock up front, so
changes from this process or another one on the same file are serialised. The file's
`user_version` belongs to the limits store and is left alone: this table is created with IF
NOT EXISTS and its documents carry their own version.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from bot.moderation.store.base import DEFAULT_CACHE_TTL, RawChange, ServerSettingsStore

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS server_settings (
    guild_id INTEGER PRIMARY KEY,
    document TEXT NOT NULL,
    updated_ms INTEGER NOT NULL
);
"""


class SqliteServerSettings(ServerSettingsStore):
    """Server settings in one SQLite file (created, with its folder, on first open)."""

    def __init__(
        self,
        path: str | Path,
        *,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        monotonic: Callable[[], float] = time.monotonic,
        busy_timeout_ms: int = 5000,
    ) -> None:
        super().__init__(cache_ttl=cache_ttl, monotonic=monotonic)
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._db: aiosqlite.Connection | None = None
        # One connection: a read must not run inside another task's open transaction.
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"SqliteServerSettings({str(self.path)!r})"

    async def open(self) -> None:
        if self._db is not None:
            return
        await asyncio.to_thread(self.path.parent.mkdir, parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            await db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.executescript(_SCHEMA)
        except BaseException:
            await db.close()
            raise
        self._db = db
        log.info("Server settings are kept in %s", self.path)

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            await db.close()

    def _connection(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the SQLite settings store is not open; use `async with` or open()")
        return self._db

    async def _read(self, guild_id: int) -> str | None:
        db = self._connection()
        async with self._lock:
            return await _document(db, guild_id)

    async def _modify(self, guild_id: int, change: RawChange) -> None:
        async with self._transaction() as db:
            current = await _document(db, guild_id)
            document = change(current)
            if document is None:
                await db.execute("DELETE FROM server_settings WHERE guild_id = ?", (guild_id,))
            elif document != current:
                await db.execute(
                    "INSERT INTO server_settings (guild_id, document, updated_ms) "
                    "VALUES (?, ?, ?) ON CONFLICT (guild_id) DO UPDATE "
                    "SET document = excluded.document, updated_ms = excluded.updated_ms",
                    (guild_id, document, int(time.time() * 1000)),
                )

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        db = self._connection()
        async with self._lock:
            try:
                await db.execute("BEGIN IMMEDIATE")
                yield db
                await db.execute("COMMIT")
            except BaseException:
                # Also on cancellation: a transaction left open would break every later one.
                await _rollback(db)
                raise


async def _document(db: aiosqlite.Connection, guild_id: int) -> str | None:
    rows = list(
        await db.execute_fetchall(
            "SELECT document FROM server_settings WHERE guild_id = ?", (guild_id,)
        )
    )
    return str(rows[0][0]) if rows else None


async def _rollback(db: aiosqlite.Connection) -> None:
    try:
        await db.execute("ROLLBACK")
    except sqlite3.OperationalError:
        # "no transaction is active": the COMMIT ran before the error or cancellation reached us.
        log.debug("Nothing to roll back: the transaction had already ended")
