"""What the front's parts need to know about any interaction, whoever answers it."""

from __future__ import annotations

import discord

# Discord codes meaning the interaction token can no longer be used.
TOKEN_GONE = frozenset({10015, 10062, 50027})
# Set in `interaction.extras` once images were posted through the interaction (as public
# followups: image commands defer privately), so later steps know the member has them.
RESULTS_POSTED = "imagine_results_posted"


def command_name(interaction: discord.Interaction) -> str:
    """The command's name, also for a command the bot no longer has."""
    command = interaction.command
    if command is not None:
        return command.qualified_name
    data = interaction.data
    name = data.get("name") if data is not None else None
    return name if isinstance(name, str) else "?"
