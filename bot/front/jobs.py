"""Which commands are still working: so shutdown can drain them, and deferrals go first."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import discord

from bot.front.i18n import member_locale, text
from bot.front.replies import reply_privately

log = logging.getLogger(__name__)


class JobTracker:
    """Knows which commands are still working, so shutdown can let them finish, and which
    still owe Discord their first answer, so work that can wait lets those go first."""

    def __init__(self) -> None:
        self._jobs: dict[asyncio.Task[Any], discord.Interaction] = {}
        self._unanswered: set[asyncio.Task[Any]] = set()
        self._all_answered = asyncio.Event()
        self._all_answered.set()

    def __len__(self) -> int:
        return sum(1 for task in self._jobs if not task.done())

    def add(self, task: asyncio.Task[Any], interaction: discord.Interaction) -> None:
        """Track `task`, which answers `interaction`, until it ends."""
        self._jobs[task] = interaction
        self._unanswered.add(task)
        self._all_answered.clear()
        task.add_done_callback(self._forget)

    def answered(self, task: asyncio.Task[Any] | None) -> None:
        """`task` has sent Discord its first answer (a deferral, say); ending counts too."""
        if task is not None:
            self._unanswered.discard(task)
        if not self._unanswered:
            self._all_answered.set()

    async def let_first_answers_go(self, longest: float) -> None:
        """The calling command has sent its first answer: wait (up to `longest` seconds) until
        every other command has sent its own.

        Discord gives a command 3 seconds for that answer and then minutes for the rest. When
        hundreds arrive at once, the Images API calls and uploads of the first ones would
        otherwise share the CPU with the deferrals of the last ones and make them late.
        """
        self.answered(asyncio.current_task())
        if self._all_answered.is_set():
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(longest):
                await self._all_answered.wait()

    def _forget(self, task: asyncio.Task[Any]) -> None:
        self._jobs.pop(task, None)
        self.answered(task)

    def _running(self) -> set[asyncio.Task[Any]]:
        return {task for task in self._jobs if not task.done()}

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no job runs; False if some still run after `timeout` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        # A loop: a command admitted just before shutdown began may register meanwhile.
        while running := self._running():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            await asyncio.wait(running, timeout=remaining)
        return True

    async def cancel_all(self) -> None:
        """Stop every running job, then tell each member that theirs was stopped."""
        running = {task: self._jobs[task] for task in self._running()}
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        await asyncio.gather(
            *(
                reply_privately(interaction, text(member_locale(interaction), "front.stopped"))
                for interaction in running.values()
            ),
            return_exceptions=True,
        )

    async def drain(self, grace: float) -> None:
        """Let running jobs finish within `grace` seconds, then stop the rest (telling their
        members)."""
        running = len(self)
        if not running:
            return
        log.info("shutting down: waiting up to %.0f s for %d running jobs", grace, running)
        if not await self.wait_idle(grace):
            log.warning("grace period over; stopping %d jobs", len(self))
            await self.cancel_all()
