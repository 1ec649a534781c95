"""The Discord bot: a `commands.Bot` subclass and the command tree that handles every error.

Extensions load from a fixed list in `setup_hook`; commands are synced only when the local set
differs from what Discord already has, so restarts do not spend the daily create quota.
Every command's task (the command and then its error handling) is tracked from the tree's
`interaction_check`, so that `shutdown` can refuse new commands and let running ones finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.config import Settings
from bot.delivery import RESULTS_POSTED, TOKEN_GONE
from bot.errors import UserFacingError
from bot.identity import MemberIds, load_or_create_salt
from bot.images.client import ImagesClient
from bot.limits import Limiter, open_store
from bot.moderation import ModerationClient, PromptRefused, open_server_settings
from bot.moderation.client import DEFAULT_RETRY as MODERATION_RETRY
from bot.moderation.client import DEFAULT_TIMEOUT as MODERATION_TIMEOUT
from bot.moderation.events import Refused
from bot.service import ImageService
from bot.transport import Transport

log = logging.getLogger(__name__)

EXTENSIONS = (
    "cogs.imagine",
    "cogs.edit",
    "cogs.vary",
    "cogs.quota",
    "cogs.settings",
    "cogs.modlog",
)

RESTARTING = (
    "The bot is restarting and isn't taking new requests right now. Please try again in a minute."
)
STOPPED = (
    "The bot had to restart before your request was finished, so it was stopped. "
    "Please try again in a minute."
)
COMMAND_OUTDATED = (
    "This command was just updated and Discord is still showing you the old version. "
    "Wait a minute (or restart Discord) and try again."
)
# Shown instead of the public "thinking..." message for the moment before it is deleted, so
# that the private followup can never take its place (a followup sent right after a public
# deferral replaces the "thinking..." message and ignores the ephemeral flag).
_PLACEHOLDER = "This request couldn't be finished."


def apology(error_id: str) -> str:
    """The member's message for a failure that is ours, not theirs."""
    return (
        "Sorry, something went wrong on my side and your request couldn't be finished. "
        f"If it keeps happening, tell the server owner the error id `{error_id}`."
    )


async def reply_privately(interaction: discord.Interaction, text: str) -> None:
    """Tell the member something only they see, whatever state the interaction is in.

    Never raises: when the interaction can't carry the message (its token expired), it goes
    to the member's DMs, and failing that to the channel with a mention.
    """
    try:
        if await _reply_through_interaction(interaction, text):
            return
    except discord.HTTPException as exc:
        if exc.code not in TOKEN_GONE:
            log.warning("could not answer interaction %s (%s)", interaction.id, exc)
    except (discord.DiscordException, aiohttp.ClientError, TimeoutError) as exc:
        log.warning("could not answer interaction %s (%s)", interaction.id, type(exc).__name__)
    await _reply_elsewhere(interaction, text)


async def _reply_through_interaction(interaction: discord.Interaction, text: str) -> bool:
    """Answer through the interaction's own routes; False if its token has expired."""
    if interaction.is_expired():
        return False
    if not interaction.response.is_done():
        try:
            await interaction.response.send_message(text, ephemeral=True)
        except discord.HTTPException as exc:
            # 40060: acknowledged already (by an earlier attempt whose answer was lost).
            if exc.code != 40060:
                raise
        else:
            return True
    elif (
        interaction.response.type is discord.InteractionResponseType.deferred_channel_message
        and not interaction.extras.get(RESULTS_POSTED)
    ):
        await _remove_public_message(interaction)
    await interaction.followup.send(text, ephemeral=True)
    return True


async def _remove_public_message(interaction: discord.Interaction) -> None:
    """Take down the public "thinking..." (or queue position) message of a deferral."""
    try:
        await interaction.edit_original_response(content=_PLACEHOLDER, attachments=[])
        await interaction.delete_original_response()
    except discord.HTTPException as exc:
        if exc.code in TOKEN_GONE:
            raise
        if exc.code != 10008:  # Unknown Message: it is gone already
            log.warning("could not remove the public message of interaction %s", interaction.id)


async def _reply_elsewhere(interaction: discord.Interaction, text: str) -> None:
    """The member's DMs, else the channel with a mention: for when the token has expired."""
    member = interaction.user
    command = _command_name(interaction)
    about = f"About your /{command} request: " if command != "?" else ""
    mentions = discord.AllowedMentions(users=[member], everyone=False, roles=False)
    try:
        dm = await member.create_dm()
        await dm.send(about + text, allowed_mentions=mentions)
    except (discord.DiscordException, aiohttp.ClientError, TimeoutError):
        log.info("could not DM member %s; trying the channel", member.id)
    else:
        return
    channel_id = interaction.channel_id
    if channel_id is not None:
        channel = interaction.client.get_partial_messageable(channel_id)
        try:
            await channel.send(f"{member.mention} {about}{text}", allowed_mentions=mentions)
        except (discord.DiscordException, aiohttp.ClientError, TimeoutError):
            log.warning("could not reach member %s in the channel either", member.id)
        else:
            return
    log.warning("member %s was not told: %s", member.id, text)


# Discord ran a command whose definition differs from ours (it has not caught up after a sync).
_OUTDATED = (app_commands.CommandNotFound, app_commands.CommandSignatureMismatch)


