""" "Vary this image" and "Edit this image": message commands on any message with pictures.

The picture comes from the message Discord sends with the command (links freshly signed). One
picture: straight to /vary, or the Edit modal (cogs/actions.py). Several: the member picks one
in a private select menu first. The request is the member's own, as if they had typed it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal, cast

import discord
from discord import app_commands
from discord.app_commands import locale_str
from discord.ext import commands

from bot.front.i18n import member_locale, text
from bot.front.replies import reply_privately
from bot.service import Upload
from cogs.actions import Actions, images_of

if TYPE_CHECKING:
    from bot.front.client import ImagineBot

Verb = Literal["vary", "edit"]
# Command names stay English, as the slash commands' do (bot/front/translator.py), so help and
# screenshots work across servers: not catalogue words.
VARY_MENU = "Vary this image"  # i18n: not for members
EDIT_MENU = "Edit this image"  # i18n: not for members
# Discord: a select menu holds at most 25 options.
SELECT_MAX = 25


class PickImage(discord.ui.View):
    """A private select of a message's pictures, for the member who ran the menu."""

    def __init__(
        self,
        actions: Actions,
        verb: Verb,
        message_id: int,
        pictures: list[Upload],
        locale: str | None,
    ) -> None:
        super().__init__(timeout=600)
        self.actions = actions
        self.message_id = message_id
        self.verb = verb
        self.pictures = pictures[:SELECT_MAX]
        select: discord.ui.Select[PickImage] = discord.ui.Select(
            placeholder=text(locale, "actions.pick.placeholder"),
            options=[
                discord.SelectOption(
                    label=text(locale, "actions.pick.option", number=k)[:100],
                    description=p.filename[:100] or None,
                    value=str(k),
                )
                for k, p in enumerate(self.pictures, 1)
            ],
        )
        select.callback = self._picked  # type: ignore[method-assign]
        self.select = select
        self.add_item(select)

    async def _picked(self, interaction: discord.Interaction) -> None:
        number = int(self.select.values[0])
        await start(self.actions, interaction, self.verb, self.message_id, self.pictures, number)


async def start(
    actions: Actions,
    interaction: discord.Interaction,
    verb: Verb,
    message_id: int,
    pictures: list[Upload],
    number: int,
) -> None:
    """Vary picture `number` of the message now (one image), or open the Edit form for it."""
    if verb == "vary":
        await actions.run(interaction, actions.vary(interaction, pictures[number - 1], 1))
    else:
        await actions.run(interaction, actions.open_edit(interaction, message_id, number, 1))


class ContextMenus(commands.Cog):
    """Registers the two message commands where the model can run them."""

    def __init__(self, bot: ImagineBot) -> None:
        self.bot = bot
        profile = bot.profile
        self.menus: list[app_commands.ContextMenu] = []
        if profile.supports_variations or profile.supports_edits:
            self.menus.append(self._menu(locale_str(VARY_MENU), "vary"))
        if profile.supports_edits:
            self.menus.append(self._menu(locale_str(EDIT_MENU), "edit"))

    def _menu(self, name: locale_str, verb: Verb) -> app_commands.ContextMenu:
        async def callback(interaction: discord.Interaction, message: discord.Message) -> None:
            await self.chosen(interaction, message, verb)

        menu = app_commands.ContextMenu(name=name, callback=callback)
        app_commands.allowed_contexts(guilds=True, dms=self.bot.settings.allow_dms)(menu)
        app_commands.allowed_installs(guilds=True, users=False)(menu)
        return menu

    async def chosen(
        self, interaction: discord.Interaction, message: discord.Message, verb: Verb
    ) -> None:
        locale = member_locale(interaction)
        actions = cast(Any, self.bot.get_cog("Actions"))
        pictures = images_of(message)
        if actions is None or not pictures:
            await reply_privately(interaction, text(locale, "actions.no_image"))
            return
        if len(pictures) == 1:
            await start(actions, interaction, verb, message.id, pictures, 1)
            return
        view = PickImage(actions, verb, message.id, pictures, locale)
        await interaction.response.send_message(
            text(locale, "actions.pick.ask"), view=view, ephemeral=True
        )

    async def cog_load(self) -> None:
        for menu in self.menus:
            self.bot.tree.add_command(menu)

    async def cog_unload(self) -> None:
        for menu in self.menus:
            self.bot.tree.remove_command(menu.name, type=menu.type)


async def setup(bot: ImagineBot) -> None:
    await bot.add_cog(ContextMenus(bot))
