"""Withdrawing a job from the fair queue before its turn (a member's Cancel)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Protocol


class Waiting(Protocol):
    """A job in the queue, as a withdrawal sees it."""

    @property
    def admitting(self) -> bool: ...

    @property
    def wakeup(self) -> asyncio.Event: ...


class Withdrawn(Exception):
    """The job was withdrawn (`Withdrawal.withdraw`) before its turn; `by` is who asked."""

    def __init__(self, by: object) -> None:
        super().__init__("withdrawn before its turn")
        self.by = by


class Withdrawal:
    """A job's way out of the line, for as long as it has not started (a member's Cancel).

    Handed to `FairQueue.turn`; `withdraw` may come before the job reaches the queue, while it
    waits (it leaves at once and its `turn` raises `Withdrawn`), or too late, once it started.
    """

    __slots__ = ("_job", "by", "started", "withdrawn")

    def __init__(self) -> None:
        self._job: Waiting | None = None
        self.withdrawn = False
        self.started = False
        self.by: object = None

    def attach(self, job: Waiting) -> None:
        """The queue's entry for the job, once it joined the line."""
        self._job = job

    def withdraw(self, by: object = None) -> bool:
        """Take the job out of line; False when it is too late (its turn has begun)."""
        job = self._job
        if self.started or (job is not None and job.admitting):
            return False
        if not self.withdrawn:
            self.withdrawn, self.by = True, by
        if job is not None:
            job.wakeup.set()
        return True


@dataclass(frozen=True, slots=True)
class WaitingJob:
    """A job in line as a moderator's list sees it (`FairQueue.waiting_jobs`): a copy, data only."""

    place: int  # 1 = next
    member: str
    images: int
    withdrawal: Withdrawal | None  # its way out (a Cancel), when the job was given one
