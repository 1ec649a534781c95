"""Job records in Redis, beside the quotas (several processes resolve each other's jobs).

All records share one hash tag: a hash of JSON documents by job id, a sorted set of the
unfinished ones by creation time (what a restart reads; one more per member), and one of the
finished ones by their last change (what pruning drops). A change is an optimistic
transaction (WATCH on the job's version key, bumped by every write of it, then MULTI), so two
processes advancing one job never lose either change, and other jobs never conflict with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Set
from typing import Any

from redis.asyncio.client import Pipeline

from bot.records.base import RETENTION_MS, JobRecord, RecordStore, Stage
from bot.resource import Lease, OnShared
from bot.state.redis import RedisConnection

log = logging.getLogger(__name__)

# Each process says it is alive every BEAT seconds; a run silent for ALIVE seconds is gone and
# its unfinished jobs are resolved by the others (or at once by its own restart).
BEAT = 5.0
ALIVE = 15.0


class RedisRecords(OnShared[RedisConnection], RecordStore):
    """Job records in Redis (keys under `prefix`), through the server's shared connection."""

    def __init__(self, redis: RedisConnection, *, prefix: str = "imagine-bot") -> None:
        self._lease = Lease(redis, "Redis job records")
        self._prefix = prefix
        tag = f"{prefix}:{{jobs}}"
        self._documents, self._open, self._done = f"{tag}:doc", f"{tag}:open", f"{tag}:done"
        self._alive = f"{tag}:alive"
        self._beating: asyncio.Task[None] | None = None

    async def open(self) -> None:
        await super().open()
        if self._beating is None:
            await self._beat()
            self._beating = asyncio.create_task(self._keep_beating(), name="records-heartbeat")

    async def close(self) -> None:
        beating, self._beating = self._beating, None
        if beating is not None:
            beating.cancel()
            await asyncio.gather(beating, return_exceptions=True)
            with contextlib.suppress(Exception):  # a clean stop: gone at once, not in ALIVE s
                await self._lease.held.client.delete(f"{self._alive}:{self.owner}")
        await super().close()

    async def _beat(self) -> None:
        await self._lease.held.client.set(f"{self._alive}:{self.owner}", "1", px=int(ALIVE * 1000))

    async def _keep_beating(self) -> None:
        while True:
            await asyncio.sleep(BEAT)
            try:
                await self._beat()
            except Exception as exc:  # noqa: BLE001 - Redis lost: the next beat tries again
                log.warning("could not renew this process's heartbeat (%s)", exc)

    async def gone(self, owners: Set[str]) -> set[str]:
        who = self.owner.partition("/")[0]
        others = sorted(o for o in owners if o and o != self.owner)
        if not others:
            return set(owners) - {self.owner}
        alive = await self._lease.held.client.mget([f"{self._alive}:{o}" for o in others])
        # An earlier run of this very process (same shards) is gone, whatever its heartbeat.
        found = {
            o for o, a in zip(others, alive, strict=True) if a is None or o.startswith(who + "/")
        }
        return found | ({""} & set(owners))

    def __repr__(self) -> str:
        return f"RedisRecords(prefix={self._prefix!r})"

    async def put(self, record: JobRecord) -> None:
        async with self._lease.held.client.pipeline(transaction=True) as pipe:
            self._queue_write(pipe, record)
            await pipe.execute()

    async def advance(
        self, job_id: str, stage: Stage, *, now_ms: int, **details: Any
    ) -> JobRecord | None:
        moved: list[JobRecord | None] = [None]

        async def advance(pipe: Pipeline) -> None:
            text = await pipe.hget(self._documents, job_id)
            if text is None:
                moved[0] = None
                return
            record = _read(text).at(stage, now_ms=now_ms, **details)
            pipe.multi()  # type: ignore[no-untyped-call]
            self._queue_write(pipe, record)
            moved[0] = record

        # WATCH the job's own version, not the hash of every document: concurrent jobs must
        # not conflict with each other (64 at once made ~40 jobs/s), only writes of this job.
        await self._lease.held.client.transaction(advance, self._version(job_id))
        return moved[0]

    def _member_open(self, member_key: str) -> str:
        return f"{self._open}:{member_key}"

    def _version(self, job_id: str) -> str:
        return f"{self._documents}:version:{job_id}"

    def _queue_write(self, pipe: Pipeline, record: JobRecord) -> None:
        pipe.hset(self._documents, record.job_id, record.to_json())
        version = self._version(record.job_id)
        pipe.incr(version)
        pipe.pexpire(version, RETENTION_MS)
        member_open = self._member_open(record.member_key)
        if record.stage.finished:
            pipe.zrem(self._open, record.job_id)
            pipe.zrem(member_open, record.job_id)
            pipe.zadd(self._done, {record.job_id: record.updated_ms})
        else:
            pipe.zadd(self._open, {record.job_id: record.created_ms})
            pipe.zadd(member_open, {record.job_id: record.created_ms})

    async def get(self, job_id: str) -> JobRecord | None:
        text = await self._lease.held.client.hget(self._documents, job_id)
        return None if text is None else _read(text)

    async def unfinished(self, *, member_key: str | None = None) -> list[JobRecord]:
        client = self._lease.held.client
        which = self._open if member_key is None else self._member_open(member_key)
        ids = [str(job_id) for job_id in await client.zrange(which, 0, -1)]
        if not ids:
            return []
        texts = await client.hmget(self._documents, ids)
        records = [_read(text) for text in texts if text is not None]
        return sorted(records, key=lambda r: (r.created_ms, r.job_id))

    async def prune(self, *, now_ms: int, retention_ms: int = RETENTION_MS) -> int:
        client = self._lease.held.client
        cutoff = now_ms - retention_ms
        old = await client.zrangebyscore(self._done, "-inf", f"({cutoff}")
        if not old:
            return 0
        async with client.pipeline(transaction=True) as pipe:
            pipe.hdel(self._documents, *old)
            pipe.zrem(self._done, *old)
            await pipe.execute()
        return len(old)


def _read(text: str | bytes) -> JobRecord:
    # The shared client decodes answers (decode_responses=True); bytes only to satisfy types.
    return JobRecord.from_json(text if isinstance(text, str) else text.decode())
