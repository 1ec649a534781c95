"""One running job's record, moved on as the job goes: what the service and the front call.

A stage that guards money is recorded before the step it names, and a failure to record it
stops the job (refunded, nothing sent): a crash must never find a job sent upstream that its
record calls unsent. Later stages are best effort: the images exist and are paid for, so a
record that could not be written is logged rather than allowed to lose them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from bot.records.base import JobRecord, RecordStore, Stage
from bot.records.outbox import Outbox, OwedImage
from bot.state import is_outage

log = logging.getLogger(__name__)


def now_ms(clock: Callable[[], float] = time.time) -> int:
    """The time as records keep it: epoch milliseconds."""
    return int(clock() * 1000)


@dataclass(frozen=True, slots=True)
class TrackedJob:
    """A job whose record lives in `records` and whose owed images live in `outbox`."""

    records: RecordStore
    outbox: Outbox
    first: JobRecord
    clock: Callable[[], float] = field(default=time.time, repr=False)

    @property
    def job_id(self) -> str:
        """The job's id (the interaction's)."""
        return self.first.job_id

    @classmethod
    async def begin(cls, records: RecordStore, outbox: Outbox, record: JobRecord) -> TrackedJob:
        """Store the job's first record (reserved); raises if it cannot be stored."""
        await records.put(record)
        return cls(records, outbox, record)

    async def deferred(self, message_id: int | None) -> None:
        """Discord made the "thinking" message: note its id, to edit it after a crash."""
        if message_id is not None:
            await self.records.put(replace(self.first, message_id=message_id))

    async def sending(self) -> None:
        """Before the request goes upstream: from here on it may be paid for. Raises when
        the record cannot be written, so that nothing is sent that a restart would refund."""
        await self.records.advance(self.job_id, Stage.SENT, now_ms=now_ms(self.clock))

    async def answered(self, images: Sequence[OwedImage], **details: Any) -> None:
        """The answer is in: keep its images in the outbox until they reach the member."""
        try:
            kept = await asyncio.to_thread(self.outbox.keep, self.job_id, images)
            await self.records.advance(
                self.job_id, Stage.ANSWERED, now_ms=now_ms(self.clock), images_owed=kept, **details
            )
        except Exception as exc:  # noqa: BLE001 (recording_failed logs it)
            recording_failed("the answer", self.job_id, exc)

    async def delivered(self) -> None:
        """Every image reached the member: nothing is owed."""
        await self.finish(Stage.DELIVERED, outcome="delivered")

    async def owed(self) -> int:
        """How many images the member is still owed because every route failed for them."""
        return await asyncio.to_thread(self.outbox.given_up, self.job_id)

    async def still_owed(self, owed: int, why: str) -> None:
        """Some images could not be posted: they wait in the outbox, and the record says so."""
        try:
            await self.records.advance(
                self.job_id,
                Stage.ANSWERED,
                now_ms=now_ms(self.clock),
                images_owed=owed,
                undelivered=why,
            )
        except Exception as exc:  # noqa: BLE001 (recording_failed logs it)
            recording_failed("the undelivered images", self.job_id, exc)

    async def finish(self, stage: Stage, **details: Any) -> None:
        """The job is over (`DELIVERED` or `RESOLVED`): its outbox folder goes too, after the
        record says so (a crash in between leaves spare files, never a record owing nothing)."""
        try:
            await self.records.advance(self.job_id, stage, now_ms=now_ms(self.clock), **details)
            await asyncio.to_thread(self.outbox.discard, self.job_id)
        except Exception as exc:  # noqa: BLE001 (recording_failed logs it)
            recording_failed("the end", self.job_id, exc)


def recording_failed(what: str, job_id: str, exc: Exception) -> None:
    """Log a record that could not be written: a warning while the state store is out of reach
    (an outage, told once per command elsewhere), else our failure with its traceback."""
    if is_outage(exc):
        log.warning(
            "could not record %s of job %s: the state store is out of reach (%s)",
            what,
            job_id,
            type(exc).__name__,
        )
    else:
        log.error("could not record %s of job %s", what, job_id, exc_info=exc)
