"""The fake's world as data: users, roles, channels, members, guilds, attachments, messages."""

from __future__ import annotations

import copy
import datetime as dt
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tests.fakes.discord.cdn import CdnLinks
from tests.fakes.discord.common import (
    APPLICATION_COMMAND,
    DEFAULT_UPLOAD_LIMIT,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    Permission,
    iso,
    utcnow,
)

if TYPE_CHECKING:
    from tests.fakes.discord.interaction import FakeInteraction


@dataclass(eq=False)
class FakeUser:
    """A Discord user."""

    id: int
    username: str
    global_name: str | None = None
    bot: bool = False

    @property
    def mention(self) -> str:
        return f"<@{self.id}>"

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(self.id),
            "username": self.username,
            "global_name": self.global_name,
            "discriminator": "0",
            "avatar": None,
            "banner": None,
            "accent_color": None,
            "public_flags": 0,
            "flags": 0,
            "avatar_decoration_data": None,
        }
        if self.bot:
            payload["bot"] = True
        return payload


@dataclass(eq=False)
class FakeRole:
    """A guild role."""

    id: int
    guild_id: int
    name: str
    permissions: int = 0
    position: int = 0
    color: int = 0
    hoist: bool = False
    managed: bool = False
    mentionable: bool = False

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "color": self.color,
            "colors": {
                "primary_color": self.color,
                "secondary_color": None,
                "tertiary_color": None,
            },
            "hoist": self.hoist,
            "icon": None,
            "unicode_emoji": None,
            "position": self.position,
            "permissions": str(self.permissions),
            "managed": self.managed,
            "mentionable": self.mentionable,
            "flags": 0,
        }


@dataclass(eq=False)
class FakeChannel:
    """A text channel (type 0) in a guild, or a DM channel (type 1)."""

    id: int
    name: str
    type: int = 0
    guild_id: int | None = None
    nsfw: bool = False
    position: int = 0
    topic: str | None = None
    recipients: list[FakeUser] = field(default_factory=list)
    # The bot's permissions here; None means its guild-wide permissions.
    bot_permissions: int | None = None

    @property
    def mention(self) -> str:
        return f"<#{self.id}>"

    def to_payload(self) -> dict[str, Any]:
        if self.type == 1:
            return {
                "id": str(self.id),
                "type": 1,
                "recipients": [u.to_payload() for u in self.recipients],
                "last_message_id": None,
                "flags": 0,
            }
        return {
            "id": str(self.id),
            "type": self.type,
            "guild_id": str(self.guild_id),
            "name": self.name,
            "position": self.position,
            "permission_overwrites": [],
            "nsfw": self.nsfw,
            "topic": self.topic,
            "rate_limit_per_user": 0,
            "parent_id": None,
            "last_message_id": None,
            "flags": 0,
        }

    def partial_payload(self, permissions: int) -> dict[str, Any]:
        payload = self.to_payload()
        if self.type != 1:
            payload["permissions"] = str(permissions)
        return payload


@dataclass(eq=False)
class FakeMember:
    """A user's membership of a guild."""

    user: FakeUser
    guild_id: int
    roles: list[int] = field(default_factory=list)
    nick: str | None = None
    joined_at: dt.datetime = field(default_factory=utcnow)
    # Overrides the permissions computed from roles.
    permissions: int | None = None

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def mention(self) -> str:
        return self.user.mention

    def to_payload(
        self, *, include_user: bool = True, permissions: int | None = None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "nick": self.nick,
            "avatar": None,
            "banner": None,
            "roles": [str(r) for r in self.roles],
            "joined_at": iso(self.joined_at),
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "flags": 0,
            "pending": False,
            "communication_disabled_until": None,
        }
        if include_user:
            payload["user"] = self.user.to_payload()
        if permissions is not None:
            payload["permissions"] = str(permissions)
        return payload


