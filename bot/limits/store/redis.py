"""The Redis store: several bot processes or shards share one budget and one set of quotas.

Every check-and-write is one Lua script, which Redis runs atomically. A member's records are
a sorted set scored by time ("<id>:<images>" members) plus a hash of the pending ones; every
key carries an expiry (PEXPIRE), so nothing is left behind. Keys of one member share a hash
tag, and so do the global ones. Times come from the callers (hosts need synchronised clocks).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from redis.commands.core import AsyncScript

from bot.limits.store.base import (
    RETENTION_MS,
    Entry,
    ReserveOutcome,
    Store,
    Turn,
    WindowCheck,
)
from bot.resource import Lease, OnShared
from bot.state.redis import RedisConnection

log = logging.getLogger(__name__)

# Lua 5.1 numbers are doubles: epoch milliseconds (13 digits) stay exact and print as integers.
# A record is the sorted-set member "<id>:<images>"; this reads its number of images.
_COUNT_OF = """
local function count_of(member)
  return tonumber(string.match(member, ':(%d+)$'))
end
"""

_RESERVE = (
    _COUNT_OF
    + """
-- KEYS: used (zset), pending (hash). ARGV: now, images, id, expires, retention, n, then
-- n pairs of (window start, limit). Returns {admitted, used in window 1, ..., window n}.
local now, images, id = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local expires, retention, n = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - retention))
local since, used = now, {}
for i = 1, n do
  used[i] = 0
  since = math.min(since, tonumber(ARGV[5 + 2 * i]))
end
local rows = redis.call('ZRANGEBYSCORE', KEYS[1], since, '+inf', 'WITHSCORES')
for j = 1, #rows, 2 do
  local count, at = count_of(rows[j]), tonumber(rows[j + 1])
  for i = 1, n do
    if at >= tonumber(ARGV[5 + 2 * i]) then used[i] = used[i] + count end
  end
end
local admitted = 1
for i = 1, n do
  if used[i] + images > tonumber(ARGV[6 + 2 * i]) then admitted = 0 end
end
local pending = redis.call('HGETALL', KEYS[2])
for j = 1, #pending, 2 do
  if tonumber(string.match(pending[j + 1], '^(%d+):')) <= now then
    redis.call('HDEL', KEYS[2], pending[j])
  end
end
if admitted == 1 then
  redis.call('ZADD', KEYS[1], now, id .. ':' .. images)
  redis.call('HSET', KEYS[2], id, expires .. ':' .. images)
  redis.call('PEXPIRE', KEYS[1], retention)
  redis.call('PEXPIRE', KEYS[2], retention)
end
table.insert(used, 1, admitted)
return used
"""
)

_COMMIT = """
-- KEYS: used, pending. ARGV: id, now. Returns 1 if the reservation was pending.
local value = redis.call('HGET', KEYS[2], ARGV[1])
if not value then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
if tonumber(string.match(value, '^(%d+):')) <= tonumber(ARGV[2]) then return 0 end
return 1
"""

_REFUND = """
-- KEYS: used, pending. ARGV: id, now. Returns 1 if a pending reservation was deleted.
local value = redis.call('HGET', KEYS[2], ARGV[1])
if not value then return 0 end
redis.call('HDEL', KEYS[2], ARGV[1])
local expires, count = string.match(value, '^(%d+):(%d+)$')
if tonumber(expires) <= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1] .. ':' .. count)
return 1
"""

_HISTORY = """
-- KEYS: used, pending. ARGV: since. Returns {records with scores, pending hash}.
return {
  redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'WITHSCORES'),
  redis.call('HGETALL', KEYS[2]),
}
"""

_TAKE_BUDGET = (
    _COUNT_OF
    + """
-- KEYS: budget (zset), paused (string). ARGV: id, images, limit, window, now.
-- Returns 0 when taken, else the epoch ms at which to try again.
local images, limit = tonumber(ARGV[2]), tonumber(ARGV[3])
local window, now = tonumber(ARGV[4]), tonumber(ARGV[5])
local paused = tonumber(redis.call('GET', KEYS[2]) or '0')
if paused > now then return paused end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local rows = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local used = 0
for j = 1, #rows, 2 do used = used + count_of(rows[j]) end
if used + images <= limit then
  redis.call('ZADD', KEYS[1], now, ARGV[1] .. ':' .. images)
  redis.call('PEXPIRE', KEYS[1], 2 * window)
  return 0
end
local freed = 0
for j = 1, #rows, 2 do
  freed = freed + count_of(rows[j])
  if freed >= used + images - limit then return tonumber(rows[j + 1]) + window end
end
return now + window
"""
)

_PAUSE = """
-- KEYS: paused. ARGV: until, now. Keeps the later of the current and the new end.
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
local until_ms, now = tonumber(ARGV[1]), tonumber(ARGV[2])
if until_ms > current and until_ms > now then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', until_ms - now + 60000)
end
return 0
"""

_TAKE_TURN = """
-- KEYS: running (zset id -> lapses at), fronts (zset entry -> member's last served),
-- seen (zset entry -> dropped at), served (hash member -> n), counter.
-- ARGV: entry, id, member, limit, now, lease, seen. Returns 1 when the turn starts.
local entry, id, member = ARGV[1], ARGV[2], ARGV[3]
local limit, now = tonumber(ARGV[4]), tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
for _, gone in ipairs(redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now)) do
  redis.call('ZREM', KEYS[2], gone)
  redis.call('ZREM', KEYS[3], gone)
