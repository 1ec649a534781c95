"""The controls under a result: Re-roll, Vary k and Edit k, as buttons or, where they don't fit,
one select menu (Delete is cogs/modlog.py's).

Each control is a `DynamicItem`: its custom_id names the job (its record's id), the image and
the member who asked, so a click is understood from the custom_id alone, after a restart too.
The work is the Actions cog's (cogs/actions.py): these only read the click and hand it over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

import discord

from bot.front.i18n import text

Verb = Literal["roll", "vary", "edit"]
# Up to this many images, Vary k and Edit k are buttons (a row of each); beyond, one select
# menu holds them all (Discord: 5 rows of 5 buttons, or one select of 25 options per row).
BUTTONS_UP_TO = 5
_ROW = {"roll": 0, "vary": 1, "edit": 2}


@dataclass(frozen=True, slots=True)
class Click:
    """What a click on a result's control asks for."""

    verb: Verb
    owner_id: int  # who asked for the result
    job_id: int  # the job's record (the interaction id of the command that made it)
    number: int  # the image, from 1 (0 for Re-roll)


class ClickHandler(Protocol):
    """The cog that answers clicks (cogs/actions.py)."""

    async def clicked(self, interaction: discord.Interaction, click: Click) -> None: ...


async def hand_over(interaction: discord.Interaction, click: Click) -> None:
    """Give the click to the Actions cog; without it (unloaded), say the button is unavailable."""
    client = cast(Any, interaction.client)
    handler = client.get_cog("Actions")
    if handler is None:
        await interaction.response.send_message(
            text(str(interaction.locale.value), "actions.unavailable"), ephemeral=True
        )
        return
    await cast(ClickHandler, handler).clicked(interaction, click)


class ResultButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"imagine:(?P<verb>roll|vary|edit):(?P<owner>\d+):(?P<job>\d+):(?P<k>\d+)",
):
    """Re-roll, Vary k or Edit k under a result."""

    def __init__(self, click: Click, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=label or click.verb,
                style=discord.ButtonStyle.primary
                if click.verb == "roll"
                else discord.ButtonStyle.secondary,
                custom_id=f"imagine:{click.verb}:{click.owner_id}:{click.job_id}:{click.number}",
                row=_ROW[click.verb],
            )
        )
        self.click = click

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ResultButton:
        verb = cast(Verb, match["verb"])
        return cls(Click(verb, int(match["owner"]), int(match["job"]), int(match["k"])))

    async def callback(self, interaction: discord.Interaction) -> None:
        await hand_over(interaction, self.click)


class ResultSelect(
    discord.ui.DynamicItem[discord.ui.Select[Any]],
    template=r"imagine:pick:(?P<owner>\d+):(?P<job>\d+)",
):
    """Vary k and Edit k of a result with more images than buttons fit, in one menu."""

    def __init__(
        self, owner_id: int, job_id: int, options: list[discord.SelectOption] | None = None
    ) -> None:
        super().__init__(
            discord.ui.Select(
                custom_id=f"imagine:pick:{owner_id}:{job_id}",
                options=options or [discord.SelectOption(label="-", value="vary:1")],
                row=1,
            )
        )
        self.owner_id = owner_id
        self.job_id = job_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ResultSelect:
        return cls(int(match["owner"]), int(match["job"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        data = cast(Any, interaction.data) or {}
        values = data.get("values") or []
        verb, _, number = str(values[0]).partition(":") if values else ("", "", "")
        if verb not in ("vary", "edit") or not number.isdigit():
            await interaction.response.send_message(
                text(str(interaction.locale.value), "actions.unavailable"), ephemeral=True
            )
            return
        await hand_over(
            interaction, Click(cast(Verb, verb), self.owner_id, self.job_id, int(number))
        )


def result_controls(
    locale: str | None,
    owner_id: int,
    job_id: int,
    images: int,
    *,
    can_vary: bool,
    can_edit: bool,
) -> list[discord.ui.Item[Any]]:
    """The controls for a result of `images` pictures, within Discord's component limits."""
    items: list[discord.ui.Item[Any]] = [
        ResultButton(Click("roll", owner_id, job_id, 0), text(locale, "actions.button.reroll"))
    ]
    able: list[tuple[Verb, bool]] = [("vary", can_vary), ("edit", can_edit)]
    verbs = [verb for verb, allowed in able if allowed]
    if not verbs:
        return items
    if images <= BUTTONS_UP_TO:
        for verb in verbs:
            for k in range(1, images + 1):
                label = text(locale, f"actions.button.{verb}", number=k)
                items.append(ResultButton(Click(verb, owner_id, job_id, k), label))
        return items
    options = [
        discord.SelectOption(
            label=text(locale, f"actions.button.{verb}", number=k), value=f"{verb}:{k}"
        )
        for verb in verbs
        for k in range(1, images + 1)
    ]
    select = ResultSelect(owner_id, job_id, options)
    select.item.placeholder = text(locale, "actions.select.placeholder")
    items.append(select)
    return items
