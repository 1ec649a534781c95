"""The interface of the server settings store, and what every backend shares: the cache.

Each server's settings are one versioned JSON document (`ServerSettings.to_json`); a server
that saved nothing has no document. Every change is an atomic read-modify-write, so two admins
changing settings at once never lose each other's change.

Settings are read on every command, so `get` answers from a small in-process cache for
`cache_ttl` seconds (5 by default). This process's own changes update the cache at once;
another process sharing the SQLite file sees them within `cache_ttl`, and one sharing Redis at
once (its changes are announced: `bot.moderation.store.redis`). Member blocks
are compared with the caller's clock at check time, so a block still ends on time.
"""

from __future__ import annotations

import asyncio
import functools
import time
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import Callable

from bot.moderation.errors import CorruptSettings
from bot.moderation.settings import ServerSettings
from bot.resource import AsyncResource

DEFAULT_CACHE_TTL = 5.0
CACHE_MAX_SERVERS = 10_000

Change = Callable[[ServerSettings], ServerSettings]
RawChange = Callable[[str | None], str | None]


class ServerSettingsStore(AsyncResource):
    """Every server's settings. Use as `async with open_server_settings(url) as store:`."""

    def __init__(
        self,
        *,
        cache_ttl: float = DEFAULT_CACHE_TTL,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cache_ttl = cache_ttl
        self._monotonic = monotonic
        self._cache: OrderedDict[int, tuple[float, ServerSettings]] = OrderedDict()
        # Bumped by every write of this process: a read that started before a write must not
        # put what it read into the cache afterwards.
        self._writes = 0
        # Reads in progress, with the write count they began at: a burst shares one.
        self._reads: dict[int, tuple[int, asyncio.Future[ServerSettings]]] = {}

    @abstractmethod
    async def _read(self, guild_id: int) -> str | None:
        """The stored document of a server, or None."""

    @abstractmethod
    async def _modify(self, guild_id: int, change: RawChange) -> None:
        """Replace the stored document with `change(document)` atomically (None deletes it).

        `change` may run more than once (optimistic backends retry on conflict).
        """

    async def get(self, guild_id: int) -> ServerSettings:
        """The server's settings (the defaults when it saved none), from the cache if fresh.

        When the cache runs out in the middle of a burst, the commands share one read of the
        server's settings instead of each reading the database ahead of its deferral; a read
        that began before one of this process's writes is not shared after it.
        """
        now = self._monotonic()
        cached = self._cache.get(guild_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        reading = self._reads.get(guild_id)
        if reading is None or reading[0] != self._writes:
            future = asyncio.ensure_future(self._read_and_remember(guild_id))
            reading = (self._writes, future)
            self._reads[guild_id] = reading
            future.add_done_callback(functools.partial(self._read_done, guild_id, reading))
        # Shielded: one caller's cancellation must not cancel the read for the others.
        return await asyncio.shield(reading[1])

    async def _read_and_remember(self, guild_id: int) -> ServerSettings:
        writes = self._writes
        settings = _decode(guild_id, await self._read(guild_id))
        if writes == self._writes:
            self._remember(guild_id, settings)
        return settings

    def _read_done(
        self,
        guild_id: int,
        reading: tuple[int, asyncio.Future[ServerSettings]],
        done: asyncio.Future[ServerSettings],
    ) -> None:
        if self._reads.get(guild_id) is reading:
            del self._reads[guild_id]
        if not done.cancelled():
            done.exception()  # seen, even if every caller had left meanwhile

    async def update(self, guild_id: int, change: Change) -> ServerSettings:
        """Apply `change` to the current settings atomically and return the result.

        `change` must be pure (it may run more than once); an exception from it (such as
        `InvalidSetting`) leaves the settings as they were.
        """
        result: ServerSettings | None = None

        def apply(raw: str | None) -> str | None:
            nonlocal result
            result = change(_decode(guild_id, raw))
            if result.guild_id != guild_id:
                raise ValueError("a change must keep the server's id")
            return None if result.is_default else result.to_json()

        self._writes += 1
        try:
            await self._modify(guild_id, apply)
        except BaseException:
            self._cache.pop(guild_id, None)  # the write may or may not have happened
            raise
        if result is None:
            raise RuntimeError("the backend never applied the change")
        self._remember(guild_id, result)
        return result

    async def reset(self, guild_id: int) -> ServerSettings:
        """Forget everything the server saved (when the bot leaves it, or the data is corrupt)."""
        self._writes += 1
        self._cache.pop(guild_id, None)
        await self._modify(guild_id, lambda _document: None)  # without reading it first
        return ServerSettings(guild_id)

    # --- typed changes ---

    async def allow_channel(self, guild_id: int, channel_id: int) -> ServerSettings:
        return await self.update(guild_id, lambda s: s.with_channel_allowed(channel_id))

    async def disallow_channel(self, guild_id: int, channel_id: int) -> ServerSettings:
        return await self.update(guild_id, lambda s: s.without_channel_allowed(channel_id))

    async def allow_role(self, guild_id: int, role_id: int) -> ServerSettings:
        return await self.update(guild_id, lambda s: s.with_role_allowed(role_id))

    async def disallow_role(self, guild_id: int, role_id: int) -> ServerSettings:
        return await self.update(guild_id, lambda s: s.without_role_allowed(role_id))

    async def add_blocked_term(self, guild_id: int, term: str) -> ServerSettings:
        return await self.update(guild_id, lambda s: s.with_blocked_term(term))

    async def remove_blocked_term(self, guild_id: int, term: str) -> ServerSettings:
        return await self.update(guild_id, lambda s: s.without_blocked_term(term))

    async def set_modlog(self, guild_id: int, channel_id: int | None) -> ServerSettings:
        return await self.update(guild_id, lambda s: s.with_modlog(channel_id))

    async def set_nsfw_only(self, guild_id: int, nsfw_only: bool) -> ServerSettings:
        return await self.update(guild_id, lambda s: s.with_nsfw_only(nsfw_only))

    async def set_clicks_owner_only(self, guild_id: int, owner_only: bool) -> ServerSettings:
        return await self.update(guild_id, lambda s: s.with_clicks_owner_only(owner_only))

    async def set_limits(
        self,
        guild_id: int,
        *,
        window_images: int | None = None,
        daily_images: int | None = None,
        window_seconds: int | None = None,
    ) -> ServerSettings:
        return await self.update(
            guild_id,
            lambda s: s.with_limits(
                window_images=window_images,
                daily_images=daily_images,
                window_seconds=window_seconds,
            ),
        )

    async def clear_limits(self, guild_id: int) -> ServerSettings:
        return await self.update(guild_id, lambda s: s.without_limits())

    async def block_member(
        self, guild_id: int, member_key: str, *, until: float | None, now: float | None = None
    ) -> ServerSettings:
        """Block a member until epoch `until` (None: until unblocked); `now` defaults to now."""
        at = time.time() if now is None else now
        return await self.update(
            guild_id, lambda s: s.with_member_blocked(member_key, until=until, now=at)
        )

    async def unblock_member(
        self, guild_id: int, member_key: str, *, now: float | None = None
    ) -> ServerSettings:
        at = time.time() if now is None else now
        return await self.update(guild_id, lambda s: s.without_member_blocked(member_key, now=at))

    async def blocked_until(
        self, guild_id: int, member_key: str, *, now: float | None = None
    ) -> float | None:
        """When the member's block ends (`FOREVER` if never), or None if not blocked."""
        settings = await self.get(guild_id)
        return settings.blocked_until(member_key, now=time.time() if now is None else now)

    # --- cache ---

    def _forget(self, guild_id: int | None) -> None:
        """Drop a server's cached settings (None: every server's), changed by another process;
        a read in progress does not put its older answer back."""
        self._writes += 1
        if guild_id is None:
            self._cache.clear()
        else:
            self._cache.pop(guild_id, None)

    def _remember(self, guild_id: int, settings: ServerSettings) -> None:
        if self.cache_ttl <= 0:
            return
        self._cache[guild_id] = (self._monotonic() + self.cache_ttl, settings)
        self._cache.move_to_end(guild_id)
        while len(self._cache) > CACHE_MAX_SERVERS:
            self._cache.popitem(last=False)


def _decode(guild_id: int, raw: str | None) -> ServerSettings:
    if raw is None:
        return ServerSettings(guild_id)
    try:
        return ServerSettings.from_json(guild_id, raw)
    except ValueError as exc:
        raise CorruptSettings(f"the saved settings of server {guild_id} are unreadable") from exc
