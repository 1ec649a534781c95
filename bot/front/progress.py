"""What the "thinking" message shows while a job runs: its stage, its previews, and Cancel.

The stage line is honest and cheap: in the queue at place k (with a Cancel button, as long as
the job waits), generating, posting, each with the time it was asked as a Discord timestamp
(which every member's client shows as a live "n seconds ago" without any edit). Stage edits
come at most every `STAGE_EVERY` seconds, so a job that is done within 5 s costs no edit at
all; a preview (a partial picture of a streamed answer) and the end of the wait (the Cancel
button goes away) are shown at once. At most one edit is in flight per message, and the newest
wanted state wins: a state overtaken while an edit was under way is never shown.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import math
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import discord

from bot.front.i18n import text
from bot.limits import Withdrawal
from bot.service import Stage

log = logging.getLogger(__name__)

# The stage line is edited at most this often (seconds).
STAGE_EVERY = 5.0
# The Cancel button's custom_id: the job (its command's interaction id) and who asked.
CANCEL_TEMPLATE = r"imagine:cancel:(?P<job>\d+):(?P<owner>\d+)"
_PICTURE_NAMES = {
    b"\x89PNG": "preview.png",
    b"\xff\xd8\xff": "preview.jpg",
    b"RIFF": "preview.webp",
}


def cancel_id(job_id: int, owner_id: int) -> str:
    """The custom_id of a job's Cancel button (see `CANCEL_TEMPLATE`)."""
    return f"imagine:cancel:{job_id}:{owner_id}"


@dataclass(frozen=True, slots=True)
class _Frame:
    """One state of the message: its text, whether the Cancel button shows, a preview."""

    content: str
    cancel: bool = False
    picture: bytes | None = None
    urgent: bool = False  # shown at once, not paced like the stage line


