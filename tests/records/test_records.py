"""Job records: one contract for every backend (a real redis-server included), the migration."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.records import (
    JobRecord,
    MemoryRecords,
    RecordStore,
    RedisRecords,
    SqliteRecords,
    Stage,
    open_records,
)
from bot.state import RedisConnection, SqliteDatabase
from bot.state.schema import MIGRATIONS

DAY_MS = 86_400_000


@pytest.fixture(params=["memory", "sqlite", "redis"])
async def records(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[RecordStore]:
    store: RecordStore
    if request.param == "memory":
        store = MemoryRecords()
    elif request.param == "sqlite":
        store = SqliteRecords(SqliteDatabase(tmp_path / "bot.db"))
    else:
        url = request.getfixturevalue("redis_url")
        store = RedisRecords(RedisConnection(url), prefix=f"test-{uuid.uuid4().hex}")
    async with store:
        yield store


def job(job_id: str = "job-1", *, created_ms: int = 1_000, **fields: object) -> JobRecord:
    values: dict[str, object] = {
        "member_key": "u-a",
        "command": "imagine",
        "reservation_id": f"res-{job_id}",
        "images": 4,
        "discord_id": 42,
        "guild_id": 7,
        "channel_id": 8,
        "interaction_id": 9,
        "message_id": 10,
        **fields,
    }
    return JobRecord(job_id, created_ms=created_ms, updated_ms=created_ms, **values)  # type: ignore[arg-type]


async def test_a_record_reads_back_as_it_was_put(records: RecordStore) -> None:
    record = job(details={"prompt": "a red fox", "options": {"size": "1024x1024"}})
    await records.put(record)
    assert await records.get("job-1") == record
    assert await records.get("job-unknown") is None


async def test_stages_move_forward_only_and_keep_details(records: RecordStore) -> None:
    await records.put(job())
    sent = await records.advance("job-1", Stage.SENT, now_ms=2_000, request="a")
    assert sent is not None
    assert (sent.stage, sent.updated_ms, dict(sent.details)) == (
        Stage.SENT,
        2_000,
        {"request": "a"},
    )
    answered = await records.advance("job-1", Stage.ANSWERED, now_ms=3_000, files=["1.png"])
    assert answered is not None
    assert answered.details == {"request": "a", "files": ["1.png"]}
    # A late "sent" (a retry's bookkeeping) never moves a job back.
    back = await records.advance("job-1", Stage.SENT, now_ms=4_000)
    assert back is not None
    assert back.stage is Stage.ANSWERED
    assert await records.get("job-1") == back
    assert await records.advance("job-unknown", Stage.SENT, now_ms=0) is None


async def test_unfinished_jobs_are_what_a_restart_resolves(records: RecordStore) -> None:
    await records.put(job("job-b", created_ms=2_000))
    await records.put(job("job-a", created_ms=1_000))
    await records.put(job("job-c", created_ms=3_000))
    await records.advance("job-b", Stage.SENT, now_ms=4_000)
    await records.advance("job-c", Stage.DELIVERED, now_ms=4_000)
    unfinished = await records.unfinished()
    assert [(r.job_id, r.stage) for r in unfinished] == [
        ("job-a", Stage.RESERVED),
        ("job-b", Stage.SENT),
    ]
    await records.advance("job-a", Stage.RESOLVED, now_ms=5_000, outcome="refunded")
    assert [r.job_id for r in await records.unfinished()] == ["job-b"]


async def test_finished_records_are_pruned_after_retention(records: RecordStore) -> None:
    await records.put(job("job-old"))
    await records.put(job("job-open"))
    await records.put(job("job-new"))
    await records.advance("job-old", Stage.DELIVERED, now_ms=1_000)
    await records.advance("job-new", Stage.DELIVERED, now_ms=20 * DAY_MS)
    assert await records.prune(now_ms=31 * DAY_MS) == 1
    assert await records.get("job-old") is None
    assert await records.get("job-new") is not None
    # An unfinished job is never pruned, however old: a restart still has to resolve it.
    assert await records.get("job-open") is not None


async def test_records_survive_a_restart_on_the_same_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/data/bot.db"
    async with open_records(url) as records:
        await records.put(job())
        await records.advance("job-1", Stage.SENT, now_ms=2_000)
    async with open_records(url) as records:
        [record] = await records.unfinished()
        assert (record.job_id, record.stage, record.message_id) == ("job-1", Stage.SENT, 10)


def test_urls_choose_the_backend() -> None:
    assert isinstance(open_records("memory://"), MemoryRecords)
    assert isinstance(open_records("sqlite:///data/bot.db"), SqliteRecords)
    assert isinstance(open_records("redis://localhost:6379/0"), RedisRecords)
    with pytest.raises(ValueError, match="STATE_URL"):
        open_records("postgres://db/bot")


async def test_a_version_1_file_gains_the_jobs_table_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    with sqlite3.connect(path) as db:  # as the bot before job records left it
        for statement in MIGRATIONS[0]:
            db.execute(statement)
        db.execute("INSERT INTO reservations VALUES ('r1', 'u-a', 5, 2, NULL)")
        db.execute("PRAGMA user_version = 1")
    db.close()
    async with SqliteRecords(SqliteDatabase(path)) as records:
        await records.put(job())
        assert [r.job_id for r in await records.unfinished()] == ["job-1"]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone() == (2,)
        assert db.execute("SELECT id FROM reservations").fetchall() == [("r1",)]
    db.close()


def test_a_record_from_a_newer_bot_keeps_what_this_one_knows() -> None:
    text = job().to_json().replace('"command"', '"shard":3,"command"')
    assert JobRecord.from_json(text) == job()


SECRET = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5"


def test_the_interaction_token_is_kept_out_of_every_repr() -> None:
    # A secret (it posts as the bot for 15 min): kept only so that a restart can reach the
    # member's private "thinking" message, never shown.
    record = job(token=SECRET)
    assert SECRET not in repr(record)
    assert SECRET not in repr(record.at(Stage.SENT, now_ms=2_000))
    assert JobRecord.from_json(record.to_json()).token == SECRET


async def test_the_token_lives_only_until_the_job_is_settled(records: RecordStore) -> None:
    await records.put(job(token=SECRET))
    sent = await records.advance("job-1", Stage.SENT, now_ms=2_000)
    assert sent is not None
    assert sent.token == SECRET
    for stage in (Stage.SETTLED, Stage.DELIVERED, Stage.RESOLVED):
        await records.put(job(stage.value, token=SECRET))
        moved = await records.advance(stage.value, stage, now_ms=3_000)
        assert moved is not None
        assert moved.token is None
        stored = await records.get(stage.value)
        assert stored is not None
        assert (stored.token, SECRET in stored.to_json()) == (None, False)


async def test_a_settled_job_is_still_unfinished(records: RecordStore) -> None:
    # Refunded or charged, but the member not told yet: offered at their next command.
    await records.put(job())
    await records.advance("job-1", Stage.SETTLED, now_ms=2_000, notice="refunded")
    [record] = await records.unfinished(member_key="u-a")
    assert (record.stage, record.details["notice"]) == (Stage.SETTLED, "refunded")
    back = await records.advance("job-1", Stage.ANSWERED, now_ms=3_000)
    assert back is not None
    assert back.stage is Stage.SETTLED


async def test_a_members_unfinished_jobs(records: RecordStore) -> None:
    await records.put(job("job-a"))
    await records.put(job("job-b", member_key="u-b"))
    await records.put(job("job-c", created_ms=2_000))
    await records.advance("job-c", Stage.DELIVERED, now_ms=3_000)
    assert [r.job_id for r in await records.unfinished(member_key="u-a")] == ["job-a"]
    assert [r.job_id for r in await records.unfinished(member_key="u-b")] == ["job-b"]
    assert await records.unfinished(member_key="u-nobody") == []


async def test_on_redis_a_job_is_left_to_its_owner_while_it_beats(redis_url: str) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    first = RedisRecords(RedisConnection(redis_url), prefix=prefix)
    peer = RedisRecords(RedisConnection(redis_url), prefix=prefix)
    restart = RedisRecords(RedisConnection(redis_url), prefix=prefix)
    first.claim("shards-0")
    peer.claim("shards-1")
    restart.claim("shards-0")
    await first.open()
    async with peer, restart:
        assert await peer.gone({first.owner, peer.owner}) == set()
        # The same shards started again: the earlier run is gone, heartbeat or not.
        assert await restart.gone({first.owner}) == {first.owner}
        # Records from before owners were kept are anyone's to resolve.
        assert await peer.gone({""}) == {""}
        await first.close()  # a clean stop takes its heartbeat with it
        assert await peer.gone({first.owner}) == {first.owner}