class ImagineTree(app_commands.CommandTree["ImagineBot"]):
    """Every app-command error ends here: the member's mistakes as a private message in their
    words, our own failures logged with a traceback and shown as an apology with an error id."""

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        if interaction.type is not discord.InteractionType.application_command:
            return True
        try:
            if self.client.closing:
                await reply_privately(interaction, RESTARTING)
                return False
            task = asyncio.current_task()
            if task is not None:
                # The task runs the command and then its error handling: shutdown waits for it.
                self.client.jobs.add(task, interaction)
        except Exception:
            # discord.py would leave an exception raised here unhandled in its task.
            error_id = secrets.token_hex(4)
            log.exception("error %s while checking /%s", error_id, _command_name(interaction))
            await reply_privately(interaction, apology(error_id))
            return False
        return True

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        try:
            text = self._describe(interaction, error)
            self._report_refusal(interaction, error)
            await reply_privately(interaction, text)
        except Exception:
            # discord.py would leave an exception raised here unhandled in its task.
            log.exception("error while handling an error of /%s", _command_name(interaction))

    def _report_refusal(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Tell the mod-log (a listener of `prompt_refused`) which layer refused a prompt."""
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if not isinstance(original, PromptRefused) or interaction.guild_id is None:
            return
        prompt = getattr(interaction.namespace, "prompt", None)
        self.client.dispatch(
            "prompt_refused",
            Refused(
                guild_id=interaction.guild_id,
                channel_id=interaction.channel_id,
                member_id=interaction.user.id,
                command=_command_name(interaction),
                prompt=prompt if isinstance(prompt, str) else "(an image, no prompt)",
                layer=original.layer,
                reason=original.reason,
            ),
        )

    @staticmethod
    def _describe(interaction: discord.Interaction, error: app_commands.AppCommandError) -> str:
        """What the member is told about `error`; our own failures are logged with an id."""
        original: BaseException = error
        if isinstance(error, app_commands.CommandInvokeError):
            original = error.original
        name = _command_name(interaction)
        if isinstance(original, UserFacingError):
            log.info("member error in /%s: %s", name, type(original).__name__)
            return original.message
        if isinstance(original, app_commands.CheckFailure):
            return str(original) or "You can't use this command here."
        if isinstance(original, _OUTDATED):
            log.warning("/%s: Discord's copy of the command differs from ours", name)
            return COMMAND_OUTDATED
        error_id = secrets.token_hex(4)
        log.error("error %s in /%s", error_id, name, exc_info=original)
        return apology(error_id)


def _command_name(interaction: discord.Interaction) -> str:
    """The command's name, also for a command the bot no longer has."""
    command = interaction.command
    if command is not None:
        return command.qualified_name
    data = interaction.data
    name = data.get("name") if data is not None else None
    return name if isinstance(name, str) else "?"


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
            *(reply_privately(interaction, STOPPED) for interaction in running.values()),
            return_exceptions=True,
        )


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
        )
        self.images = ImagesClient.from_settings(session, settings)
        self.images.on_rate_limited = self.limiter.pause_for
        salt = settings.user_id_salt
        self.member_ids = MemberIds(
            salt.reveal().encode() if salt else load_or_create_salt(settings.data_dir)
        )
        # Server settings share the state store's URL: their own table or keys beside the quotas.
        self.server_settings = open_server_settings(settings.state_url)
        moderation = (
            ModerationClient(
                Transport(
                    session,
                    base_url=settings.moderation_base_url,
                    api_key=settings.moderation_api_key,
                    organization=settings.openai_org_id,
                    project=settings.openai_project_id,
                    timeout=MODERATION_TIMEOUT,
                    retry=MODERATION_RETRY,
                ),
                model=settings.moderation_model,
                block_categories=settings.moderation_block_categories,
                fail_open=settings.moderation_fail_open,
            )
            if settings.moderation_enabled
            else None
        )
        self.service = ImageService(
            self.images,
            session,
            self.limiter,
            settings,
            servers=self.server_settings,
            moderation=moderation,
        )
        self.jobs = JobTracker()
        self.closing = False

    async def setup_hook(self) -> None:
        await self.store.open()
        await self.server_settings.open()
        for extension in EXTENSIONS:
            try:
                await self.load_extension(extension)
            except commands.ExtensionError:
                log.exception("could not load %s", extension)
        await self.sync_commands()

    async def sync_commands(self) -> None:
        """Push the slash commands to Discord, but only when they changed.

        A failure is logged, not raised: the commands Discord already has keep working.
        """
        assert self.application_id is not None
        guild_id = self.settings.discord_guild_id
        guild = discord.Object(guild_id) if guild_id else None
        where = f"to server {guild_id}" if guild_id else "globally (may take a while to appear)"
        try:
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
        except discord.HTTPException as exc:
            hint = (
                " Is the bot in that server, invited with the applications.commands scope?"
                if guild_id and exc.status == 403
                else ""
            )
            log.error("could not sync the slash commands %s: %s.%s", where, exc, hint)
            return
        log.info("synced %d slash commands %s", len(synced), where)

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
                log.warning("grace period over; stopping %d jobs", len(self.jobs))
                await self.jobs.cancel_all()
        log.info("shutting down: closing the connection to Discord")
        await self.close()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            await self.store.close()
            await self.server_settings.close()


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
