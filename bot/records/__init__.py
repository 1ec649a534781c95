"""Job records: each command's stage, kept where the quotas are, so a restart can finish it.

- base.py: the record, its stages, and the interface every backend implements.
- memory.py (`memory://`), sqlite.py (`sqlite:///...`, table `jobs`), redis.py (`redis://`).
- outbox.py: the images a member is still owed, as private files under the data folder.
- tracked.py: one running job's record, moved on by the service and the front.

Laid out like `bot.limits.store`: the backends import the interface, never this package, and
this package is the one place that picks a backend for a `STATE_URL`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.records.base import RETENTION_MS, JobRecord, RecordStore, Stage
from bot.records.memory import MemoryRecords
from bot.records.outbox import Outbox, OwedImage
from bot.records.sqlite import SqliteRecords
from bot.records.tracked import TrackedJob, now_ms
from bot.state import open_backend

if TYPE_CHECKING:
    from bot.records.redis import RedisRecords
    from bot.state.redis import RedisConnection


def open_records(url: str) -> RecordStore:
    """The job records for a `STATE_URL`; nothing is opened yet. ValueError if not usable."""
    return open_backend(url, memory=MemoryRecords, sqlite=SqliteRecords, redis=_redis_records)


def _redis_records(connection: RedisConnection) -> RecordStore:
    from bot.records.redis import RedisRecords  # `redis` is an optional extra

    return RedisRecords(connection)


def __getattr__(name: str) -> object:
    # Loaded only when asked for, as in bot.limits.store: `redis` is an optional extra.
    if name == "RedisRecords":
        from bot.records.redis import RedisRecords

        return RedisRecords
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "RETENTION_MS",
    "JobRecord",
    "MemoryRecords",
    "Outbox",
    "OwedImage",
    "RecordStore",
    "RedisRecords",
    "SqliteRecords",
    "Stage",
    "TrackedJob",
    "now_ms",
    "open_records",
]
