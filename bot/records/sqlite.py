"""Job records in the SQLite file the quotas use (table `jobs`, from migration 2).

The record is one JSON document; the columns beside it are what the queries select on. Each
change is its own transaction on the file's shared `SqliteDatabase`, so a record advanced by
this process and read by a restarted one never half-changes.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from bot.records.base import RETENTION_MS, JobRecord, RecordStore, Stage
from bot.resource import Lease
from bot.state.sqlite import InSqliteFile, SqliteDatabase

_FINISHED = tuple(stage.value for stage in Stage if stage.finished)


class SqliteRecords(InSqliteFile, RecordStore):
    """Job records in one SQLite file, through the file's shared `SqliteDatabase`."""

    def __init__(self, database: SqliteDatabase) -> None:
        self._lease = Lease(database, "SQLite job records")

    async def put(self, record: JobRecord) -> None:
        await self._lease.held.transaction(lambda db: _write(db, record))

    async def advance(
        self, job_id: str, stage: Stage, *, now_ms: int, **details: Any
    ) -> JobRecord | None:
        def advance(db: sqlite3.Connection) -> JobRecord | None:
            record = _read(db, job_id)
            if record is None:
                return None
            record = record.at(stage, now_ms=now_ms, **details)
            _write(db, record)
            return record

        return await self._lease.held.transaction(advance)

    async def get(self, job_id: str) -> JobRecord | None:
        return await self._lease.held.run(lambda db: _read(db, job_id))

    async def unfinished(self, *, member_key: str | None = None) -> list[JobRecord]:
        def unfinished(db: sqlite3.Connection) -> list[JobRecord]:
            query = "SELECT document FROM jobs WHERE stage NOT IN (?, ?)"
            args: tuple[str, ...] = _FINISHED
            if member_key is not None:
                query, args = query + " AND member = ?", (*args, member_key)
            rows = db.execute(query + " ORDER BY created_ms, id", args).fetchall()
            return [JobRecord.from_json(document) for (document,) in rows]

        return await self._lease.held.run(unfinished)

    async def prune(self, *, now_ms: int, retention_ms: int = RETENTION_MS) -> int:
        def prune(db: sqlite3.Connection) -> int:
            cursor = db.execute(
                "DELETE FROM jobs WHERE stage IN (?, ?) AND updated_ms < ?",
                (*_FINISHED, now_ms - retention_ms),
            )
            return cursor.rowcount

        return await self._lease.held.transaction(prune)


def _read(db: sqlite3.Connection, job_id: str) -> JobRecord | None:
    row = db.execute("SELECT document FROM jobs WHERE id = ?", (job_id,)).fetchone()
    return JobRecord.from_json(row[0]) if row else None


def _write(db: sqlite3.Connection, record: JobRecord) -> None:
    db.execute(
        "INSERT INTO jobs (id, member, stage, created_ms, updated_ms, document) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET stage = excluded.stage, "
        "updated_ms = excluded.updated_ms, document = excluded.document",
        (
            record.job_id,
            record.member_key,
            record.stage.value,
            record.created_ms,
            record.updated_ms,
            record.to_json(),
        ),
    )
