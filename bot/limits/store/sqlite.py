"""The SQLite store: the embedded default. Survives restarts; never blocks the event loop.

Every call runs as one function on a thread of its own (one connection, one thread), and calls
made while that thread is busy go over together when it is free: one hop between the event
loop and the thread for a whole burst of reservations, not one per statement. (A command's
deferral waits behind its member's reservation, and in a burst behind everyone's.) Each change
is still its own `BEGIN IMMEDIATE` transaction (check, then write), which takes SQLite's write
lock up front, so concurrent reservations, from this process or another one on the same file,
are serialised. WAL mode lets readers go on while one writes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bot.limits.store.base import (
    RETENTION_MS,
    Entry,
    ReserveOutcome,
    Store,
    WindowCheck,
    fits_at,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

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
_ANSWERS_PER_TURN = 16


class SqliteStore(Store):
    """Limit state in one SQLite file (created, with its folder, on first open)."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        self.path = Path(path)
        self._busy_timeout_ms = busy_timeout_ms
        self._db: sqlite3.Connection | None = None
        # One thread for the one connection: calls run one after the other, in order, so a
        # transaction never interleaves with another, and no lock is needed on this side.
        self._thread: ThreadPoolExecutor | None = None
        # Calls waiting for the thread, and whether a batch of them is on it now.
        self._waiting: list[tuple[_Call, asyncio.Future[Any]]] = []
        self._busy = False

    def __repr__(self) -> str:
        return f"SqliteStore({str(self.path)!r})"

    async def open(self) -> None:
        if self._db is not None:
            return
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-limits")
        loop = asyncio.get_running_loop()
        try:
            self._db = await loop.run_in_executor(thread, self._connect)
        except BaseException:
            thread.shutdown(wait=False)
            raise
        self._thread = thread
        log.info("Limit state is kept in %s", self.path)

    def _connect(self) -> sqlite3.Connection:
        if str(self.path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except BaseException:
            db.close()
            raise
        return db

    async def close(self) -> None:
        db, thread = self._db, self._thread
        if db is None or thread is None:
            return
        try:
            # After every call made before it.
            await self._run(lambda db: db.close())
        finally:
            self._db = self._thread = None
            thread.shutdown(wait=False)

    async def _run(self, call: Callable[[sqlite3.Connection], T]) -> T:
        """`call(connection)` on the store's thread, after every call made before it. A call
        whose caller was cancelled before it was handed to the thread never runs; one handed
        over runs to its end."""
        if self._db is None or self._thread is None:
            raise RuntimeError("the SQLite store is not open; use `async with` or open()")
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._waiting.append((call, future))
        if not self._busy:
            self._hand_over()
        return await future

    def _hand_over(self) -> None:
        """Give the thread every call waiting (on the event loop's thread)."""
        batch = [(call, future) for call, future in self._waiting if not future.cancelled()]
        self._waiting = []
        db, thread = self._db, self._thread
        if not batch or db is None or thread is None:
            self._busy = False
            return
        self._busy = True
        loop = asyncio.get_running_loop()
        futures = [future for _, future in batch]
        thread.submit(_run_batch, db, [call for call, _ in batch], loop, self._settle, futures)

    def _settle(self, futures: list[asyncio.Future[Any]], outcomes: list[_Outcome]) -> None:
        """Back on the event loop: a batch's answers, then the next batch. A few dozen answers
        per turn of the loop, so that hundreds of waiting commands do not all resume in one."""
        now = zip(futures[:_ANSWERS_PER_TURN], outcomes[:_ANSWERS_PER_TURN], strict=True)
        for future, (ok, value) in now:
            if future.cancelled():
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)
        if len(futures) > _ANSWERS_PER_TURN:
            rest = futures[_ANSWERS_PER_TURN:], outcomes[_ANSWERS_PER_TURN:]
            asyncio.get_running_loop().call_soon(self._settle, *rest)
            return
        self._busy = False
        if self._waiting:
            self._hand_over()

    async def _transaction(self, change: Callable[[sqlite3.Connection], T]) -> T:
        """`change(connection)` inside one BEGIN IMMEDIATE transaction, on the store's thread."""
        return await self._run(functools.partial(_in_transaction, change))

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

        return await self._transaction(reserve)

    async def commit(self, key: str, reservation_id: str, *, now_ms: int) -> bool:
        def commit(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "UPDATE reservations SET expires_ms = NULL "
                "WHERE id = ? AND member = ? AND expires_ms > ?",
                (reservation_id, key, now_ms),
            )
            return cursor.rowcount > 0

        return await self._transaction(commit)

    async def refund(self, key: str, reservation_id: str, *, now_ms: int) -> bool:
        def refund(db: sqlite3.Connection) -> bool:
            cursor = db.execute(
                "DELETE FROM reservations WHERE id = ? AND member = ? AND expires_ms > ?",
                (reservation_id, key, now_ms),
            )
            return cursor.rowcount > 0

        return await self._transaction(refund)

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

        return await self._run(history)

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

        return await self._transaction(take)

    async def pause_until(self, until_ms: int, *, now_ms: int) -> None:
        def pause(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT INTO shared_state (name, value) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET value = max(value, excluded.value)",
                (_PAUSED_UNTIL, until_ms),
            )

        await self._transaction(pause)

    async def paused_until(self, *, now_ms: int) -> int | None:
        paused = await self._run(_paused_until)
        return paused if paused > now_ms else None


_Call = Callable[[sqlite3.Connection], Any]
_Outcome = tuple[bool, Any]  # (True, result) or (False, the exception raised)


def _run_batch(
    db: sqlite3.Connection,
    calls: list[_Call],
    loop: asyncio.AbstractEventLoop,
    settle: Callable[[list[asyncio.Future[Any]], list[_Outcome]], None],
    futures: list[asyncio.Future[Any]],
) -> None:
    """On the store's thread: each call in order, then one wake-up of the event loop."""
    outcomes: list[_Outcome] = []
    for call in calls:
        try:
            outcomes.append((True, call(db)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
            outcomes.append((False, exc))
    try:
        loop.call_soon_threadsafe(settle, futures, outcomes)
    except RuntimeError:
        log.debug("The event loop closed before the store's answers reached it")


def _in_transaction(change: Callable[[sqlite3.Connection], T], db: sqlite3.Connection) -> T:
    db.execute("BEGIN IMMEDIATE")
    try:
        result = change(db)
        db.execute("COMMIT")
    except BaseException:
        # A transaction left open would break every later one.
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return result


def _paused_until(db: sqlite3.Connection) -> int:
    row = db.execute("SELECT value FROM shared_state WHERE name = ?", (_PAUSED_UNTIL,)).fetchone()
    return int(row[0]) if row else 0
