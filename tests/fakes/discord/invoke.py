"""What a member does with a slash command, sent as an interaction (the rest: ``actions``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from tests.fakes.discord.common import (
    APPLICATION_COMMAND,
    DEFAULT_UPLOAD_LIMIT,
    snowflake_time,
)
from tests.fakes.discord.interaction import FakeInteraction
from tests.fakes.discord.models import (
    FakeAttachment,
    FakeChannel,
    FakeGuild,
    FakeMember,
    FakeMessage,
    FakeRole,
    FakeUser,
)
from tests.fakes.discord.validation_commands import is_int
from tests.fakes.discord.world import World


class InteractionSender(World):
    """Sends INTERACTION_CREATE events as a member would cause them."""

    # ------------------------------------------------------------------ interactions

    def _resolve_user(self, who: FakeUser | FakeMember | int | None) -> FakeUser:
        if who is None:
            return (
                self.member
                if hasattr(self, "member")
                else next(u for u in self.users.values() if not u.bot)
            )
        if isinstance(who, FakeMember):
            return who.user
        if isinstance(who, FakeUser):
            return who
        return self.users[who]

    def _interaction_base(
        self,
        *,
        interaction_type: int,
        user: FakeUser,
        channel: FakeChannel,
        created_at: dt.datetime | None,
        attachment_size_limit: int | None,
        app_permissions: int | None,
        locale: str,
    ) -> tuple[int, str, dict[str, Any], int]:
        iid = self._ids.next(created_at)
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(48)
        guild = self.guilds.get(channel.guild_id) if channel.guild_id is not None else None
        limit = attachment_size_limit
        if limit is None:
            limit = guild.attachment_size_limit if guild is not None else DEFAULT_UPLOAD_LIMIT
        if app_permissions is None:
            app_permissions = self.bot_permissions_in(channel)
        payload: dict[str, Any] = {
            "id": str(iid),
            "application_id": str(self.application_id),
            "type": interaction_type,
            "token": token,
            "version": 1,
            "locale": locale,
            "app_permissions": str(app_permissions),
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": limit,
            "channel_id": str(channel.id),
        }
        if guild is not None:
            member = guild.members.get(user.id)
            if member is None:
                raise ValueError(f"{user.username} is not a member of {guild.name}")
            perms = guild.permissions_for(user.id)
            payload.update(
                guild_id=str(guild.id),
                guild={
                    "id": str(guild.id),
                    "locale": guild.preferred_locale,
                    "features": guild.features,
                },
                guild_locale=guild.preferred_locale,
                member=member.to_payload(permissions=perms),
                channel=channel.partial_payload(perms),
                authorizing_integration_owners={"0": str(guild.id)},
                context=0,
            )
        else:
            payload.update(
                user=user.to_payload(),
                channel=channel.partial_payload(0),
                authorizing_integration_owners={"0": "0"},
                context=1,
            )
        return iid, token, payload, limit

    def _pick_channel(self, channel_id: int | None, guild_id: int | None) -> FakeChannel:
        if channel_id is not None:
            return self.channels[channel_id]
        if guild_id is not None:
            return next(c for c in self.guilds[guild_id].channels.values() if c.type == 0)
        if hasattr(self, "text_channel"):
            return self.text_channel
        return next(c for c in self.channels.values() if c.type == 0)

    async def _send_interaction(
        self, interaction: FakeInteraction, timeout: float
    ) -> FakeInteraction:
        self.interactions.append(interaction)
        self._interactions_by_token[interaction.token] = interaction
        self._pending_by_user_channel[(interaction.user.id, interaction.channel_id)].append(
            interaction
        )
        self.dispatch("INTERACTION_CREATE", interaction.payload, interaction._mark_sent)
        await asyncio.wait_for(asyncio.shield(interaction._sent), timeout)
        return interaction

    async def _send_as(
        self,
        interaction_type: int,
        name: str,
        data: dict[str, Any],
        *,
        user: FakeUser,
        channel: FakeChannel,
        source: FakeMessage | None,
        created_at: dt.datetime | None = None,
        attachment_size_limit: int | None = None,
        app_permissions: int | None = None,
        locale: str = "en-US",
        timeout: float,
    ) -> FakeInteraction:
        """Build the interaction around ``data`` (``source``: the message acted on) and send it."""
        iid, token, payload, limit = self._interaction_base(
            interaction_type=interaction_type,
            user=user,
            channel=channel,
            created_at=created_at,
            attachment_size_limit=attachment_size_limit,
            app_permissions=app_permissions,
            locale=locale,
        )
        payload["data"] = data
        if source is not None and interaction_type != APPLICATION_COMMAND:
            payload["message"] = source.to_payload()
        interaction = FakeInteraction(
            self,
            id=iid,
            token=token,
            type=interaction_type,
            name=name,
            payload=payload,
            user=user,
            guild_id=channel.guild_id,
            channel_id=channel.id,
            created_at=snowflake_time(iid),
            attachment_size_limit=limit,
            source_message=source if interaction_type != APPLICATION_COMMAND else None,
        )
        return await self._send_interaction(interaction, timeout)

    def _option_value(
        self,
        definition: Mapping[str, Any],
        value: Any,
        resolved: dict[str, dict[str, Any]],
        guild: FakeGuild | None,
    ) -> Any:
        opt_type = definition["type"]
        if opt_type == 3:
            return str(value)
        if opt_type == 4:
            if not is_int(value):
                raise TypeError(f"option {definition['name']!r} takes an int, not {value!r}")
            return value
        if opt_type == 5:
            return bool(value)
        if opt_type == 10:
            return value
        if opt_type == 11:
            if isinstance(value, FakeAttachment):
                payload = value.to_payload()
            elif isinstance(value, Mapping):
                payload = dict(value)
            else:
                payload = self.attachment(value).to_payload()
            resolved.setdefault("attachments", {})[payload["id"]] = payload
            return payload["id"]
        if opt_type == 8 or (opt_type == 9 and isinstance(value, FakeRole)):
            role = (
                value if isinstance(value, FakeRole) else guild.roles[int(value)] if guild else None
            )
            if role is None:
                raise ValueError("role options need a guild")
            resolved.setdefault("roles", {})[str(role.id)] = role.to_payload()
            return str(role.id)
        if opt_type in (6, 9):
            user = self._resolve_user(value)
            resolved.setdefault("users", {})[str(user.id)] = user.to_payload()
            if guild is not None and user.id in guild.members:
                member = guild.members[user.id]
                resolved.setdefault("members", {})[str(user.id)] = member.to_payload(
                    include_user=False, permissions=guild.permissions_for(user.id)
                )
            return str(user.id)
        if opt_type == 7:
            channel = value if isinstance(value, FakeChannel) else self.channels[int(value)]
            perms = self.bot_permissions_in(channel)
            resolved.setdefault("channels", {})[str(channel.id)] = channel.partial_payload(perms)
            return str(channel.id)
        raise ValueError(f"unsupported option type {opt_type}")

    def _build_options(
        self,
        definitions: Sequence[Mapping[str, Any]],
        values: Mapping[str, Any],
        resolved: dict[str, dict[str, Any]],
        guild: FakeGuild | None,
        command: str,
    ) -> list[dict[str, Any]]:
        by_name = {d["name"]: d for d in definitions}
        options = []
        for name, value in values.items():
            definition = by_name.get(name)
            if definition is None:
                raise ValueError(f"command {command!r} has no option {name!r}")
            if value is None:
                continue
            options.append(
                {
                    "name": name,
                    "type": definition["type"],
                    "value": self._option_value(definition, value, resolved, guild),
                }
            )
        missing = [d["name"] for d in definitions if d.get("required") and d["name"] not in values]
        if missing:
            raise ValueError(f"command {command!r} needs options {missing}")
        return options

    async def invoke(
        self,
        name: str,
        options: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None,
        *,
        user: FakeUser | FakeMember | int | None = None,
        guild_id: int | None = None,
        channel_id: int | None = None,
        subcommand: str | None = None,
        attachments: Sequence[Mapping[str, Any] | FakeAttachment] = (),
        attachment_size_limit: int | None = None,
        created_at: dt.datetime | None = None,
        app_permissions: int | None = None,
        locale: str = "en-US",
        timeout: float = 10.0,
    ) -> FakeInteraction:
        """Send a slash command (INTERACTION_CREATE type 2) for a registered command.

        ``options`` maps option names to values (FakeUser/FakeMember for users, FakeRole,
        FakeChannel, and an attachment payload from add_attachment); a list is sent raw.
        ``subcommand`` is "sub" or "group sub". ``created_at`` dates the interaction (its
        token expires 15 minutes later). The channel decides the guild (a DM channel: no guild).
        Returns once the event is written to the gateway.
        """
        author = self._resolve_user(user)
        channel = self._pick_channel(channel_id, guild_id)
        guild = self.guilds.get(channel.guild_id) if channel.guild_id is not None else None
        command = self._find_command(name, guild.id if guild is not None else None)
        data = self._command_data(name, command, options, subcommand, attachments, guild)
        return await self._send_as(
            APPLICATION_COMMAND,
            name,
            data,
            user=author,
            channel=channel,
            source=None,
            created_at=created_at,
            attachment_size_limit=attachment_size_limit,
            app_permissions=app_permissions,
            locale=locale,
            timeout=timeout,
        )

    def _command_data(
        self,
        name: str,
        command: Mapping[str, Any],
        options: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None,
        subcommand: str | None,
        attachments: Sequence[Mapping[str, Any] | FakeAttachment],
        guild: FakeGuild | None,
    ) -> dict[str, Any]:
        """The interaction's ``data``: options under their subcommands, and what they resolve."""
        resolved: dict[str, dict[str, Any]] = {}
        for extra in attachments:
            payload = extra.to_payload() if isinstance(extra, FakeAttachment) else dict(extra)
            resolved.setdefault("attachments", {})[payload["id"]] = payload
        definitions: Sequence[Mapping[str, Any]] = command.get("options") or []
        path = subcommand.split() if subcommand else []
        chain: list[tuple[str, int]] = []
        for part in path:
            definition = next(
                (d for d in definitions if d["name"] == part and d["type"] in (1, 2)), None
            )
            if definition is None:
                raise ValueError(f"command {name!r} has no subcommand {part!r}")
            chain.append((part, definition["type"]))
            definitions = definition.get("options") or []
        if isinstance(options, Mapping) or options is None:
            built = self._build_options(definitions, options or {}, resolved, guild, name)
        else:
            built = [dict(o) for o in options]
        for part, part_type in reversed(chain):
            built = [{"name": part, "type": part_type, "options": built}]
        data: dict[str, Any] = {"id": command["id"], "name": name, "type": 1, "options": built}
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        if resolved:
            data["resolved"] = resolved
        return data
