"""The SQLite store: the embedded default. Survives restarts; never blocks the event loop.

The file, its connection and its thread are a `bot.state.SqliteDatabase`, shared with the
server settings on the same file; calls made while its thread is busy go over together (one
hop for a burst's reservations). Each change is its own `BEGIN IMMEDIATE` transaction (check,
then write), so concurrent reservations, from this process or another one on the same file,
are serialised. The tables are created by the file's migrations (`bot.state.schema`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from bot.limits.store.base import (
    RETENTION_MS,
    Entry,
    ReserveOutcome,
    Store,
    WindowCheck,
    fits_at,
)
from bot.resource import Lease
from bot.state.sqlite import InSqliteFile, SqliteDatabase

_PAUSED_UNTIL = "paused_until"


class SqliteStore(InSqliteFile, Store):
    """Limit state in one SQLite file, through the file's shared `SqliteDatabase`."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._lease = Lease(database, "SQLite store")

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
        def reserve(db: sqlite3.Connection) -> ReserveOutcome:
            since = min((check.start_ms for check in checks), default=now_ms)
            db.execute("DELETE FROM reservations WHERE at_ms < ?", (now_ms - RETENTION_MS,))
            rows = db.execute(
                "SELECT at_ms, images FROM reservations WHERE member = ? AND at_ms >= ?",
                (key, since),
            ).fetchall()
            used = tuple(
                sum(count for at_ms, count in rows if at_ms >= check.start_ms) for check in checks
            )
            admitted = all(u + images <= c.limit for u, c in zip(used, checks, strict=True))
            if admitted:
                db.execute(
                    "INSERT INTO reservations (id, member, at_ms, images, expires_ms) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (reservation_id, key, now_ms, images, expires_ms),
                )
            return ReserveOutcome(admitted, used)

        return await self._lease.held.transaction(reserve)

    async def commit(self, key: str, reservation_id: str, *, now_ms: int) -> bool:
        def commit(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "UPDATE reservations SET expires_ms = NULL "
                "WHERE id = ? AND member = ? AND expires_ms > ?",
                (reservation_id, key, now_ms),
            )
            return cursor.rowcount > 0

        return await self._lease.held.transaction(commit)

    async def refund(self, key: str, reservation_id: str, *, now_ms: int) -> bool:
        def refund(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "DELETE FROM reservations WHERE id = ? AND member = ? AND expires_ms > ?",
                (reservation_id, key, now_ms),
            )
            return cursor.rowcount > 0

        return await self._lease.held.transaction(refund)

    async def history(self, key: str, *, since_ms: int, now_ms: int) -> list[Entry]:
        def history(db: sqlite3.Connection) -> list[Entry]:
            rows = db.execute(
                "SELECT id, at_ms, images, expires_ms FROM reservations "
                "WHERE member = ? AND at_ms >= ? ORDER BY at_ms, id",
                (key, since_ms),
            ).fetchall()
            return [
                Entry(rid, at_ms, count, expires is not None and expires > now_ms)
                for rid, at_ms, count, expires in rows
            ]

        return await self._lease.held.run(history)

    async def take_budget(
        self, entry_id: str, *, images: int, limit: int, window_ms: int, now_ms: int
    ) -> int | None:
        def take(db: sqlite3.Connection) -> int | None:
            paused = _paused_until(db)
            if paused > now_ms:
                return paused
            db.execute("DELETE FROM budget WHERE at_ms <= ?", (now_ms - window_ms,))
            (used,) = db.execute("SELECT coalesce(sum(images), 0) FROM budget").fetchone()
            if used + images <= limit:
                db.execute(
                    "INSERT INTO budget (id, at_ms, images) VALUES (?, ?, ?)",
                    (entry_id, now_ms, images),
                )
                return None
            # Only when it does not fit: the entries, to find when enough of them leave.
            entries = db.execute("SELECT at_ms, images FROM budget ORDER BY at_ms").fetchall()
            return fits_at(entries, need=used + images - limit, window_ms=window_ms)

        return await self._lease.held.transaction(take)

    async def pause_until(self, until_ms: int, *, now_ms: int) -> None:
        def pause(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO shared_state (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
                (_PAUSED_UNTIL, until_ms),
            )

        await self._lease.held.transaction(pause)

    async def paused_until(self, *, now_ms: int) -> int | None:
        paused = await self._lease.held.run(_paused_until)
        return paused if paused > now_ms else None


def _paused_until(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT value FROM shared_state WHERE name = ?", (_PAUSED_UNTIL,)).fetchone()
    return int(row[0]) if row else 0
