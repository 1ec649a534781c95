"""Per-member quotas: reserve images before the API call, commit on success, refund on failure.

A reservation counts against the member's windows from the moment it is made, so concurrent
requests can never over-admit. If it is never settled (the process died), it stays counted as
used and simply ages out of the windows like any other image: the API may well have been paid
for it, and a crash must not hand out free images. After `expires_at` it can no longer be
refunded; until then `refund` gives the images back in full.

The expiry changes nothing about what is admitted (pending or not, a reservation counts), so it
defaults to a day: longer than any job can live, queue waits and retries included, so that a
job that fails late is still refunded. Only /quota's "in progress" is affected by it, for the
reservations a crash left behind.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.limits.errors import LimitReached, RequestTooLarge
from bot.limits.policy import DAY_SECONDS, Exempt, LimitPolicy, Policy, Window
from bot.limits.store import Entry, Store, WindowCheck, fits_at
from bot.limits.timing import DAY_MS, Clock, to_ms, utc_day_start_ms

log = logging.getLogger(__name__)

ReservationState = Literal["pending", "committed", "refunded"]


class Reservation:
    """Images held for one request. Settle it once: `commit()` on success, `refund()` otherwise.

    As an async context manager it commits when the block ends normally and refunds when it
    raises or is cancelled. Commit as soon as the API call succeeded if later steps may fail.
    """

    __slots__ = (
        "_clock",
        "_state",
        "_store",
        "created_at",
        "expires_at",
        "id",
        "images",
        "member_key",
    )

    def __init__(
        self,
        *,
        store: Store | None,
        member_key: str,
        reservation_id: str,
        images: int,
        created_at: float,
        expires_at: float | None,
        clock: Clock,
    ) -> None:
        self._store = store
        self._clock = clock
        self._state: ReservationState = "pending"
        self.member_key = member_key
        self.id = reservation_id
        self.images = images
        self.created_at = created_at
        self.expires_at = expires_at

    def __repr__(self) -> str:
        return (
            f"Reservation(id={self.id!r}, images={self.images}, state={self._state!r}, "
            f"exempt={self.exempt})"
        )

    @property
    def state(self) -> ReservationState:
        return self._state

    @property
    def exempt(self) -> bool:
        """True for an exempt member: nothing is stored, commit and refund only change state."""
        return self._store is None

    async def commit(self) -> None:
        """Count the images as used. Idempotent; does nothing after a refund. Never raises:
        a reservation that could not be committed counts as used anyway."""
        if self._state != "pending":
            return
        self._state = "committed"
        if self._store is None:
            return
        try:
            settled = await self._store.commit(
                self.member_key, self.id, now_ms=to_ms(self._clock())
            )
        except Exception:
            log.warning(
                "Could not commit reservation %s; it counts as used", self.id, exc_info=True
            )
            return
        if not settled:
            log.info("Reservation %s had expired before its commit; it counted as used", self.id)

    async def refund(self) -> bool:
        """Give the images back; True if they were. Idempotent; does nothing after a commit."""
        if self._state != "pending":
            return False
        self._state = "refunded"
        if self._store is None:
            return True
        try:
            refunded = await self._store.refund(
                self.member_key, self.id, now_ms=to_ms(self._clock())
            )
        except BaseException:
            self._state = "pending"
            raise
        if not refunded:
            log.warning(
                "Reservation %s had expired before its refund; its %d images stay counted",
                self.id,
                self.images,
            )
        return refunded

    async def __aenter__(self) -> Reservation:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # Leaving without an exception commits; any exception (cancellation included) refunds.
        if exc_info[1] is None:
            await self.commit()
            return
        try:
            # Shielded: a second cancellation (e.g. at shutdown) must not stop the refund.
            await asyncio.shield(self.refund())
        except Exception:
            log.exception("Could not refund reservation %s", self.id)


@dataclass(frozen=True, slots=True)
class WindowUsage:
    """One window of a member's quota, as `/quota` shows it.

    `used` includes `pending` images (requests still in progress). `resets_at` (epoch seconds)
    is when the oldest counted image leaves a rolling window, or the next 00:00 UTC for the
    daily cap; None when nothing is used.
    """

    window: Window
    window_seconds: int
    used: int
    limit: int
    pending: int
    resets_at: float | None

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


@dataclass(frozen=True, slots=True)
class Usage:
    """A member's quota right now: one `WindowUsage` per window, none when exempt."""

    exempt: bool
    windows: tuple[WindowUsage, ...]

    @property
    def remaining(self) -> int | None:
        """Images the member can still ask for at once; None when exempt (no limit)."""
        if self.exempt:
            return None
        return min(window.remaining for window in self.windows)

    def window(self, which: Window) -> WindowUsage:
        """The usage of one window (ValueError if the member has no such window)."""
        for window in self.windows:
            if window.window is which:
                return window
        raise ValueError(f"no {which} window in this usage")


@dataclass(frozen=True, slots=True)
class _Span:
    """A window of a policy, placed at one moment."""

    window: Window
    seconds: int
    limit: int
    start_ms: int


def _spans(policy: LimitPolicy, now_ms: int) -> tuple[_Span, _Span]:
    # A rolling window holds the records of the last `window_seconds`: one made at t counts
    # while now < t + window, so it is inside when t >= now - window + 1 ms.
    rolling_start = now_ms - policy.window_seconds * 1000 + 1
    return (
        _Span(Window.ROLLING, policy.window_seconds, policy.window_images, rolling_start),
        _Span(Window.DAILY, DAY_SECONDS, policy.daily_images, utc_day_start_ms(now_ms)),
    )