class Progress:
    """The running display of one job's "thinking" message (see the module's docstring)."""

    def __init__(
        self,
        interaction: discord.Interaction,
        *,
        estimated_wait: Callable[[int], float],
        command: str = "?",
    ) -> None:
        self.interaction = interaction
        self.command = command  # as the member would type it (a Re-roll click is "imagine")
        self.job_id = interaction.id
        self.owner_id = interaction.user.id
        self.withdrawal = Withdrawal()
        self._locale = str(interaction.locale.value) if interaction.locale else None
        self._estimated_wait = estimated_wait
        self._since = f"<t:{int(time.time())}:R>"
        self._loop = asyncio.get_running_loop()
        # The deferral counts as the last edit, so a quick job's stage line never shows.
        self._last_edit = self._loop.time()
        self._wanted: _Frame | None = None
        self._changed = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self._button_shown = False
        self._offered_cancel = False  # a state with the Cancel button was wanted
        self._generating = False
        self._closing = False

    # --- the job's hooks (bot.service.Job) ---------------------------------------------------

    async def on_position(self, position: int) -> None:
        """The job's place in line (1 = next); 0 when its turn came."""
        if position == 0:
            self._start_generating()
            return
        starts = f"<t:{math.ceil(time.time() + self._estimated_wait(position))}:R>"
        words = text(self._locale, "progress.queued", position=position, starts=starts)
        # The first place is shown at once: it brings the Cancel button.
        self._want(_Frame(words, cancel=True, urgent=not self._offered_cancel))
        self._offered_cancel = True

    async def on_stage(self, stage: Stage) -> None:
        """The job's turn came ("generating"), its images are in ("posting"), or it failed
        ("stopped": whatever tells the member why comes next, so nothing more is shown)."""
        if stage == "generating":
            self._start_generating()
            return
        if stage == "stopped":
            await self.close()
            return
        words = text(self._locale, "progress.posting", since=self._since)
        due = self._loop.time() - self._last_edit >= STAGE_EVERY
        await self.close(_Frame(words, urgent=True) if due else None)

    async def on_partial(self, picture: bytes, index: int) -> None:
        """A preview of the image being made: shown at once (newest wins)."""
        words = text(self._locale, "progress.preview", number=index + 1, since=self._since)
        self._want(_Frame(words, picture=picture, urgent=True))

    # --- Cancel --------------------------------------------------------------------------------

    async def cancel(self, by: int) -> bool:
        """Withdraw the job if it has not been sent yet; False when it is too late. The caller
        answers the click (and shows `cancelled_text`)."""
        if not self.withdrawal.withdraw(by):
            return False
        await self.close()
        return True

    def cancelled_text(self, by: int) -> str:
        return text(self._locale, "progress.cancelled", who=f"<@{by}>")

    # --- showing -------------------------------------------------------------------------------

    def _start_generating(self) -> None:
        """Once per job. At once when a Cancel button may be showing (it must go), else paced:
        a job done within `STAGE_EVERY` of its deferral never shows this line."""
        if self._generating:
            return
        self._generating = True
        words = text(self._locale, "progress.generating", since=self._since)
        self._want(_Frame(words, urgent=self._offered_cancel))

    def _want(self, frame: _Frame) -> None:
        if self._closing:
            return
        self._wanted = frame
        self._changed.set()
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name=f"progress-{self.job_id}")

    async def close(self, last: _Frame | None = None) -> None:
        """Show nothing more but `last` (if given): an edit under way is let finish, one not
        begun is dropped. Safe to call twice."""
        self._closing = True
        self._wanted = last
        self._changed.set()
        runner = self._runner
        if runner is None and last is not None:
            runner = self._runner = asyncio.create_task(self._run())
        if runner is not None:
            await asyncio.shield(runner)

    def stop(self) -> None:
        """The job's task ended: stop at once, whatever was wanted."""
        self._closing = True
        self._wanted = None
        if self._runner is not None and not self._runner.done():
            self._runner.cancel()

    async def _run(self) -> None:
        while (frame := self._wanted) is not None:
            self._changed.clear()
            if not frame.urgent:
                delay = self._last_edit + STAGE_EVERY - self._loop.time()
                if self._closing:
                    break  # a paced stage line is not worth holding up the result for
                if delay > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), delay)
                    continue  # show whatever is wanted now
            self._wanted = None
            await self._edit(frame)
            self._last_edit = self._loop.time()
        self._runner = None

    async def _edit(self, frame: _Frame) -> None:
        kwargs: dict[str, Any] = {
            "content": frame.content,
            "allowed_mentions": discord.AllowedMentions.none(),
        }
        if frame.cancel != self._button_shown:
            kwargs["view"] = self._cancel_view() if frame.cancel else None
        if frame.picture is not None:
            kwargs["attachments"] = [discord.File(io.BytesIO(frame.picture), _name(frame.picture))]
        try:
            await self.interaction.edit_original_response(**kwargs)
        except discord.HTTPException as exc:
            log.debug("could not update the progress of job %s: %s", self.job_id, exc)
            return
        if "view" in kwargs:
            self._button_shown = frame.cancel

    def _cancel_view(self) -> discord.ui.View:
        view = discord.ui.View(timeout=None)
        view.add_item(
            discord.ui.Button(
                label=text(self._locale, "cancel.button"),
                style=discord.ButtonStyle.secondary,
                custom_id=cancel_id(self.job_id, self.owner_id),
            )
        )
        return view


def _name(picture: bytes) -> str:
    for magic, name in _PICTURE_NAMES.items():
        if picture.startswith(magic):
            return name
    return "preview.png"


# The jobs that may still be cancelled, by their command's interaction id, per bot.
_LIVE: weakref.WeakKeyDictionary[discord.Client, dict[int, Progress]] = weakref.WeakKeyDictionary()


def track(
    client: discord.Client,
    interaction: discord.Interaction,
    *,
    estimated_wait: Callable[[int], float],
    command: str = "?",
) -> Progress:
    """A `Progress` for the job of `interaction`, findable by its Cancel button until the job's
    task ends (then it stops at once)."""
    progress = Progress(interaction, estimated_wait=estimated_wait, command=command)
    live = _LIVE.setdefault(client, {})
    live[progress.job_id] = progress
    task = asyncio.current_task()
    if task is not None:

        def ended(_task: asyncio.Task[Any]) -> None:
            live.pop(progress.job_id, None)
            progress.stop()

        task.add_done_callback(ended)
    return progress


def find(client: discord.Client, job_id: int) -> Progress | None:
    """The running job's `Progress`, or None once it ended (or after a restart)."""
    return _LIVE.get(client, {}).get(job_id)


def live(client: discord.Client) -> list[Progress]:
    """Every job of this bot that may still be cancelled (a moderator's list reads them)."""
    return list(_LIVE.get(client, {}).values())
