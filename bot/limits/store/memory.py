"""The in-memory store: one process, lost on restart. For tests and `STATE_URL=memory://`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bot.limits.store.base import (
    RETENTION_MS,
    Entry,
    ReserveOutcome,
    Store,
    WindowCheck,
    fits_at,
)


@dataclass(slots=True)
class _Record:
    at_ms: int
    images: int
    expires_ms: int | None  # None once committed

    def pending(self, now_ms: int) -> bool:
        return self.expires_ms is not None and self.expires_ms > now_ms


class MemoryStore(Store):
    """Dicts in this process. No method awaits anything, so each one is atomic on the loop."""

    def __init__(self) -> None:
        self._records: dict[str, dict[str, _Record]] = {}
        self._budget: dict[str, tuple[int, int]] = {}
        self._paused_until = 0
        self._reserves = 0

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

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
        self._reserves += 1
        # Members who never come back would keep their records: sweep everyone now and then.
        for name in list(self._records) if self._reserves % 256 == 0 else [key]:
            self._drop_old(name, now_ms)
        records = self._records.setdefault(key, {})
        used = tuple(
            sum(r.images for r in records.values() if r.at_ms >= check.start_ms) for check in checks
        )
        admitted = all(u + images <= c.limit for u, c in zip(used, checks, strict=True))
        if admitted:
            records[reservation_id] = _Record(now_ms, images, expires_ms)
        return ReserveOutcome(admitted, used)

    def _drop_old(self, key: str, now_ms: int) -> None:
        records = self._records.get(key, {})
        for rid in [rid for rid, r in records.items() if r.at_ms < now_ms - RETENTION_MS]:
            del records[rid]
        if not records:
            self._records.pop(key, None)

    async def commit(self, key: str, reservation_id: str, *, now_ms: int) -> bool:
        record = self._records.get(key, {}).get(reservation_id)
        if record is None or not record.pending(now_ms):
            return False
        record.expires_ms = None
        return True

    async def refund(self, key: str, reservation_id: str, *, now_ms: int) -> bool:
        records = self._records.get(key, {})
        record = records.get(reservation_id)
        if record is None or not record.pending(now_ms):
            return False
        del records[reservation_id]
        return True

    async def history(self, key: str, *, since_ms: int, now_ms: int) -> list[Entry]:
        records = self._records.get(key, {})
        entries = [
            Entry(rid, r.at_ms, r.images, r.pending(now_ms))
            for rid, r in records.items()
            if r.at_ms >= since_ms
        ]
        return sorted(entries, key=lambda e: (e.at_ms, e.reservation_id))

    async def take_budget(
        self, entry_id: str, *, images: int, limit: int, window_ms: int, now_ms: int
    ) -> int | None:
        if self._paused_until > now_ms:
            return self._paused_until
        start = now_ms - window_ms
        for eid in [eid for eid, (at, _) in self._budget.items() if at <= start]:
            del self._budget[eid]
        entries = sorted(self._budget.values())
        used = sum(count for _, count in entries)
        if used + images <= limit:
            self._budget[entry_id] = (now_ms, images)
            return None
        return fits_at(entries, need=used + images - limit, window_ms=window_ms)

    async def pause_until(self, until_ms: int, *, now_ms: int) -> None:
        self._paused_until = max(self._paused_until, until_ms)

    async def paused_until(self, *, now_ms: int) -> int | None:
        return self._paused_until if self._paused_until > now_ms else None
