"""Building the world: guilds, roles, channels, members, CDN files and stored commands."""

from __future__ import annotations

import copy
import io
import mimetypes
import warnings
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

from tests.fakes.discord.common import DEFAULT_UPLOAD_LIMIT, Permission, shard_of
from tests.fakes.discord.models import (
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeRole,
    FakeUser,
)
from tests.fakes.discord.state import DiscordState
from tests.fakes.discord.validation_commands import normalize_command


def _image_size(data: bytes) -> tuple[int | None, int | None]:
    try:
        from PIL import Image  # optional: only for width/height hints
    except ImportError:
        return None, None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None, None
    return width, height


class World(DiscordState):
    """Adds users, guilds, roles, channels, members, files and commands to the fake."""

    # ------------------------------------------------------------------ world model

    def _populate(self) -> None:
        self.owner = self.add_user("owner", global_name="Guild Owner")
        self.moderator = self.add_user("moderator", global_name="Mod")
        self.member = self.add_user("member", global_name="Member")
        self.other_member = self.add_user("other", global_name="Other Member")
        self.guild = self.add_guild("Imagine Test Guild", owner=self.owner)
        self.moderator_role = self.add_role(
            self.guild, "Moderators", permissions=Permission.MODERATOR_DEFAULT
        )
        self.add_member(self.guild, self.moderator, roles=[self.moderator_role.id])
        self.add_member(self.guild, self.member)
        self.add_member(self.guild, self.other_member)
        self.text_channel = self.add_channel(self.guild, "general")
        self.other_channel = self.add_channel(self.guild, "images")
        self.nsfw_channel = self.add_channel(self.guild, "after-dark", nsfw=True)
        self.dm_channel = self.add_dm_channel(self.member)

    def add_user(
        self, username: str, *, global_name: str | None = None, bot: bool = False
    ) -> FakeUser:
        user = FakeUser(self._ids.next(), username, global_name=global_name, bot=bot)
        self.users[user.id] = user
        return user

    def add_guild(
        self,
        name: str = "Guild",
        *,
        owner: FakeUser | None = None,
        attachment_size_limit: int = DEFAULT_UPLOAD_LIMIT,
        features: Sequence[str] = (),
        on_shard: tuple[int, int] | None = None,
    ) -> FakeGuild:
        """A guild with @everyone, the owner and the bot (with its managed role); with
        `on_shard` (shard, count), one whose id Discord routes to that shard."""
        owner = owner or self.add_user(f"{name.lower().replace(' ', '-')}-owner")
        guild_id = self._ids.next()
        while on_shard is not None and shard_of(guild_id, on_shard[1]) != on_shard[0]:
            guild_id = self._ids.next()  # the id's millisecond decides the shard
        guild = FakeGuild(
            guild_id,
            name,
            owner.id,
            features=list(features),
            attachment_size_limit=attachment_size_limit,
        )
        guild.roles[guild_id] = FakeRole(
            guild_id, guild_id, "@everyone", permissions=Permission.EVERYONE_DEFAULT
        )
        bot_role = FakeRole(
            self._ids.next(),
            guild_id,
            self.bot_user.username,
            permissions=Permission.BOT_DEFAULT,
            position=1,
            managed=True,
        )
        guild.roles[bot_role.id] = bot_role
        guild.members[owner.id] = FakeMember(owner, guild_id)
        guild.members[self.bot_user.id] = FakeMember(self.bot_user, guild_id, roles=[bot_role.id])
        self.guilds[guild_id] = guild
        self._dispatch_if_connected("GUILD_CREATE", guild.to_payload)
        return guild

    def _guild(self, guild: FakeGuild | int) -> FakeGuild:
        return guild if isinstance(guild, FakeGuild) else self.guilds[guild]

    def add_role(self, guild: FakeGuild | int, name: str, *, permissions: int = 0) -> FakeRole:
        g = self._guild(guild)
        role = FakeRole(
            self._ids.next(), g.id, name, permissions=permissions, position=len(g.roles)
        )
        g.roles[role.id] = role
        self._dispatch_if_connected(
            "GUILD_ROLE_CREATE", lambda: {"guild_id": str(g.id), "role": role.to_payload()}
        )
        return role

    def add_channel(
        self,
        guild: FakeGuild | int,
        name: str,
        *,
        nsfw: bool = False,
        topic: str | None = None,
        bot_permissions: int | None = None,
    ) -> FakeChannel:
        g = self._guild(guild)
        channel = FakeChannel(
            self._ids.next(),
            name,
            0,
            g.id,
            nsfw=nsfw,
            position=len(g.channels),
            topic=topic,
            bot_permissions=bot_permissions,
        )
        g.channels[channel.id] = channel
        self.channels[channel.id] = channel
        self._dispatch_if_connected("CHANNEL_CREATE", channel.to_payload)
        return channel

    def add_dm_channel(self, user: FakeUser) -> FakeChannel:
        existing = self._dm_by_user.get(user.id)
        if existing is not None:
            return existing
        channel = FakeChannel(self._ids.next(), "", 1, recipients=[user])
        self.channels[channel.id] = channel
        self._dm_by_user[user.id] = channel
        return channel

    def add_member(
        self,
        guild: FakeGuild | int,
        user: FakeUser | str,
        *,
        roles: Sequence[FakeRole | int] = (),
        nick: str | None = None,
        permissions: int | None = None,
    ) -> FakeMember:
        """Add a member (a new user when given a name); permissions overrides the role sum."""
        g = self._guild(guild)
        if isinstance(user, str):
            user = self.add_user(user)
        member = FakeMember(
            user,
            g.id,
            [r.id if isinstance(r, FakeRole) else r for r in roles],
            nick=nick,
            permissions=permissions,
        )
        g.members[user.id] = member
        self._dispatch_if_connected(
            "GUILD_MEMBER_ADD", lambda: {**member.to_payload(), "guild_id": str(g.id)}
        )
        return member

    def channel(self, channel_id: int) -> FakeChannel:
        return self.channels[channel_id]

    def bot_permissions_in(self, channel: FakeChannel) -> int:
        if channel.type == 1:
            return Permission.BOT_DEFAULT
        if channel.bot_permissions is not None:
            return channel.bot_permissions
        assert channel.guild_id is not None
        return self.guilds[channel.guild_id].permissions_for(self.bot_user.id)

    # ------------------------------------------------------------------ attachments

    def add_attachment(
        self,
        data: bytes,
        filename: str = "image.png",
        content_type: str | None = None,
        *,
        declared_size: int | None = None,
        width: int | None = None,
        height: int | None = None,
        description: str | None = None,
        ephemeral: bool = True,
    ) -> dict[str, Any]:
        """Put a file on the CDN, as for a slash command's ATTACHMENT option; returns its payload.

        ``declared_size``, ``width`` and ``height`` are what Discord claims (they may lie);
        width and height are read from the image when not given.
        """
        att = self._store_file(
            data,
            filename,
            content_type,
            scope=f"ephemeral-attachments/{self.application_id}" if ephemeral else "attachments/0",
            declared_size=declared_size,
            width=width,
            height=height,
            description=description,
            ephemeral=ephemeral,
        )
        return att.to_payload()

    def attachment(self, attachment_id: int | str) -> FakeAttachment:
        return self._attachments[int(attachment_id)]

    def remove_attachment(self, attachment_id: int | str) -> None:
        """Make the CDN answer 404 for this file (an expired or deleted upload)."""
        self._attachments[int(attachment_id)].removed = True

    def _store_file(
        self,
        data: bytes,
        filename: str,
        content_type: str | None,
        *,
        scope: str,
        declared_size: int | None = None,
        width: int | None = None,
        height: int | None = None,
        description: str | None = None,
        ephemeral: bool = False,
    ) -> FakeAttachment:
        att_id = self._ids.next()
        if content_type is None:
            content_type = mimetypes.guess_type(filename)[0]
        if width is None and height is None and (content_type or "").startswith("image/"):
            width, height = _image_size(data)
        att = FakeAttachment(
            id=att_id,
            filename=filename,
            data=bytes(data),
            content_type=content_type,
            size=len(data) if declared_size is None else declared_size,
            cdn_base=self.cdn_base,
            cdn_path=f"/{scope}/{att_id}/{quote(filename)}",
            width=width,
            height=height,
            description=description,
            ephemeral=ephemeral,
            links=self.cdn_links,
        )
        self._attachments[att_id] = att
        return att

    # ------------------------------------------------------------------ commands

    def registered_commands(self, guild_id: int | None = None) -> list[dict[str, Any]]:
        """The commands as Discord stores them (global when guild_id is None)."""
        return [copy.deepcopy(c) for c in self._commands.get(guild_id, {}).values()]

    def _find_command(self, name: str, guild_id: int | None, cmd_type: int = 1) -> dict[str, Any]:
        for scope in (guild_id, None) if guild_id is not None else (None,):
            cid = self._command_ids.get((scope, cmd_type, name))
            if cid is not None and cid in self._commands.get(scope, {}):
                return self._commands[scope][cid]
        raise LookupError(
            f"no registered command {name!r} (sync the command tree before invoking it)"
        )

    def _store_command(
        self, cmd: Mapping[str, Any], guild_id: int | None, target: dict[int, dict[str, Any]]
    ) -> dict[str, Any]:
        normalized = normalize_command(cmd, guild_id)
        key = (guild_id, normalized["type"], normalized["name"])
        cid = self._command_ids.get(key)
        previous = self._commands.get(guild_id, {}).get(cid) if cid is not None else None
        if cid is None:
            cid = self._ids.next()
            self._command_ids[key] = cid
        core = {
            k: v
            for k, v in (previous or {}).items()
            if k not in ("id", "application_id", "version", "guild_id")
        }
        version = (
            previous["version"]
            if previous is not None and core == normalized
            else str(self._ids.next())
        )
        stored = {
            "id": str(cid),
            "application_id": str(self.application_id),
            "version": version,
            **normalized,
        }
        if guild_id is not None:
            stored["guild_id"] = str(guild_id)
        target[cid] = stored
        return stored