@dataclass(eq=False)
class FakeGuild:
    """A guild with its roles, channels and members."""

    id: int
    name: str
    owner_id: int
    roles: dict[int, FakeRole] = field(default_factory=dict)
    channels: dict[int, FakeChannel] = field(default_factory=dict)
    members: dict[int, FakeMember] = field(default_factory=dict)
    features: list[str] = field(default_factory=list)
    preferred_locale: str = "en-US"
    attachment_size_limit: int = DEFAULT_UPLOAD_LIMIT

    @property
    def everyone_role(self) -> FakeRole:
        return self.roles[self.id]

    def permissions_for(self, user_id: int) -> int:
        """Guild-wide permissions of a member (owner and administrators get all)."""
        member = self.members.get(user_id)
        if member is None:
            return 0
        if member.permissions is not None:
            return member.permissions
        if user_id == self.owner_id:
            return Permission.ALL
        value = self.everyone_role.permissions
        for role_id in member.roles:
            role = self.roles.get(role_id)
            if role is not None:
                value |= role.permissions
        return Permission.ALL if value & Permission.ADMINISTRATOR else value

    def to_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "name": self.name,
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(self.owner_id),
            "roles": [r.to_payload() for r in self.roles.values()],
            "emojis": [],
            "stickers": [],
            "features": list(self.features),
            "member_count": len(self.members),
            "members": [m.to_payload() for m in self.members.values()],
            "channels": [c.to_payload() for c in self.channels.values()],
            "threads": [],
            "presences": [],
            "voice_states": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "large": False,
            "unavailable": False,
            "joined_at": iso(utcnow()),
            "preferred_locale": self.preferred_locale,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "public_updates_channel_id": None,
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "application_id": None,
            "vanity_url_code": None,
            "max_members": 500000,
            "premium_progress_bar_enabled": False,
        }


@dataclass(eq=False)
class FakeAttachment:
    """A file on the fake CDN: the bytes, and what Discord says about them."""

    id: int
    filename: str
    data: bytes
    content_type: str | None
    size: int
    cdn_base: str
    cdn_path: str
    width: int | None = None
    height: int | None = None
    description: str | None = None
    ephemeral: bool = False
    removed: bool = False
    downloads: int = 0

    # Signs this file's links; every file of one fake shares it (and its clock).
    links: CdnLinks = field(default_factory=CdnLinks, repr=False)

    @property
    def url(self) -> str:
        """A signed link, fresh each time it is read (as in every payload Discord sends)."""
        return self.links.sign(self.cdn_base, self.cdn_path)

    @property
    def proxy_url(self) -> str:
        return self.links.sign(self.cdn_base + "/media", self.cdn_path)

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(self.id),
            "filename": self.filename,
            "size": self.size,
            "url": self.url,
            "proxy_url": self.proxy_url,
        }
        if self.content_type is not None:
            payload["content_type"] = self.content_type
        if self.width is not None and self.height is not None:
            payload["width"] = self.width
            payload["height"] = self.height
        if self.description is not None:
            payload["description"] = self.description
        if self.ephemeral:
            payload["ephemeral"] = True
        return payload


