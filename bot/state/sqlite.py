"""One SQLite file: one connection on one thread of its own, shared by every store on the file.

Every call runs as one function on that thread, and calls made while the thread is busy go
over together when it is free: one hop between the event loop and the thread for a whole
burst of reservations, not one per statement (the benchmark's burst needs this; aiosqlite
hops once per statement). A change is still its own `BEGIN IMMEDIATE` transaction, which
takes SQLite's write lock up front, so changes from this process or another one on the same
file are serialised. WAL mode lets readers go on while one writes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import sqlite3
import weakref
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from bot.private import create_private_file
from bot.resource import OnShared, Shared
from bot.state.schema import in_transaction, migrate

log = logging.getLogger(__name__)

T = TypeVar("T")

_ANSWERS_PER_TURN = 16

_Call = Callable[[sqlite3.Connection], Any]
_Outcome = tuple[bool, Any]  # (True, result) or (False, the exception raised)


class SqliteDatabase(Shared):
    """One file's connection and thread, opened by its first user and closed by its last.

    Created, with any missing folder, on first open: the folders 0700 and the file 0600 (its
    -wal and -shm files take the file's mode), since it holds what members did.
    """

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 5000) -> None:
        super().__init__()
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
        return f"SqliteDatabase({str(self.path)!r})"

    @property
    def is_open(self) -> bool:
        """Whether the connection is open (some user has opened it and not closed it)."""
        return self._db is not None

    async def _connect(self) -> None:
        thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-state")
        try:
            db = await asyncio.get_running_loop().run_in_executor(thread, self._connect_here)
        except BaseException:
            thread.shutdown(wait=False)
            raise
        self._db, self._thread = db, thread
        log.info("State is kept in %s", self.path)

    def _connect_here(self) -> sqlite3.Connection:
        """On the file's thread: create the file, connect, apply the migrations."""
        if str(self.path) != ":memory:":
            create_private_file(self.path)
        db = sqlite3.connect(self.path, isolation_level=None)
        try:
            db.execute(f"PRAGMA busy_timeout = {int(self._busy_timeout_ms)}")
            db.execute("PRAGMA journal_mode = WAL")
            db.execute("PRAGMA synchronous = NORMAL")
            migrate(db, self.path)
        except BaseException:
            db.close()
            raise
        return db

    async def _disconnect(self) -> None:
        db, thread = self._db, self._thread
        if db is None or thread is None:
            return
        try:
            await self.run(lambda db: db.close())  # after every call made before it
        finally:
            self._db = self._thread = None
            thread.shutdown(wait=False)

    async def transaction(self, change: Callable[[sqlite3.Connection], T]) -> T:
        """`change(connection)` inside one BEGIN IMMEDIATE transaction, on the file's thread."""
        return await self.run(functools.partial(in_transaction, change))

    async def run(self, call: Callable[[sqlite3.Connection], T]) -> T:
        """`call(connection)` on the file's thread, after every call made before it. A call
        whose caller was cancelled before it was handed to the thread never runs; one handed
        over runs to its end."""
        if self._db is None or self._thread is None:
            raise RuntimeError(f"{self.path} is not open; use `async with` or open()")
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


class InSqliteFile(OnShared[SqliteDatabase]):
    """A store kept in a SQLite file, through the file's shared `SqliteDatabase`."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.path)!r})"

    @property
    def path(self) -> Path:
        """The SQLite file."""
        return self.connection.path


_shared: weakref.WeakValueDictionary[str, SqliteDatabase] = weakref.WeakValueDictionary()


def shared_sqlite(path: str | Path) -> SqliteDatabase:
    """This process's one `SqliteDatabase` for the file at `path` (made on first ask)."""
    key = str(Path(path).absolute())
    database = _shared.get(key)
    if database is None:
        database = _shared[key] = SqliteDatabase(path)
    return database


def _run_batch(
    db: sqlite3.Connection,
    calls: list[_Call],
    loop: asyncio.AbstractEventLoop,
    settle: Callable[[list[asyncio.Future[Any]], list[_Outcome]], None],
    futures: list[asyncio.Future[Any]],
) -> None:
    """On the file's thread: each call in order, then one wake-up of the event loop."""
    outcomes: list[_Outcome] = []
    for call in calls:
        try:
            outcomes.append((True, call(db)))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
            outcomes.append((False, exc))
    try:
        loop.call_soon_threadsafe(settle, futures, outcomes)
    except RuntimeError:
        log.debug("The event loop closed before the database's answers reached it")
