"""The Discord bot: a `commands.Bot` subclass and the command tree that handles every error.

Extensions load from a fixed list in `setup_hook`; commands are synced only when the local set
differs from what Discord already has, so restarts do not spend the daily create quota.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.config import Settings
from bot.errors import UserFacingError
from bot.identity import MemberIds, load_or_create_salt
from bot.images.client import ImagesClient
from bot.limits import Limiter, open_store
from bot.service import ImageService

log = logging.getLogger(__name__)

EXTENSIONS = ("cogs.imagine", "cogs.edit", "cogs.vary", "cogs.quota")

RESTARTING = (
    "The bot is restarting and isn't taking new requests right now. Please try again in a minute."
)


def apology(error_id: str) -> str:
    """The member's message for a failure that is ours, not theirs."""
    return (
        "Sorry, something went wrong on my side and your request couldn't be finished. "
        f"You haven't been charged for it. If it keeps happening, tell the server owner "
        f"the error id `{error_id}`."
    )


async def reply_privately(interaction: discord.Interaction, text: str) -> None:
    """Tell the member something only they see, whatever state the interaction is in."""
    if not interaction.response.is_done():
        await interaction.response.send_message(text, ephemeral=True)
        return
    # After a public deferral the first followup would replace the public "thinking..." message
    # and ignore the ephemeral flag, so remove that message first.
    if interaction.response.type is discord.InteractionResponseType.deferred_channel_message:
        try:
            await interaction.delete_original_response()
        except discord.HTTPException:
            log.debug("could not delete the deferred message of interaction %s", interaction.id)
    try:
        await interaction.followup.send(text, ephemeral=True)
    except discord.HTTPException:
        log.warning("could not tell member %s about a failure", interaction.user.id, exc_info=True)


class ImagineTree(app_commands.CommandTree["ImagineBot"]):
    """Every app-command error ends here: the member's mistakes as a private message in their
    words, our own failures logged with a traceback and shown as an apology with an error id."""

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        if self.client.closing and interaction.type is discord.InteractionType.application_command:
            await interaction.response.send_message(RESTARTING, ephemeral=True)
            return False
        return True

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        original: BaseException = error
        if isinstance(error, app_commands.CommandInvokeError):
            original = error.original
        if isinstance(original, UserFacingError):
            log.info("member error in /%s: %s", _command_name(interaction), type(original).__name__)
            text = original.message
        elif isinstance(original, app_commands.CheckFailure):
            text = str(original) or "You can't use this command here."
        else:
            error_id = secrets.token_hex(4)
            log.error("error %s in /%s", error_id, _command_name(interaction), exc_info=original)
            text = apology(error_id)
        await reply_privately(interaction, text)


def _command_name(interaction: discord.Interaction) -> str:
    command = interaction.command
    return command.qualified_name if command is not None else "?"


class JobTracker:
    """Knows which commands are still working, so shutdown can let them finish."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[Any]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    def __len__(self) -> int:
        return len(self._tasks)

    @asynccontextmanager
    async def track(self) -> AsyncIterator[None]:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._idle.clear()
        try:
            yield
        finally:
            self._tasks.discard(task)
            if not self._tasks:
                self._idle.set()

    async def wait_idle(self, timeout: float) -> bool:
        """Wait until no job runs; False if some still run after `timeout` seconds."""
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
        except TimeoutError:
            return False
        return True

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class ImagineBot(commands.Bot):
    """The bot. Holds the settings, the one aiohttp session and the Images API client."""

    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None:
        intents = discord.Intents.none()
        intents.guilds = True  # channel and role cache; no privileged intent is needed
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=intents,
            tree_cls=ImagineTree,
            help_command=None,
            allowed_mentions=discord.AllowedMentions.none(),
        )
        self.settings = settings
        self.session = session
        self.profile = settings.profile
        self.store = open_store(settings.state_url)
        self.limiter = Limiter(
            self.store,
            images_per_minute=settings.images_per_minute,
            max_concurrent=settings.max_concurrent_requests,
            max_waiting=settings.queue_max,
            max_waiting_per_member=settings.queue_max_per_member,
            # Longer than any job can take, so a crash never refunds images that were made.
            reservation_ttl=settings.retry_deadline + 15 * 60,
        )
        self.images = ImagesClient.from_settings(session, settings)
        self.images.on_rate_limited = self.limiter.pause_for
        salt = settings.user_id_salt
        self.member_ids = MemberIds(
            salt.reveal().encode() if salt else load_or_create_salt(settings.data_dir)
        )
        self.service = ImageService(self.images, session, self.limiter, settings)
        self.jobs = JobTracker()
        self.closing = False

    async def setup_hook(self) -> None:
        await self.store.open()
        for extension in EXTENSIONS:
            try:
                await self.load_extension(extension)
            except commands.ExtensionError:
                log.exception("could not load %s", extension)
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """Push the slash commands to Discord, but only when they changed."""
        assert self.application_id is not None
        guild_id = self.settings.discord_guild_id
        guild = discord.Object(guild_id) if guild_id else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
            remote = await self.http.get_guild_commands(self.application_id, guild.id)
        else:
            remote = await self.http.get_global_commands(self.application_id)
        local = [command.to_dict(self.tree) for command in self.tree.get_commands(guild=guild)]
        if not commands_differ(local, remote):
            log.info("slash commands are up to date; not syncing")
            return
        synced = await self.tree.sync(guild=guild)
        log.info(
            "synced %d slash commands %s",
            len(synced),
            f"to server {guild_id}" if guild_id else "globally (may take a while to appear)",
        )

    async def shutdown(self) -> None:
        """Stop taking commands, let running jobs finish within the grace period, then close."""
        if self.closing:
            return
        self.closing = True
        running = len(self.jobs)
        if running:
            grace = self.settings.shutdown_grace
            log.info("shutting down: waiting up to %.0f s for %d running jobs", grace, running)
            if not await self.jobs.wait_idle(grace):
                log.warning("grace period over; cancelling %d jobs", len(self.jobs))
                await self.jobs.cancel_all()
        await self.close()

    async def close(self) -> None:
        await super().close()
        await self.store.close()


_REMOTE_ONLY = {"id", "application_id", "version", "guild_id", "dm_permission"}
_DEFAULTS: Mapping[str, Any] = {"nsfw": False, "required": False, "autocomplete": False}


def _normalise(value: Any) -> Any:
    """Drop what Discord adds, and defaults that either side may leave out."""
    if isinstance(value, Mapping):
        return {
            key: _normalise(item)
            for key, item in value.items()
            if key not in _REMOTE_ONLY
            and item not in (None, [], {})
            and not (key in _DEFAULTS and item == _DEFAULTS[key])
            and not key.endswith("_localizations")
        }
    if isinstance(value, list):
        return [_normalise(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        # Permission bitsets go out as ints and come back as strings.
        return str(value)
    return value


def commands_differ(
    local: Sequence[Mapping[str, Any]], remote: Sequence[Mapping[str, Any]]
) -> bool:
    """Whether syncing would change anything. Fields Discord fills in with defaults that we
    leave out (contexts, integration types) count only where we set them ourselves."""
    if len(local) != len(remote):
        return True
    remote_by_name = {command["name"]: _normalise(command) for command in remote}
    for command in local:
        mine = _normalise(command)
        theirs = remote_by_name.get(mine["name"])
        if theirs is None:
            return True
        for key in ("contexts", "integration_types"):
            if key not in mine:
                theirs.pop(key, None)
        if mine != theirs:
            return True
    return False