def walk_components(components: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for component in components:
        if not isinstance(component, Mapping):
            continue
        yield component
        children = component.get("components")
        if isinstance(children, list):
            yield from walk_components(children)
        for key in ("component", "accessory"):
            child = component.get(key)
            if isinstance(child, Mapping):
                yield from walk_components([child])


@dataclass(eq=False)
class FakeMessage:
    """A message the bot created (channel message, interaction response or followup)."""

    id: int
    channel_id: int
    guild_id: int | None
    author: FakeUser
    # "channel", "callback" (initial response), "followup", or "member" (posted by a member)
    source: str
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[FakeAttachment] = field(default_factory=list)
    # Embed images on the fake CDN, by (embed index, "image"/"thumbnail"): signed afresh on
    # every read, as Discord does.
    embed_files: dict[tuple[int, str], FakeAttachment] = field(default_factory=dict)
    mentions: list[FakeUser] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    tts: bool = False
    message_reference: dict[str, Any] | None = None
    interaction: FakeInteraction | None = None
    application_id: int | None = None
    created_at: dt.datetime = field(default_factory=utcnow)
    edited_at: dt.datetime | None = None
    edit_count: int = 0
    deleted: bool = False

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def loading(self) -> bool:
        return bool(self.flags & FLAG_LOADING)

    def custom_ids(self) -> list[str]:
        return [str(c["custom_id"]) for c in walk_components(self.components) if "custom_id" in c]

    def component(self, custom_id: str) -> Mapping[str, Any] | None:
        for c in walk_components(self.components):
            if c.get("custom_id") == custom_id:
                return c
        return None

    def _embeds_payload(self) -> list[dict[str, Any]]:
        embeds = copy.deepcopy(self.embeds)
        for (index, key), att in self.embed_files.items():
            if index < len(embeds) and isinstance(embeds[index].get(key), dict):
                embeds[index][key].update(url=att.url, proxy_url=att.proxy_url)
        return embeds

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "type": self.type,
            "content": self.content,
            "author": self.author.to_payload(),
            "attachments": [a.to_payload() for a in self.attachments],
            "embeds": self._embeds_payload(),
            "components": copy.deepcopy(self.components),
            "mentions": [u.to_payload() for u in self.mentions],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": self.tts,
            "timestamp": iso(self.created_at),
            "edited_timestamp": iso(self.edited_at),
            "flags": self.flags,
        }
        if self.message_reference is not None:
            payload["message_reference"] = dict(self.message_reference)
        inter = self.interaction
        if inter is not None:
            payload["webhook_id"] = str(self.application_id)
            payload["application_id"] = str(self.application_id)
            metadata: dict[str, Any] = {
                "id": str(inter.id),
                "type": inter.type,
                "user": inter.user.to_payload(),
                "authorizing_integration_owners": dict(
                    inter.payload.get("authorizing_integration_owners", {})
                ),
            }
            if inter.type == APPLICATION_COMMAND:
                data = inter.payload.get("data") or {}
                metadata["name"] = inter.name
                metadata["command_type"] = data.get("type", 1)
                if "target_id" in data:
                    metadata["target_message_id"] = data["target_id"]
            if self.source == "followup" and inter.original is not None:
                metadata["original_response_message_id"] = str(inter.original.id)
            if inter.source_message is not None:
                metadata["interacted_message_id"] = str(inter.source_message.id)
            payload["interaction_metadata"] = metadata
        return payload


@dataclass(frozen=True)
class SeenMessage:
    """What the member saw at one moment: a snapshot of a message, with the files' bytes."""

    via: str  # "callback", "update", "edit_original", "followup", "edit_followup" or "channel"
    message: FakeMessage
    content: str
    embeds: list[dict[str, Any]]
    components: list[dict[str, Any]]
    flags: int
    files: tuple[FakeAttachment, ...]
    at: float
    elapsed: float | None  # seconds since the INTERACTION_CREATE was sent

    @property
    def message_id(self) -> int:
        return self.message.id

    @property
    def channel_id(self) -> int:
        return self.message.channel_id

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)

    @property
    def filenames(self) -> list[str]:
        return [f.filename for f in self.files]

    def custom_ids(self) -> list[str]:
        return [str(c["custom_id"]) for c in walk_components(self.components) if "custom_id" in c]

    @classmethod
    def of(cls, message: FakeMessage, via: str, sent_at: float | None) -> SeenMessage:
        now = time.monotonic()
        return cls(
            via=via,
            message=message,
            content=message.content,
            embeds=copy.deepcopy(message.embeds),
            components=copy.deepcopy(message.components),
            flags=message.flags,
            files=tuple(message.attachments),
            at=now,
            elapsed=None if sent_at is None else now - sent_at,
        )