end
local served = tonumber(redis.call('HGET', KEYS[4], member) or '0')
redis.call('ZADD', KEYS[2], served, entry)
redis.call('ZADD', KEYS[3], now + tonumber(ARGV[7]), entry)
for i = 1, 5 do redis.call('PEXPIRE', KEYS[i], 86400000) end
if redis.call('ZCARD', KEYS[1]) >= limit then return 0 end
if redis.call('ZRANGE', KEYS[2], 0, 0)[1] ~= entry then return 0 end
redis.call('ZREM', KEYS[2], entry)
redis.call('ZREM', KEYS[3], entry)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[6]), id)
redis.call('HSET', KEYS[4], member, redis.call('INCR', KEYS[5]))
return 1
"""

_END_TURN = """
-- KEYS: running, fronts, seen. ARGV: id, entry.
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[2])
redis.call('ZREM', KEYS[3], ARGV[2])
return 0
"""

_SCRIPTS = {
    "take_turn": _TAKE_TURN,
    "end_turn": _END_TURN,
    "reserve": _RESERVE,
    "commit": _COMMIT,
    "refund": _REFUND,
    "history": _HISTORY,
    "take_budget": _TAKE_BUDGET,
    "pause": _PAUSE,
}


class RedisStore(OnShared[RedisConnection], Store):
    """Limit state in Redis (standalone server; keys under `prefix`), through the server's
    shared `RedisConnection` (whose timeouts fail a call rather than hang it)."""

    def __init__(self, redis: RedisConnection, *, prefix: str = "imagine-bot") -> None:
        self._lease = Lease(redis, "Redis store")
        self._prefix = prefix
        self._scripts: dict[str, AsyncScript] = {}

    def __repr__(self) -> str:
        return f"RedisStore(prefix={self._prefix!r})"

    async def open(self) -> None:
        if self._scripts:
            return
        await self._lease.open()
        client = self._lease.held.client
        self._scripts = {name: client.register_script(text) for name, text in _SCRIPTS.items()}
        log.info("Limit state is kept in Redis under the prefix %s", self._prefix)

    async def close(self) -> None:
        self._scripts = {}
        await self._lease.close()

    async def _run(self, script: str, keys: Sequence[str], args: Sequence[str | int]) -> Any:
        self._lease.held  # noqa: B018 - raises RuntimeError when this store is closed
        return await self._scripts[script](keys=keys, args=args)

    def _member_keys(self, key: str) -> list[str]:
        tag = "{" + key + "}"
        return [f"{self._prefix}:{tag}:used", f"{self._prefix}:{tag}:pending"]

    def _global_keys(self) -> list[str]:
        return [f"{self._prefix}:{{global}}:budget", f"{self._prefix}:{{global}}:paused"]

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
        args: list[str | int] = [now_ms, images, reservation_id, expires_ms, RETENTION_MS]
        args.append(len(checks))
        for check in checks:
            args += [check.start_ms, check.limit]
        result = await self._run("reserve", self._member_keys(key), args)
        return ReserveOutcome(bool(int(result[0])), tuple(int(u) for u in result[1:]))

    async def commit(self, key: str, reservation_id: str, *, now_ms: int) -> bool:
        result = await self._run("commit", self._member_keys(key), [reservation_id, now_ms])
        return bool(int(result))

    async def refund(self, key: str, reservation_id: str, *, now_ms: int) -> bool:
        result = await self._run("refund", self._member_keys(key), [reservation_id, now_ms])
        return bool(int(result))

    async def history(self, key: str, *, since_ms: int, now_ms: int) -> list[Entry]:
        rows, pending = await self._run("history", self._member_keys(key), [since_ms])
        expiry = {
            pending[i]: int(pending[i + 1].partition(":")[0]) for i in range(0, len(pending), 2)
        }
        entries = []
        for i in range(0, len(rows), 2):
            rid, _, count = rows[i].rpartition(":")
            expires = expiry.get(rid)
            pending_now = expires is not None and expires > now_ms
            entries.append(Entry(rid, int(float(rows[i + 1])), int(count), pending_now))
        return sorted(entries, key=lambda e: (e.at_ms, e.reservation_id))

    async def take_budget(
        self, entry_id: str, *, images: int, limit: int, window_ms: int, now_ms: int
    ) -> int | None:
        args: list[str | int] = [entry_id, images, limit, window_ms, now_ms]
        retry_at = int(await self._run("take_budget", self._global_keys(), args))
        return None if retry_at == 0 else retry_at

    async def pause_until(self, until_ms: int, *, now_ms: int) -> None:
        await self._run("pause", self._global_keys()[1:], [until_ms, now_ms])

    async def paused_until(self, *, now_ms: int) -> int | None:
        value = await self._lease.held.client.get(self._global_keys()[1])
        paused = int(value) if value else 0
        return paused if paused > now_ms else None

    shares_turns = True

    def _turn_keys(self) -> list[str]:
        names = ("running", "fronts", "seen", "served", "served-count")
        return [f"{self._prefix}:{{global}}:turns:{name}" for name in names]

    async def take_turn(self, turn: Turn, *, limit: int, now_ms: int) -> bool:
        args: list[str | int] = [turn.entry, turn.job_id, turn.member_key, limit, now_ms]
        args += [turn.lease_ms, turn.seen_ms]
        return bool(int(await self._run("take_turn", self._turn_keys(), args)))

    async def end_turn(self, turn: Turn) -> None:
        await self._run("end_turn", self._turn_keys()[:3], [turn.job_id, turn.entry])

    async def renew_turns(self, job_ids: Sequence[str], *, now_ms: int, lease_ms: int) -> None:
        if job_ids:
            running = self._turn_keys()[0]
            mapping = dict.fromkeys(job_ids, now_ms + lease_ms)
            await self._lease.held.client.zadd(running, mapping, xx=True)
