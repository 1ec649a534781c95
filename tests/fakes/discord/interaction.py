"""One interaction the fake sent to the bot, and everything the bot answered to it."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tests.fakes.discord.common import TOKEN_LIFETIME, Signal, utcnow
from tests.fakes.discord.models import FakeMessage, FakeUser, SeenMessage
from tests.fakes.discord.records import Callback, RecordedRequest

if TYPE_CHECKING:
    from tests.fakes.discord.state import DiscordState


class FakeInteraction:
    """An interaction the fake sent to the bot, and everything the bot answered to it."""

    def __init__(
        self,
        fake: DiscordState,
        *,
        id: int,
        token: str,
        type: int,
        name: str,
        payload: dict[str, Any],
        user: FakeUser,
        guild_id: int | None,
        channel_id: int,
        created_at: dt.datetime,
        attachment_size_limit: int,
        source_message: FakeMessage | None = None,
    ) -> None:
        self._fake = fake
        self.id = id
        self.token = token
        self.type = type
        self.name = name
        self.payload = payload
        self.user = user
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.created_at = created_at
        self.attachment_size_limit = attachment_size_limit
        self.source_message = source_message
        self.sent_at: float | None = None
        self.callbacks: list[Callback] = []  # accepted ones (at most one)
        self.callback_attempts: list[Callback] = []  # every one that reached the fake's logic
        self.original: FakeMessage | None = None  # the @original message
        self.original_edits: list[RecordedRequest] = []
        self.followup_posts: list[RecordedRequest] = []  # the requests behind `followups`
        self.followups: list[FakeMessage] = []
        self.seen: list[SeenMessage] = []
        self._changed = Signal()
        self._sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def __repr__(self) -> str:
        return (
            f"<FakeInteraction id={self.id} type={self.type} name={self.name!r}"
            f" callbacks={[c.type for c in self.callback_attempts]}"
            f" followups={len(self.followups)} seen={[s.via for s in self.seen]}>"
        )

    @property
    def expires_at(self) -> dt.datetime:
        return self.created_at + TOKEN_LIFETIME

    @property
    def expired(self) -> bool:
        """Whether the token no longer works (15 min after creation, or expire_token)."""
        return self.token in self._fake._expired_tokens or utcnow() >= self.expires_at

    @property
    def response(self) -> Callback | None:
        """The accepted initial response, if any."""
        return self.callbacks[0] if self.callbacks else None

    def is_dead(self) -> bool:
        """Whether the bot can no longer answer through this interaction."""
        if self.expired:
            return True
        if self.callbacks:
            return False
        if any(not c.ok for c in self.callback_attempts):
            return True
        deadline = self._fake.callback_deadline
        return (
            deadline is not None
            and self.sent_at is not None
            and time.monotonic() - self.sent_at > deadline
        )

    def _mark_sent(self) -> None:
        if self.sent_at is None:
            self.sent_at = time.monotonic()
        if not self._sent.done():
            self._sent.set_result(None)

    def _notify(self) -> None:
        self._changed.notify()

    def _add_seen(self, message: FakeMessage, via: str) -> SeenMessage:
        seen = SeenMessage.of(message, via, self.sent_at)
        self.seen.append(seen)
        self._notify()
        return seen

    async def wait_until(
        self, predicate: Callable[[FakeInteraction], bool], timeout: float = 10.0
    ) -> None:
        """Wait until ``predicate(self)`` holds; re-checked after each change to it."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate(self):
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout}s waiting on {self!r}") from None

    async def wait_for_response(self, timeout: float = 5.0) -> Callback:
        """The first initial response the fake judged (accepted or rejected, not a 429)."""
        await self.wait_until(lambda i: bool(i.callback_attempts), timeout)
        return self.callback_attempts[0]

    async def wait_for_final(
        self,
        timeout: float = 10.0,
        predicate: Callable[[SeenMessage], bool] | None = None,
    ) -> SeenMessage:
        """The first thing the member saw that is not a "thinking..." state (and matches predicate).

        That is the type 4 message, the type 7 update, the first @original edit or followup, or
        a channel message mentioning the member once the interaction was dead (token expired or
        no initial response in time).
        """
        checked = 0
        found: list[SeenMessage] = []

        def done(interaction: FakeInteraction) -> bool:
            nonlocal checked
            while checked < len(interaction.seen):
                seen = interaction.seen[checked]
                checked += 1
                if predicate is None or predicate(seen):
                    found.append(seen)
                    return True
            return False

        await self.wait_until(done, timeout)
        return found[0]

    async def wait_for_followups(self, count: int = 1, timeout: float = 10.0) -> list[FakeMessage]:
        """Wait until the bot sent at least ``count`` followups."""
        await self.wait_until(lambda i: len(i.followups) >= count, timeout)
        return list(self.followups)
