"""The SQLite store: the embedded default. Survives restarts; never blocks the event loop.

aiosqlite runs every statement on its own thread. Each change is one `BEGIN IMMEDIATE`
transaction (check, then write), which takes SQLite's write lock up front, so concurrent
reservations, from this process or another one on the same file, are serialised. WAL mode
lets readers go on while one writes.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import aiosqlite

from bot.limits.store import (
    RETENTION_MS,
    Entry,
    ReserveOutcome,
    Store,
    WindowCheck,
    fits_at,
)

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS reservations (
    id TEXT PRIMARY KEY,
    member TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    images INTEGER NOT NULL,
    -- NULL once committed. A pending reservation counts as committed after this time.
    expires_ms INTEGER
);
CREATE INDEX IF NOT EXISTS reservations_by_member ON reservations (member, at_ms);
CREATE INDEX IF NOT EXISTS reservations_by_time ON reservations (at_ms);
CREATE TABLE IF NOT EXISTS budget (
    id TEXT PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    images INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS budget_by_time ON budget (at_ms);
CREATE TABLE IF NOT EXISTS shared_state (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
"""

_PAUSED_UNTIL = "paused_until"


class SqliteStore(Store):
    """Limit state in one SQLite file (created, with its folder, on first open)."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._db: aiosqlite.Connection | None = None
        # One connection: statements from concurrent tasks must not interleave inside a
        # transaction, so each transaction holds this lock.
        self._lock = asyncio.Lock()

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    async def open(self) -> None:
        if self._db is not None:
            return
        if str(self.path) != ":memory:":
            await asyncio.to_thread(self.path.parent.mkdir, parents=True, exist_ok=True)
        db = await aiosqlite.connect(self.path, isolation_level=None)
        try:
            await db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            await db.execute("PRAGMA journal_mode = WAL")
            await db.execute("PRAGMA synchronous = NORMAL")
            await db.executescript(_SCHEMA)
            await db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            await db.close()
            raise
        self._db = db
        log.info("Limit state is kept in %s", self.path)

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            await db.close()

    def _connection(self) -> aiosqlite.Connection:
        if self._db is None:
            raise RuntimeError("the SQLite store is not open; use `async with` or open()")
        return self._db

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        db = self._connection()
        async with self._lock:
            try:
                await db.execute("BEGIN IMMEDIATE")
                yield db
                await db.execute("COMMIT")
            except BaseException:
                # Also on cancellation: statements already queued still run on aiosqlite's
                # thread, and a transaction left open would break every later one.
                await _rollback(db)
                raise

    async def reserve(
        self,
        key: str,
        reservation_id: str,
        *,
        images: int,
        checks: Sequence[WindowCheck],
        now_ms: int,
        expires_ms: int,
    ) -> ReserveOutcome:
        since = min((check.start_ms for check in checks), default=now_ms)
        async with self._transaction() as db:
            await db.execute("DELETE FROM reservations WHERE at_ms < ?", (now_ms - RETENTION_MS,))
            rows = await db.execute_fetchall(
                "SELECT at_ms, images FROM reservations WHERE member = ? AND at_ms >= ?",
                (key, since),
            )
            used = tuple(
                sum(count for at_ms, count in rows if at_ms >= check.start_ms) for check in checks
            )
            admitted = all(u + images <= c.limit for u, c in zip(used, checks, strict=True))
            if admitted:
                await db.execute(
                    "INSERT INTO reservations (id, member, at_ms, images, expires_ms) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (reservation_id, key, now_ms, images, expires_ms),
                )
        return ReserveOutcome(admitted, used)

    async def commit(self, key: str, reservation_id: str, *, now_ms: int) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute(
                "UPDATE reservations SET expires_ms = NULL "
                "WHERE id = ? AND member = ? AND expires_ms > ?",
                (reservation_id, key, now_ms),
            )
            return cursor.rowcount > 0

    async def refund(self, key: str, reservation_id: str, *, now_ms: int) -> bool:
        async with self._transaction() as db:
            cursor = await db.execute(
                "DELETE FROM reservations WHERE id = ? AND member = ? AND expires_ms > ?",
                (reservation_id, key, now_ms),
            )
            return cursor.rowcount > 0

    async def history(self, key: str, *, since_ms: int, now_ms: int) -> list[Entry]:
        db = self._connection()
        async with self._lock:
            rows = await db.execute_fetchall(
                "SELECT id, at_ms, images, expires_ms FROM reservations "
                "WHERE member = ? AND at_ms >= ? ORDER BY at_ms, id",
                (key, since_ms),
            )
        return [
            Entry(rid, at_ms, count, expires is not None and expires > now_ms)
            for rid, at_ms, count, expires in rows
        ]

    async def take_budget(
        self, entry_id: str, *, images: int, limit: int, window_ms: int, now_ms: int
    ) -> int | None:
        async with self._transaction() as db:
            paused = await _paused_until(db)
            if paused > now_ms:
                return paused
            await db.execute("DELETE FROM budget WHERE at_ms <= ?", (now_ms - window_ms,))
            rows = await db.execute_fetchall("SELECT at_ms, images FROM budget ORDER BY at_ms")
            entries = [(at_ms, count) for at_ms, count in rows]
            used = sum(count for _, count in entries)
            if used + images <= limit:
                await db.execute(
                    "INSERT INTO budget (id, at_ms, images) VALUES (?, ?, ?)",
                    (entry_id, now_ms, images),
                )
                return None
        return fits_at(entries, need=used + images - limit, window_ms=window_ms)

    async def pause_until(self, until_ms: int, *, now_ms: int) -> None:
        async with self._transaction() as db:
            await db.execute(
                "INSERT INTO shared_state (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
                (_PAUSED_UNTIL, until_ms),
            )

    async def paused_until(self, *, now_ms: int) -> int | None:
        db = self._connection()
        async with self._lock:
            paused = await _paused_until(db)
        return paused if paused > now_ms else None


async def _paused_until(db: aiosqlite.Connection) -> int:
    rows = list(
        await db.execute_fetchall("SELECT value FROM shared_state WHERE name = ?", (_PAUSED_UNTIL,))
    )
    return int(rows[0][0]) if rows else 0


async def _rollback(db: aiosqlite.Connection) -> None:
    try:
        await db.execute("ROLLBACK")
    except sqlite3.OperationalError:
        # "no transaction is active": the COMMIT ran before the error or cancellation reached us.
        log.debug("Nothing to roll back: the transaction had already ended")
