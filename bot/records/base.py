"""The interface of job records: what every backend does, and the record it keeps.

A job record follows one command from its reservation to its delivery, so that a restart can
finish what a crash interrupted (refund, charge, deliver, tidy the "thinking" message). Times
are epoch milliseconds passed in by the caller, as in `bot.limits.store`. Imports no backend.
"""

from __future__ import annotations

import json
import uuid
from abc import abstractmethod
from collections.abc import Mapping, Set
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import Any

from bot.resource import AsyncResource

# Records are kept this long after their last change, then dropped. A later issue (buttons
# after a restart) makes this a setting; recovery only needs a record until it is resolved.
RETENTION_MS = 30 * 86_400_000


class Stage(StrEnum):
    """How far a job got, in order. Only `DELIVERED` (and `RESOLVED`) need nothing more."""

    RESERVED = "reserved"  # quota held, nothing sent upstream: a crash here means refund
    SENT = "sent"  # the request went upstream: it may be paid for, whatever happens next
    ANSWERED = "answered"  # images are in hand: a crash here means deliver (the outbox)
    # Refunded or charged after a crash, but no route reached the member yet: they are told
    # at their next command (or by a later DM).
    SETTLED = "settled"
    DELIVERED = "delivered"  # the member has the images
    RESOLVED = "resolved"  # finished otherwise (refunded, charged and told, failed and told)

    @property
    def rank(self) -> int:
        """Position in the job's life: a stage never moves back."""
        return _RANKS[self]

    @property
    def finished(self) -> bool:
        """Whether nothing is left to do for a job at this stage."""
        return self in (Stage.DELIVERED, Stage.RESOLVED)


_RANKS = {stage: rank for rank, stage in enumerate(Stage)}


@dataclass(frozen=True, slots=True)
class JobRecord:
    """One job, as stored: who, where, what is held for it, and how far it got.

    `details` is free-form JSON that later features grow into (the prompt and options for
    buttons after a restart, the outbox's files) without a schema change.
    """

    job_id: str
    member_key: str
    command: str
    reservation_id: str
    images: int
    created_ms: int
    stage: Stage = Stage.RESERVED
    updated_ms: int = 0
    discord_id: int | None = None  # the member's Discord id, to tell them later
    guild_id: int | None = None
    channel_id: int | None = None
    interaction_id: int | None = None
    # The member's private "thinking" message: only the interaction's webhook reaches it.
    message_id: int | None = None
    # The interaction's token, the one key to that message for 15 minutes, so that a restart
    # can say there what happened. A secret (it posts as the bot): never in a repr or a log,
    # and dropped once the job is settled (`at`); the state store's files are private (0600).
    token: str | None = field(default=None, repr=False)
    details: Mapping[str, Any] = field(default_factory=dict)
    # The process running the job: "<who>/<run>" (see `RecordStore.owner`); "" before owners.
    owner: str = ""

    def to_json(self) -> str:
        """The record as one JSON document (how every backend stores it)."""
        document = asdict(self)
        document["details"] = dict(self.details)
        return json.dumps(document, separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> JobRecord:
        """A record read back; unknown keys (from a newer bot) are kept out, not guessed at."""
        document = json.loads(text)
        known = {name: document[name] for name in cls.__dataclass_fields__ if name in document}
        known["stage"] = Stage(known.get("stage", Stage.RESERVED))
        return cls(**known)

    def at(self, stage: Stage, *, now_ms: int, **details: Any) -> JobRecord:
        """This record moved on to `stage` (never back), with `details` merged in; from
        `SETTLED` on, without its token (nothing is left to say through it)."""
        if stage.rank < self.stage.rank:
            stage = self.stage
        token = self.token if stage.rank < Stage.SETTLED.rank else None
        merged = {**self.details, **details}
        return replace(self, stage=stage, updated_ms=now_ms, token=token, details=merged)


class RecordStore(AsyncResource):
    """Job records. Use as `async with open_records(url) as records:`, or `open()`/`close()`.

    `owner` names this process's run as "<who>/<run>": `who` is the same across restarts
    (its shards), `run` is new at each start. A job is resolved by another process only when
    its owner is gone: an earlier run of the same `who`, or (Redis) a run that stopped
    beating its heartbeat (a killed process).
    """

    owner = f"all/{uuid.uuid4().hex}"

    def claim(self, who: str) -> None:
        """Name this process's run `who` (stable across restarts, e.g. its shards)."""
        self.owner = f"{who}/{uuid.uuid4().hex}"

    async def gone(self, owners: Set[str]) -> set[str]:
        """Which of `owners` no longer run. With a store one process uses (memory, SQLite),
        every run but this one is an earlier run of this process."""
        return {owner for owner in owners if owner != self.owner}

    @abstractmethod
    async def put(self, record: JobRecord) -> None:
        """Store a new record (or replace one with the same id)."""

    @abstractmethod
    async def advance(
        self, job_id: str, stage: Stage, *, now_ms: int, **details: Any
    ) -> JobRecord | None:
        """Move a job on to `stage` (never back), merging `details`, atomically.

        Returns the record as stored, or None when there is no such job.
        """

    @abstractmethod
    async def get(self, job_id: str) -> JobRecord | None:
        """The record of one job, or None."""

    @abstractmethod
    async def unfinished(self, *, member_key: str | None = None) -> list[JobRecord]:
        """Every job not yet delivered or resolved (only `member_key`'s, if given), oldest
        first: what a restart resolves, and what a member may still be owed."""

    @abstractmethod
    async def prune(self, *, now_ms: int, retention_ms: int = RETENTION_MS) -> int:
        """Drop finished records last changed before `now_ms - retention_ms`; how many."""