class MemberQuotas:
    """Reserves images against a member's policy, in the shared store."""

    def __init__(
        self, store: Store, *, reservation_ttl: float = DAY_SECONDS, clock: Clock = time.time
    ) -> None:
        if reservation_ttl <= 0:
            raise ValueError("reservation_ttl must be above 0 seconds")
        self._store = store
        self._ttl_ms = to_ms(reservation_ttl)
        self._clock = clock

    async def reserve(self, member_key: str, *, images: int, policy: Policy) -> Reservation:
        """Hold `images` for the member, or raise `LimitReached` / `RequestTooLarge`."""
        if images < 1:
            raise ValueError("images must be 1 or more")
        now = self._clock()
        now_ms = to_ms(now)
        reservation_id = uuid.uuid4().hex
        if isinstance(policy, Exempt):
            return Reservation(
                store=None,
                member_key=member_key,
                reservation_id=reservation_id,
                images=images,
                created_at=now,
                expires_at=None,
                clock=self._clock,
            )
        spans = _spans(policy, now_ms)
        too_small = [span for span in spans if images > span.limit]
        if too_small:
            span = min(too_small, key=lambda s: s.limit)
            raise RequestTooLarge(
                window=span.window, window_seconds=span.seconds, requested=images, limit=span.limit
            )
        expires_ms = now_ms + self._ttl_ms
        try:
            outcome = await self._store.reserve(
                member_key,
                reservation_id,
                images=images,
                checks=[WindowCheck(span.start_ms, span.limit) for span in spans],
                now_ms=now_ms,
                expires_ms=expires_ms,
            )
        except asyncio.CancelledError:
            # The store may have written it before the cancellation arrived: undo that, so a
            # cancelled request costs nothing.
            await self._undo(member_key, reservation_id)
            raise
        if not outcome.admitted:
            raise await self._refusal(member_key, images, spans, outcome.used, now_ms)
        return Reservation(
            store=self._store,
            member_key=member_key,
            reservation_id=reservation_id,
            images=images,
            created_at=now,
            expires_at=expires_ms / 1000,
            clock=self._clock,
        )

    async def usage(self, member_key: str, policy: Policy) -> Usage:
        """The member's use of each window now."""
        if isinstance(policy, Exempt):
            return Usage(exempt=True, windows=())
        now_ms = to_ms(self._clock())
        spans = _spans(policy, now_ms)
        entries = await self._store.history(
            member_key, since_ms=min(span.start_ms for span in spans), now_ms=now_ms
        )
        windows = []
        for span in spans:
            counted = [entry for entry in entries if entry.at_ms >= span.start_ms]
            resets_ms: int | None = None
            if counted and span.window is Window.DAILY:
                resets_ms = utc_day_start_ms(now_ms) + DAY_MS
            elif counted:
                resets_ms = counted[0].at_ms + span.seconds * 1000
            windows.append(
                WindowUsage(
                    window=span.window,
                    window_seconds=span.seconds,
                    used=sum(entry.images for entry in counted),
                    limit=span.limit,
                    pending=sum(entry.images for entry in counted if entry.pending),
                    resets_at=None if resets_ms is None else resets_ms / 1000,
                )
            )
        return Usage(exempt=False, windows=tuple(windows))

    async def _refusal(
        self,
        member_key: str,
        requested: int,
        spans: Sequence[_Span],
        used: Sequence[int],
        now_ms: int,
    ) -> LimitReached:
        entries = await self._store.history(
            member_key, since_ms=min(span.start_ms for span in spans), now_ms=now_ms
        )
        refusals = []
        for span, in_use in zip(spans, used, strict=True):
            if in_use + requested <= span.limit:
                continue
            resets_ms = _fits_at(span, entries, need=in_use + requested - span.limit, now_ms=now_ms)
            refusals.append((max(0, span.limit - in_use), resets_ms, span, in_use))
        # The request fits only once every window that refused it has room. Name the window with
        # the least room left: "ask for k or fewer" must hold in every window, not just one.
        # Among equally full windows, name the one that frees last.
        fits_ms = max(resets_ms for _, resets_ms, _, _ in refusals)
        _, _, span, in_use = min(refusals, key=lambda refusal: (refusal[0], -refusal[1]))
        return LimitReached(
            window=span.window,
            window_seconds=span.seconds,
            used=in_use,
            limit=span.limit,
            requested=requested,
            resets_at=fits_ms / 1000,
        )

    async def _undo(self, member_key: str, reservation_id: str) -> None:
        try:
            await asyncio.shield(
                self._store.refund(member_key, reservation_id, now_ms=to_ms(self._clock()))
            )
        except Exception:
            log.exception("Could not undo the cancelled reservation %s", reservation_id)


def _fits_at(span: _Span, entries: Sequence[Entry], *, need: int, now_ms: int) -> int:
    """When `need` images will have left this window."""
    if span.window is Window.DAILY:
        return utc_day_start_ms(now_ms) + DAY_MS
    counted = [(entry.at_ms, entry.images) for entry in entries if entry.at_ms >= span.start_ms]
    try:
        return fits_at(counted, need=need, window_ms=span.seconds * 1000)
    except ValueError:
        # The records changed since the check (a refund in between): a full window is safe.
        return now_ms + span.seconds * 1000
