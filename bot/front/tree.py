"""The command tree: the one gate every slash command passes and the one place its errors end.

As in Red-DiscordBot's `redbot/core/tree.py`, a `CommandTree` subclass (passed as `tree_cls=`)
answers every failure; here its `interaction_check` also refuses commands during shutdown and
tracks each command's task, so that shutdown can let running ones finish.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from typing import TYPE_CHECKING

import discord
from discord import app_commands

from bot.errors import UserFacingError
from bot.front.explain import explain
from bot.front.i18n import Words, member_locale, text
from bot.front.interactions import command_name
from bot.front.replies import apology, reply_privately
from bot.moderation import PromptRefused
from bot.moderation.events import Refused
from bot.service import Cancelled
from bot.state import is_outage as is_state_outage

if TYPE_CHECKING:
    # Used only in the string "ImagineBot" of the base class, which ruff does not read.
    from bot.front.client import ImagineBot  # noqa: F401

log = logging.getLogger(__name__)

# Discord's answer to a reply after the interaction's 3 seconds: it expired before we answered.
UNKNOWN_INTERACTION = 10062
# Discord ran a command whose definition differs from ours (it has not caught up after a sync).
_OUTDATED = (app_commands.CommandNotFound, app_commands.CommandSignatureMismatch)
# What discord.py says (in English) when a check returns False instead of raising.
_DISCORDS_CHECK = re.compile(
    r"The check functions for (command|context menu) .* failed\."  # i18n: not for members
)


class ImagineTree(app_commands.CommandTree["ImagineBot"]):
    """Every app-command error ends here: the member's mistakes as a private message in their
    words, our own failures logged with a traceback and shown as an apology with an error id."""

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        if interaction.type is not discord.InteractionType.application_command:
            return True
        try:
            if self.client.closing:
                restarting = text(member_locale(interaction), "front.restarting")
                await reply_privately(interaction, restarting)
                return False
            task = asyncio.current_task()
            if task is not None:
                # The task runs the command and then its error handling: shutdown waits for it.
                self.client.jobs.add(task, interaction)
        except Exception:
            # discord.py would leave an exception raised here unhandled in its task.
            error_id = secrets.token_hex(4)
            log.exception("error %s while checking /%s", error_id, command_name(interaction))
            await reply_privately(interaction, apology(member_locale(interaction), error_id))
            return False
        return True

    async def on_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError, /
    ) -> None:
        original = error.original if isinstance(error, app_commands.CommandInvokeError) else error
        if isinstance(original, discord.NotFound) and original.code == UNKNOWN_INTERACTION:
            # Discord's timeout, not our failure: the interaction outlived its 3 seconds before
            # we answered. Nothing can reach the member through it, the reservation was given
            # back (start_job refunds a failed deferral), and a DM would only puzzle them.
            log.warning(
                "/%s: Discord had already given up on the interaction (10062 Unknown "
                "interaction): nothing done, nothing charged",
                command_name(interaction),
            )
            return
        if isinstance(original, Cancelled):
            # Refunded, and the Cancel click already said so on the job's message.
            log.info("/%s cancelled before it was sent", command_name(interaction))
            return
        try:
            said = self._describe(interaction, error)
            self._report_refusal(interaction, error)
            # For listeners that count outcomes (cogs/metrics.py), as discord.py's own
            # `app_command_completion` is dispatched only on success.
            self.client.dispatch("app_command_error", interaction, error)
            await reply_privately(interaction, said)
        except Exception:
            # discord.py would leave an exception raised here unhandled in its task.
            log.exception("error while handling an error of /%s", command_name(interaction))

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
                command=command_name(interaction),
                prompt=prompt if isinstance(prompt, str) else _no_prompt(interaction),
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
        name = command_name(interaction)
        words = Words.of(interaction)
        if isinstance(original, UserFacingError):
            log.info("member error in /%s: %s", name, type(original).__name__)
            return explain(words.locale, original)
        if isinstance(original, app_commands.CheckFailure):
            return _check_failed(words, original)
        if isinstance(original, _OUTDATED):
            log.warning("/%s: Discord's copy of the command differs from ours", name)
            return words("front.command_outdated")
        if is_state_outage(original):
            log.warning("/%s: the state store is out of reach (%s)", name, type(original).__name__)
            return words("front.state_outage")
        error_id = secrets.token_hex(4)
        log.error("error %s in /%s", error_id, name, exc_info=original)
        return apology(words.locale, error_id)


def _check_failed(words: Words, failure: app_commands.CheckFailure) -> str:
    """A failed check: our cogs raise a plain `CheckFailure` holding the member's words already
    (cogs/settings.py); discord.py's own checks write English, so theirs come from here."""
    if isinstance(failure, app_commands.NoPrivateMessage):
        return words("front.check.no_dms")
    ours = type(failure) is app_commands.CheckFailure and not _DISCORDS_CHECK.match(str(failure))
    if ours and str(failure):
        return str(failure)
    return words("front.check.failed")


def _no_prompt(interaction: discord.Interaction) -> str:
    """What the mod-log shows as the prompt of a refused request that had none (a /vary), in
    the server's language as the rest of the mod-log (cogs/modlog.py)."""
    server = str(interaction.guild_locale) if interaction.guild_locale else None
    return text(server, "front.refused_without_prompt")
