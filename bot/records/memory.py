"""Job records in this process only (tests, and `memory://`): lost on restart, like the quotas."""

from __future__ import annotations

from typing import Any

from bot.records.base import RETENTION_MS, JobRecord, RecordStore, Stage


class MemoryRecords(RecordStore):
    """Job records in a dict. Each method runs without awaiting, so each is atomic."""

    def __init__(self) -> None:
        self._records: dict[str, JobRecord] = {}

    def __repr__(self) -> str:
        return "MemoryRecords()"

    async def open(self) -> None:
        pass

    async def close(self) -> None:
        pass

    async def put(self, record: JobRecord) -> None:
        self._records[record.job_id] = record

    async def advance(
        self, job_id: str, stage: Stage, *, now_ms: int, **details: Any
    ) -> JobRecord | None:
        record = self._records.get(job_id)
        if record is None:
            return None
        record = self._records[job_id] = record.at(stage, now_ms=now_ms, **details)
        return record

    async def get(self, job_id: str) -> JobRecord | None:
        return self._records.get(job_id)

    async def unfinished(self, *, member_key: str | None = None) -> list[JobRecord]:
        waiting = [
            r
            for r in self._records.values()
            if not r.stage.finished and member_key in (None, r.member_key)
        ]
        return sorted(waiting, key=lambda r: (r.created_ms, r.job_id))

    async def prune(self, *, now_ms: int, retention_ms: int = RETENTION_MS) -> int:
        old = [
            job_id
            for job_id, r in self._records.items()
            if r.stage.finished and r.updated_ms < now_ms - retention_ms
        ]
        for job_id in old:
            del self._records[job_id]
        return len(old)
