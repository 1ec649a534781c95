"""A fake Discord on 127.0.0.1: REST API (``/api/v10``), gateway websocket and attachment CDN.

The real discord.py client logs in, connects its gateway, syncs commands, receives interactions
and answers them against this one aiohttp server. What Discord would reject is rejected here
too (command and message limits, upload sizes, expired tokens, double acknowledgements) and
recorded in ``FakeDiscord.violations``::

    async with FakeDiscord() as fake, fake.running(bot):  # also points discord.py at the fake
        await bot.tree.sync(guild=discord.Object(fake.guild.id))
        image = fake.add_attachment(png_bytes, "cat.png")
        interaction = await fake.invoke("imagine", {"prompt": "a cat", "image": image})
        assert (await interaction.wait_for_response()).type == 5
        seen = await interaction.wait_for_final()
        assert seen.files[0].data.startswith(b"\\x89PNG")

``fake.running(bot)`` waits for the fake's own READY, not for ``on_ready``: discord.py fires
``on_ready`` only ``guild_ready_timeout`` (default 2 s) after the last GUILD_CREATE, so a test
that waits for it should build the bot with ``guild_ready_timeout=0.05``.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime as dt
import fnmatch
import hashlib
import io
import itertools
import json
import logging
import math
import mimetypes
import re
import secrets
import time
import warnings
from collections import defaultdict, deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, TypeGuard
from urllib.parse import quote, unquote

import yarl
from aiohttp import WSMsgType, web

if TYPE_CHECKING:
    import discord

log = logging.getLogger(__name__)

__all__ = [
    "Callback",
    "CommandPut",
    "DiscordError",
    "FakeAttachment",
    "FakeChannel",
    "FakeDiscord",
    "FakeGuild",
    "FakeInteraction",
    "FakeMember",
    "FakeMessage",
    "FakeRole",
    "FakeUser",
    "Permission",
    "RecordedRequest",
    "SeenMessage",
    "UploadedFile",
    "Violation",
    "point_discord_py_at",
]

API_PREFIX: Final = "/api/v10"
GATEWAY_PATH: Final = "/gateway"
DISCORD_EPOCH_MS: Final = 1_420_070_400_000
MIB: Final = 1024 * 1024
DEFAULT_UPLOAD_LIMIT: Final = 10 * MIB
TOKEN_LIFETIME: Final = dt.timedelta(minutes=15)
INT53: Final = 2**53 - 1

# Message flags.
FLAG_SUPPRESS_EMBEDS: Final = 1 << 2
FLAG_EPHEMERAL: Final = 1 << 6
FLAG_LOADING: Final = 1 << 7
FLAG_SUPPRESS_NOTIFICATIONS: Final = 1 << 12
FLAG_VOICE_MESSAGE: Final = 1 << 13
FLAG_COMPONENTS_V2: Final = 1 << 15
_CALLBACK_FLAGS: Final = (
    FLAG_SUPPRESS_EMBEDS
    | FLAG_EPHEMERAL
    | FLAG_SUPPRESS_NOTIFICATIONS
    | FLAG_VOICE_MESSAGE
    | FLAG_COMPONENTS_V2
)
_CHANNEL_FLAGS: Final = (
    FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_VOICE_MESSAGE | FLAG_COMPONENTS_V2
)

# Interaction and callback types.
APPLICATION_COMMAND: Final = 2
MESSAGE_COMPONENT: Final = 3
MODAL_SUBMIT: Final = 5
CHANNEL_MESSAGE: Final = 4
DEFERRED_CHANNEL_MESSAGE: Final = 5
DEFERRED_UPDATE_MESSAGE: Final = 6
UPDATE_MESSAGE: Final = 7
AUTOCOMPLETE_RESULT: Final = 8
MODAL: Final = 9

_MENTION_RE: Final = re.compile(r"<@!?(\d+)>")
# Python's re has no \p{L}; \w is the unicode letters, digits and underscore.
_COMMAND_NAME_RE: Final = re.compile(r"^[-_'\w\u0900-\u097F\u0E00-\u0E7F]{1,32}$")
_FILES_PART_RE: Final = re.compile(r"files\[(\d+)\]")
# Interaction routes authenticate with the token in the path, not the bot token.
_NO_AUTH_PREFIXES: Final = ("/webhooks/", "/interactions/")


class Permission:
    """Discord permission bits used by the fake's world model."""

    CREATE_INSTANT_INVITE: Final = 1 << 0
    KICK_MEMBERS: Final = 1 << 1
    BAN_MEMBERS: Final = 1 << 2
    ADMINISTRATOR: Final = 1 << 3
    MANAGE_CHANNELS: Final = 1 << 4
    MANAGE_GUILD: Final = 1 << 5
    ADD_REACTIONS: Final = 1 << 6
    VIEW_CHANNEL: Final = 1 << 10
    SEND_MESSAGES: Final = 1 << 11
    MANAGE_MESSAGES: Final = 1 << 13
    EMBED_LINKS: Final = 1 << 14
    ATTACH_FILES: Final = 1 << 15
    READ_MESSAGE_HISTORY: Final = 1 << 16
    MENTION_EVERYONE: Final = 1 << 17
    USE_EXTERNAL_EMOJIS: Final = 1 << 18
    CHANGE_NICKNAME: Final = 1 << 26
    USE_APPLICATION_COMMANDS: Final = 1 << 31
    SEND_MESSAGES_IN_THREADS: Final = 1 << 38
    MODERATE_MEMBERS: Final = 1 << 40
    ALL: Final = (1 << 51) - 1

    EVERYONE_DEFAULT: Final = (
        CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | USE_EXTERNAL_EMOJIS
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS
        | SEND_MESSAGES_IN_THREADS
    )
    BOT_DEFAULT: Final = (
        VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | ADD_REACTIONS
        | USE_APPLICATION_COMMANDS
        | SEND_MESSAGES_IN_THREADS
    )
    MODERATOR_DEFAULT: Final = MANAGE_MESSAGES | MODERATE_MEMBERS | KICK_MEMBERS


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _iso(when: dt.datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def snowflake_time(snowflake: int) -> dt.datetime:
    """When a snowflake id was made."""
    return dt.datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, dt.UTC)


class _Snowflakes:
    """Unique snowflake ids whose timestamp is now or a given time."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self, at: dt.datetime | None = None) -> int:
        ms = int((at or _utcnow()).timestamp() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (1 << 17) | (next(self._counter) & 0x1FFFF)


class _Signal:
    """Wakes every waiter after each change; waiters re-check their own condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self) -> None:
        await self._event.wait()


def _json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    # discord.py parses a body only when Content-Type is exactly application/json.
    all_headers = {"Content-Type": "application/json"}
    if headers:
        all_headers.update(headers)
    return web.Response(body=json.dumps(data).encode(), status=status, headers=all_headers)


class DiscordError(Exception):
    """An error answer shaped like Discord's: ``{"code", "message", "errors"?}``."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        errors: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"message": self.message, "code": self.code}
        if self.errors:
            body["errors"] = self.errors
        return body


class _Errors:
    """Collects field errors into Discord's nested ``errors`` object."""

    def __init__(self) -> None:
        self.tree: dict[str, Any] = {}
        self.flat: list[tuple[str, str, str]] = []

    def add(self, path: Sequence[str | int], code: str, message: str) -> None:
        node = self.tree
        for part in path:
            node = node.setdefault(str(part), {})
        node.setdefault("_errors", []).append({"code": code, "message": message})
        self.flat.append((".".join(str(p) for p in path), code, message))

    def __bool__(self) -> bool:
        return bool(self.flat)


# --------------------------------------------------------------------------- world model


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
    joined_at: dt.datetime = field(default_factory=_utcnow)
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
            "joined_at": _iso(self.joined_at),
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
            "joined_at": _iso(_utcnow()),
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


# --------------------------------------------------------------------------- messages


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

    def _signed(self, base: str) -> str:
        now = int(time.time())
        expires = now + 24 * 3600
        mac = hashlib.sha256(f"{self.cdn_path}:{expires}".encode()).hexdigest()
        return f"{base}{self.cdn_path}?ex={expires:x}&is={now:x}&hm={mac}&"

    @property
    def url(self) -> str:
        return self._signed(self.cdn_base)

    @property
    def proxy_url(self) -> str:
        return self._signed(self.cdn_base + "/media")

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


def _walk_components(components: Iterable[Mapping[str, Any]]) -> Iterator[Mapping[str, Any]]:
    for component in components:
        if not isinstance(component, Mapping):
            continue
        yield component
        children = component.get("components")
        if isinstance(children, list):
            yield from _walk_components(children)
        for key in ("component", "accessory"):
            child = component.get(key)
            if isinstance(child, Mapping):
                yield from _walk_components([child])


@dataclass(eq=False)
class FakeMessage:
    """A message the bot created (channel message, interaction response or followup)."""

    id: int
    channel_id: int
    guild_id: int | None
    author: FakeUser
    source: str  # "channel", "callback" (initial response) or "followup"
    content: str = ""
    embeds: list[dict[str, Any]] = field(default_factory=list)
    components: list[dict[str, Any]] = field(default_factory=list)
    attachments: list[FakeAttachment] = field(default_factory=list)
    mentions: list[FakeUser] = field(default_factory=list)
    flags: int = 0
    type: int = 0
    tts: bool = False
    message_reference: dict[str, Any] | None = None
    interaction: FakeInteraction | None = None
    application_id: int | None = None
    created_at: dt.datetime = field(default_factory=_utcnow)
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
        return [str(c["custom_id"]) for c in _walk_components(self.components) if "custom_id" in c]

    def component(self, custom_id: str) -> Mapping[str, Any] | None:
        for c in _walk_components(self.components):
            if c.get("custom_id") == custom_id:
                return c
        return None

    def to_payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": str(self.id),
            "channel_id": str(self.channel_id),
            "type": self.type,
            "content": self.content,
            "author": self.author.to_payload(),
            "attachments": [a.to_payload() for a in self.attachments],
            "embeds": copy.deepcopy(self.embeds),
            "components": copy.deepcopy(self.components),
            "mentions": [u.to_payload() for u in self.mentions],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": self.tts,
            "timestamp": _iso(self.created_at),
            "edited_timestamp": _iso(self.edited_at),
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
                metadata["name"] = inter.name
                metadata["command_type"] = 1
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
        return [str(c["custom_id"]) for c in _walk_components(self.components) if "custom_id" in c]

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


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class UploadedFile:
    """One ``files[n]`` part of a multipart request."""

    index: int | None
    name: str
    filename: str
    content_type: str | None
    data: bytes


@dataclass(eq=False)
class RecordedRequest:
    """A REST or CDN request the fake received, with the answer it gave."""

    method: str
    path: str  # relative to /api/v10 for the API; the URL path for the CDN
    route: str  # the route template, e.g. "/channels/{channel_id}/messages"
    kind: str  # "api" or "cdn"
    query: dict[str, str]
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival (its headers read)
    body_at: float | None = None  # time.monotonic() once its body was read, before parsing it
    json: Any = None  # the JSON body, or the payload_json part of a multipart body
    files: list[UploadedFile] = field(default_factory=list)
    form: dict[str, str] = field(default_factory=dict)
    status: int = 0  # 0 while in flight
    response: Any = None
    injected: bool = False  # answered by rate_limit_next / fail_next


@dataclass(eq=False)
class Callback:
    """An initial interaction response (POST .../callback) as Discord judged it."""

    type: int
    data: dict[str, Any] | None
    files: list[UploadedFile]
    at: float
    elapsed: float | None  # seconds since the INTERACTION_CREATE was sent
    status: int = 0
    error_code: int | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def flags(self) -> int:
        return int((self.data or {}).get("flags") or 0)

    @property
    def ephemeral(self) -> bool:
        return bool(self.flags & FLAG_EPHEMERAL)


@dataclass(frozen=True)
class Violation:
    """A request Discord would have rejected (or a timing rule the bot broke)."""

    kind: str  # "command", "message", "upload", "interaction" or "deadline"
    method: str
    path: str
    status: int
    code: int
    message: str
    errors: list[tuple[str, str, str]]  # (field path, error code, message)
    body: Any


@dataclass(frozen=True)
class CommandPut:
    """One bulk overwrite of commands (PUT), global when guild_id is None."""

    guild_id: int | None
    commands: list[dict[str, Any]]
    at: float
    status: int


@dataclass
class _Fault:
    method: str
    pattern: str | re.Pattern[str]
    times: int
    respond: Callable[[], web.Response]

    def matches(self, method: str, path: str) -> bool:
        if self.method not in ("*", method):
            return False
        if isinstance(self.pattern, re.Pattern):
            return self.pattern.fullmatch(path) is not None
        return fnmatch.fnmatchcase(path, self.pattern)


_RECORD: Final = web.RequestKey("record", RecordedRequest)


# --------------------------------------------------------------------------- interactions


class FakeInteraction:
    """An interaction the fake sent to the bot, and everything the bot answered to it."""

    def __init__(
        self,
        fake: FakeDiscord,
        *,
        id: int,
        token: str,
        type: int,
        name: str,
        payload: dict[str, Any],
        user: FakeUser,
        guild_id: int | None,
        channel_id: int,
        created_at: dt.datetime,
        attachment_size_limit: int,
        source_message: FakeMessage | None = None,
    ) -> None:
        self._fake = fake
        self.id = id
        self.token = token
        self.type = type
        self.name = name
        self.payload = payload
        self.user = user
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.created_at = created_at
        self.attachment_size_limit = attachment_size_limit
        self.source_message = source_message
        self.sent_at: float | None = None
        self.callbacks: list[Callback] = []  # accepted ones (at most one)
        self.callback_attempts: list[Callback] = []  # every one that reached the fake's logic
        self.original: FakeMessage | None = None  # the @original message
        self.original_edits: list[RecordedRequest] = []
        self.followups: list[FakeMessage] = []
        self.seen: list[SeenMessage] = []
        self._changed = _Signal()
        self._sent: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def __repr__(self) -> str:
        return (
            f"<FakeInteraction id={self.id} type={self.type} name={self.name!r}"
            f" callbacks={[c.type for c in self.callback_attempts]}"
            f" followups={len(self.followups)} seen={[s.via for s in self.seen]}>"
        )

    @property
    def expires_at(self) -> dt.datetime:
        return self.created_at + TOKEN_LIFETIME

    @property
    def expired(self) -> bool:
        """Whether the token no longer works (15 min after creation, or expire_token)."""
        return self.token in self._fake._expired_tokens or _utcnow() >= self.expires_at

    @property
    def response(self) -> Callback | None:
        """The accepted initial response, if any."""
        return self.callbacks[0] if self.callbacks else None

    def is_dead(self) -> bool:
        """Whether the bot can no longer answer through this interaction."""
        if self.expired:
            return True
        if self.callbacks:
            return False
        if any(not c.ok for c in self.callback_attempts):
            return True
        deadline = self._fake.callback_deadline
        return (
            deadline is not None
            and self.sent_at is not None
            and time.monotonic() - self.sent_at > deadline
        )

    def _mark_sent(self) -> None:
        if self.sent_at is None:
            self.sent_at = time.monotonic()
        if not self._sent.done():
            self._sent.set_result(None)

    def _notify(self) -> None:
        self._changed.notify()

    def _add_seen(self, message: FakeMessage, via: str) -> SeenMessage:
        seen = SeenMessage.of(message, via, self.sent_at)
        self.seen.append(seen)
        self._notify()
        return seen

    async def wait_until(
        self, predicate: Callable[[FakeInteraction], bool], timeout: float = 10.0
    ) -> None:
        """Wait until ``predicate(self)`` holds; re-checked after each change to it."""
        try:
            async with asyncio.timeout(timeout):
                while not predicate(self):
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout}s waiting on {self!r}") from None

    async def wait_for_response(self, timeout: float = 5.0) -> Callback:
        """The first initial response the fake judged (accepted or rejected, not a 429)."""
        await self.wait_until(lambda i: bool(i.callback_attempts), timeout)
        return self.callback_attempts[0]

    async def wait_for_final(
        self,
        timeout: float = 10.0,
        predicate: Callable[[SeenMessage], bool] | None = None,
    ) -> SeenMessage:
        """The first thing the member saw that is not a "thinking..." state (and matches predicate).

        That is the type 4 message, the type 7 update, the first @original edit or followup, or
        a channel message mentioning the member once the interaction was dead (token expired or
        no initial response in time).
        """
        checked = 0
        found: list[SeenMessage] = []

        def done(interaction: FakeInteraction) -> bool:
            nonlocal checked
            while checked < len(interaction.seen):
                seen = interaction.seen[checked]
                checked += 1
                if predicate is None or predicate(seen):
                    found.append(seen)
                    return True
            return False

        await self.wait_until(done, timeout)
        return found[0]

    async def wait_for_followups(self, count: int = 1, timeout: float = 10.0) -> list[FakeMessage]:
        """Wait until the bot sent at least ``count`` followups."""
        await self.wait_until(lambda i: len(i.followups) >= count, timeout)
        return list(self.followups)


# --------------------------------------------------------------------------- gateway


class _GatewayConnection:
    """One websocket; a writer task sends queued frames in order."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws
        self.queue: asyncio.Queue[tuple[str, Callable[[], None] | None]] = asyncio.Queue()
        self.session: _GatewaySession | None = None
        self.writer: asyncio.Task[None] | None = None

    def send(self, text: str, on_sent: Callable[[], None] | None = None) -> None:
        self.queue.put_nowait((text, on_sent))

    async def run_writer(self) -> None:
        while True:
            text, on_sent = await self.queue.get()
            if self.ws.closed:
                return
            try:
                await self.ws.send_str(text)
            except (ConnectionError, RuntimeError):
                return
            if on_sent is not None:
                on_sent()


class _GatewaySession:
    """A gateway session: sequence numbers and a replay buffer for RESUME."""

    def __init__(self, session_id: str, buffer: int) -> None:
        self.id = session_id
        self.seq = 0
        self.history: deque[tuple[int, str, Callable[[], None] | None]] = deque(maxlen=buffer)
        self.connection: _GatewayConnection | None = None

    def dispatch(self, event: str, data: Any, on_sent: Callable[[], None] | None = None) -> int:
        self.seq += 1
        text = json.dumps({"op": 0, "t": event, "s": self.seq, "d": data})
        self.history.append((self.seq, text, on_sent))
        if self.connection is not None:
            self.connection.send(text, on_sent)
        return self.seq


# --------------------------------------------------------------------------- validation


def _check_str(
    errs: _Errors,
    path: Sequence[str | int],
    value: Any,
    low: int,
    high: int,
    *,
    required: bool = True,
) -> None:
    if value is None:
        if required:
            errs.add(path, "BASE_TYPE_REQUIRED", "This field is required")
        return
    if not isinstance(value, str):
        errs.add(path, "BASE_TYPE_STRING", "Must be a string.")
        return
    if not low <= len(value) <= high:
        errs.add(path, "BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


def _check_name(errs: _Errors, path: Sequence[str | int], name: Any, *, chat_input: bool) -> None:
    _check_str(errs, path, name, 1, 32)
    if not isinstance(name, str) or not 1 <= len(name) <= 32 or not chat_input:
        return
    if not _COMMAND_NAME_RE.match(name) or name != name.lower():
        errs.add(path, "APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}")


def _check_localizations(
    errs: _Errors, path: Sequence[str | int], obj: Mapping[str, Any], key: str, low: int, high: int
) -> None:
    locs = obj.get(f"{key}_localizations")
    if not isinstance(locs, Mapping):
        return
    for locale, value in locs.items():
        _check_str(errs, [*path, f"{key}_localizations", locale], value, low, high)


def _longest(obj: Mapping[str, Any], key: str) -> int:
    lengths = [len(str(obj.get(key) or ""))]
    locs = obj.get(f"{key}_localizations")
    if isinstance(locs, Mapping):
        lengths.extend(len(str(v)) for v in locs.values())
    return max(lengths)


def _command_size(cmd: Mapping[str, Any]) -> int:
    total = _longest(cmd, "name") + _longest(cmd, "description")
    stack = list(cmd.get("options") or [])
    while stack:
        opt = stack.pop()
        if not isinstance(opt, Mapping):
            continue
        total += _longest(opt, "name") + _longest(opt, "description")
        for choice in opt.get("choices") or []:
            if isinstance(choice, Mapping):
                total += _longest(choice, "name") + len(str(choice.get("value", "")))
        stack.extend(opt.get("options") or [])
    return total


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_option_value(
    errs: _Errors, path: Sequence[str | int], opt_type: int, value: Any, *, is_choice: bool
) -> None:
    if opt_type == 3:
        if not isinstance(value, str):
            errs.add(path, "BASE_TYPE_STRING", "Must be a string.")
        elif is_choice and len(value) > 100:
            errs.add(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    elif opt_type == 4:
        if not _is_int(value):
            errs.add(path, "NUMBER_TYPE_COERCE", f"Value {value!r} is not int.")
        elif not -INT53 <= value <= INT53:
            errs.add(path, "NUMBER_TYPE_MAX", f"int value should be within +/-{INT53}.")
    elif opt_type == 10:
        if not _is_number(value):
            errs.add(path, "NUMBER_TYPE_COERCE", f"Value {value!r} is not a number.")
        elif not -(2**53) <= value <= 2**53:
            errs.add(path, "NUMBER_TYPE_MAX", "Number value should be within +/-2^53.")


def _check_options(
    errs: _Errors, path: list[str | int], options: Any, *, depth: int, parent_type: int
) -> None:
    if options is None:
        return
    if not isinstance(options, list):
        errs.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if len(options) > 25:
        errs.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    names: set[str] = set()
    types = [o.get("type") for o in options if isinstance(o, Mapping)]
    subcommands = [t for t in types if t in (1, 2)]
    if subcommands and len(subcommands) != len(types):
        errs.add(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive to all others",
        )
    seen_optional = False
    for i, opt in enumerate(options):
        opath = [*path, i]
        if not isinstance(opt, Mapping):
            errs.add(opath, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        opt_type = opt.get("type")
        if not _is_int(opt_type) or not 1 <= opt_type <= 11:
            errs.add(
                [*opath, "type"], "BASE_TYPE_CHOICES", f"Value must be one of 1..11 ({opt_type!r})."
            )
            continue
        if parent_type == 2 and opt_type != 1:
            errs.add(
                [*opath, "type"],
                "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                "Groups hold sub-commands only.",
            )
        if opt_type in (1, 2) and (
            depth >= 2 or (opt_type == 2 and parent_type == 2) or parent_type == 1
        ):
            errs.add(
                [*opath, "type"],
                "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
                "Sub-commands nested too deeply.",
            )
        name = opt.get("name")
        _check_name(errs, [*opath, "name"], name, chat_input=True)
        _check_localizations(errs, opath, opt, "name", 1, 32)
        if isinstance(name, str):
            if name in names:
                errs.add(
                    [*opath, "name"],
                    "APPLICATION_COMMAND_OPTIONS_DUPLICATE_NAME",
                    "Option names must be unique",
                )
            names.add(name)
        _check_str(errs, [*opath, "description"], opt.get("description"), 1, 100)
        _check_localizations(errs, opath, opt, "description", 1, 100)
        if opt_type in (1, 2):
            _check_options(
                errs, [*opath, "options"], opt.get("options"), depth=depth + 1, parent_type=opt_type
            )
            continue
        required = opt.get("required", False)
        if not isinstance(required, bool):
            errs.add([*opath, "required"], "BASE_TYPE_BOOLEAN", "Must be either true or false.")
        elif required and seen_optional:
            errs.add(
                [*opath, "required"],
                "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                "Required options must be placed before non-required options",
            )
        elif not required:
            seen_optional = True
        choices = opt.get("choices")
        if choices:
            if opt_type not in (3, 4, 10):
                errs.add(
                    [*opath, "choices"],
                    "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
                    "Choices are for strings and numbers only.",
                )
            if not isinstance(choices, list):
                errs.add([*opath, "choices"], "BASE_TYPE_ARRAY", "Must be an array.")
                choices = []
            if len(choices) > 25:
                errs.add(
                    [*opath, "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )
            if opt.get("autocomplete"):
                errs.add(
                    [*opath, "autocomplete"],
                    "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID",
                    "Autocomplete cannot be used with choices.",
                )
            for j, choice in enumerate(choices):
                cpath = [*opath, "choices", j]
                if not isinstance(choice, Mapping):
                    errs.add(
                        cpath, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType"
                    )
                    continue
                _check_str(errs, [*cpath, "name"], choice.get("name"), 1, 100)
                _check_localizations(errs, cpath, choice, "name", 1, 100)
                _check_option_value(
                    errs, [*cpath, "value"], opt_type, choice.get("value"), is_choice=True
                )
        for key in ("min_value", "max_value"):
            if opt.get(key) is None:
                continue
            if opt_type not in (4, 10):
                errs.add(
                    [*opath, key],
                    "APPLICATION_COMMAND_OPTION_INVALID",
                    f"{key} is for numbers only.",
                )
            else:
                _check_option_value(errs, [*opath, key], opt_type, opt[key], is_choice=False)
        low, high = opt.get("min_value"), opt.get("max_value")
        if _is_number(low) and _is_number(high) and low > high:
            errs.add([*opath, "min_value"], "NUMBER_TYPE_MAX", "min_value must be <= max_value.")
        for key, lo in (("min_length", 0), ("max_length", 1)):
            value = opt.get(key)
            if value is None:
                continue
            if opt_type != 3:
                errs.add(
                    [*opath, key],
                    "APPLICATION_COMMAND_OPTION_INVALID",
                    f"{key} is for strings only.",
                )
            elif not _is_int(value) or not lo <= value <= 6000:
                errs.add([*opath, key], "NUMBER_TYPE_MAX", f"{key} must be between {lo} and 6000.")


def _validate_command(errs: _Errors, path: list[str | int], cmd: Any) -> None:
    if not isinstance(cmd, Mapping):
        errs.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    cmd_type = cmd.get("type", 1)
    if cmd_type not in (1, 2, 3, 4):
        errs.add(
            [*path, "type"],
            "BASE_TYPE_CHOICES",
            f"Value must be one of (1, 2, 3, 4) ({cmd_type!r}).",
        )
        return
    chat_input = cmd_type == 1
    _check_name(errs, [*path, "name"], cmd.get("name"), chat_input=chat_input)
    _check_localizations(errs, path, cmd, "name", 1, 32)
    if chat_input:
        _check_str(errs, [*path, "description"], cmd.get("description"), 1, 100)
        _check_localizations(errs, path, cmd, "description", 1, 100)
        _check_options(errs, [*path, "options"], cmd.get("options"), depth=0, parent_type=0)
    elif cmd.get("options"):
        errs.add(
            [*path, "options"],
            "APPLICATION_COMMAND_OPTIONS_INVALID",
            "Context menu commands take no options.",
        )
    perms = cmd.get("default_member_permissions")
    if perms is not None and not (_is_int(perms) or (isinstance(perms, str) and perms.isdigit())):
        errs.add(
            [*path, "default_member_permissions"],
            "NUMBER_TYPE_COERCE",
            "Must be a permission bitset.",
        )
    for key, allowed in (("contexts", {0, 1, 2}), ("integration_types", {0, 1})):
        values = cmd.get(key)
        if values is not None and (not isinstance(values, list) or not set(values) <= allowed):
            errs.add([*path, key], "BASE_TYPE_CHOICES", f"Values must be in {sorted(allowed)}.")
    if _command_size(cmd) > 8000:
        errs.add(path, "APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (8000)")


def _validate_commands(commands: Any) -> _Errors:
    errs = _Errors()
    if not isinstance(commands, list):
        errs.add([], "BASE_TYPE_ARRAY", "Must be an array.")
        return errs
    counts: dict[int, int] = defaultdict(int)
    names: set[tuple[int, str]] = set()
    for i, cmd in enumerate(commands):
        _validate_command(errs, [i], cmd)
        if isinstance(cmd, Mapping):
            key = (int(cmd.get("type", 1) or 1), str(cmd.get("name")))
            if key in names:
                errs.add(
                    [i, "name"],
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    "Application command names must be unique",
                )
            names.add(key)
            counts[key[0]] += 1
    for cmd_type, limit in ((1, 100), (2, 15), (3, 15), (4, 1)):
        if counts[cmd_type] > limit:
            errs.add(
                [],
                "APPLICATION_COMMANDS_LIMIT",
                f"Maximum number of type {cmd_type} commands reached ({limit}).",
            )
    return errs


def _normalize_option(opt: Mapping[str, Any]) -> dict[str, Any]:
    # Discord answers with `required` only when true and drops empty option lists.
    out = {k: copy.deepcopy(v) for k, v in opt.items() if v is not None}
    if not out.get("required"):
        out.pop("required", None)
    if not out.get("autocomplete"):
        out.pop("autocomplete", None)
    if out.get("options"):
        out["options"] = [_normalize_option(o) for o in out["options"]]
    else:
        out.pop("options", None)
    if not out.get("choices"):
        out.pop("choices", None)
    return out


def _normalize_command(cmd: Mapping[str, Any], guild_id: int | None) -> dict[str, Any]:
    perms = cmd.get("default_member_permissions")
    out: dict[str, Any] = {
        "type": cmd.get("type", 1) or 1,
        "name": cmd["name"],
        "description": cmd.get("description") or "",
        "default_member_permissions": None if perms is None else str(perms),
        "contexts": copy.deepcopy(cmd.get("contexts")),
        "integration_types": copy.deepcopy(cmd.get("integration_types")) or [0],
        "nsfw": bool(cmd.get("nsfw", False)),
    }
    for key in ("name_localizations", "description_localizations"):
        if cmd.get(key):
            out[key] = copy.deepcopy(cmd[key])
    if guild_id is None:
        out["dm_permission"] = cmd.get("dm_permission", True) is not False
    options = [_normalize_option(o) for o in cmd.get("options") or []]
    if options:
        out["options"] = options
    return out


def _embed_size(embed: Mapping[str, Any]) -> int:
    total = len(str(embed.get("title") or "")) + len(str(embed.get("description") or ""))
    for f in embed.get("fields") or []:
        if isinstance(f, Mapping):
            total += len(str(f.get("name") or "")) + len(str(f.get("value") or ""))
    footer = embed.get("footer")
    if isinstance(footer, Mapping):
        total += len(str(footer.get("text") or ""))
    author = embed.get("author")
    if isinstance(author, Mapping):
        total += len(str(author.get("name") or ""))
    return total


def _validate_embeds(errs: _Errors, path: list[str | int], embeds: Any) -> None:
    if not isinstance(embeds, list):
        errs.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if len(embeds) > 10:
        errs.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        epath = [*path, i]
        if not isinstance(embed, Mapping):
            errs.add(epath, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        total += _embed_size(embed)
        for key, high in (("title", 256), ("description", 4096)):
            if embed.get(key) is not None:
                _check_str(errs, [*epath, key], embed[key], 0, high)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errs.add([*epath, "fields"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, f in enumerate(fields):
            if isinstance(f, Mapping):
                _check_str(errs, [*epath, "fields", j, "name"], f.get("name"), 1, 256)
                _check_str(errs, [*epath, "fields", j, "value"], f.get("value"), 1, 1024)
        for key, sub, high in (("footer", "text", 2048), ("author", "name", 256)):
            part = embed.get(key)
            if isinstance(part, Mapping):
                _check_str(errs, [*epath, key, sub], part.get(sub), 1, high)
    if total > 6000:
        errs.add(path, "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _validate_components(
    errs: _Errors, path: list[str | int], components: Any, *, flags: int
) -> None:
    if not isinstance(components, list):
        errs.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    custom_ids: set[str] = set()

    def check_leaf(cpath: list[str | int], comp: Mapping[str, Any]) -> None:
        ctype = comp.get("type")
        custom_id = comp.get("custom_id")
        if ctype == 2:
            style = comp.get("style")
            if style == 5:
                if custom_id is not None:
                    errs.add(
                        [*cpath, "custom_id"],
                        "COMPONENT_CUSTOM_ID_FORBIDDEN",
                        "Link buttons cannot have a custom_id",
                    )
                _check_str(errs, [*cpath, "url"], comp.get("url"), 1, 512)
            elif style != 6:
                _check_str(errs, [*cpath, "custom_id"], custom_id, 1, 100)
            if comp.get("label") is not None:
                _check_str(errs, [*cpath, "label"], comp.get("label"), 0, 80)
        elif ctype in (3, 5, 6, 7, 8):
            _check_str(errs, [*cpath, "custom_id"], custom_id, 1, 100)
            options = comp.get("options") or []
            if len(options) > 25:
                errs.add(
                    [*cpath, "options"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length."
                )
            for k, option in enumerate(options):
                if isinstance(option, Mapping):
                    for key in ("label", "value"):
                        _check_str(errs, [*cpath, "options", k, key], option.get(key), 1, 100)
                    if option.get("description") is not None:
                        _check_str(
                            errs,
                            [*cpath, "options", k, "description"],
                            option["description"],
                            0,
                            100,
                        )
        elif ctype == 4:
            errs.add([*cpath, "type"], "COMPONENT_TYPE_INVALID", "Text inputs belong in modals.")
        if isinstance(custom_id, str):
            if custom_id in custom_ids:
                errs.add(
                    [*cpath, "custom_id"],
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    "Component custom id cannot be duplicated",
                )
            custom_ids.add(custom_id)

    if flags & FLAG_COMPONENTS_V2:
        total = sum(1 for _ in _walk_components(components))
        if total > 40:
            errs.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer components in total.")
        for i, comp in enumerate(components):
            for leaf in _walk_components([comp]):
                check_leaf([*path, i], leaf)
        return
    if len(components) > 5:
        errs.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for i, row in enumerate(components):
        rpath = [*path, i]
        if not isinstance(row, Mapping) or row.get("type") != 1:
            errs.add(
                [*rpath, "type"],
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "Top-level components must be action rows.",
            )
            continue
        children = row.get("components") or []
        if not 1 <= len(children) <= 5:
            errs.add(
                [*rpath, "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
            )
        selects = [
            c for c in children if isinstance(c, Mapping) and c.get("type") in (3, 5, 6, 7, 8)
        ]
        if selects and len(children) > 1:
            errs.add(
                [*rpath, "components"],
                "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
                "A select menu fills its row.",
            )
        for j, comp in enumerate(children):
            if isinstance(comp, Mapping):
                check_leaf([*rpath, "components", j], comp)


def _validate_message(
    payload: Mapping[str, Any],
    uploads: Sequence[UploadedFile],
    *,
    prefix: Sequence[str] = (),
) -> _Errors:
    errs = _Errors()
    p = list(prefix)
    content = payload.get("content")
    if content is not None:
        if not isinstance(content, str):
            errs.add([*p, "content"], "BASE_TYPE_STRING", "Must be a string.")
        elif len(content) > 2000:
            errs.add([*p, "content"], "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    flags = int(payload.get("flags") or 0)
    if payload.get("embeds") is not None:
        _validate_embeds(errs, [*p, "embeds"], payload["embeds"])
        if flags & FLAG_COMPONENTS_V2 and payload["embeds"]:
            errs.add(
                [*p, "embeds"],
                "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                "Components V2 messages take no embeds.",
            )
    if payload.get("components") is not None:
        _validate_components(errs, [*p, "components"], payload["components"], flags=flags)
    attachments = payload.get("attachments")
    if attachments is not None and (not isinstance(attachments, list) or len(attachments) > 10):
        errs.add([*p, "attachments"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    if len(uploads) > 10:
        errs.add([*p, "files"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    for i, entry in enumerate(attachments if isinstance(attachments, list) else []):
        if isinstance(entry, Mapping):
            if entry.get("filename") is not None:
                _check_str(errs, [*p, "attachments", i, "filename"], entry["filename"], 1, 1024)
            if entry.get("description") is not None:
                _check_str(
                    errs, [*p, "attachments", i, "description"], entry["description"], 0, 1024
                )
    mentions = payload.get("allowed_mentions")
    if isinstance(mentions, Mapping):
        for key in ("users", "roles"):
            if len(mentions.get(key) or []) > 100:
                errs.add(
                    [*p, "allowed_mentions", key],
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 100 or fewer in length.",
                )
    if len(payload.get("sticker_ids") or []) > 3:
        errs.add([*p, "sticker_ids"], "BASE_TYPE_MAX_LENGTH", "Must be 3 or fewer in length.")
    return errs


def _is_empty_message(payload: Mapping[str, Any], uploads: Sequence[UploadedFile]) -> bool:
    return not (
        payload.get("content")
        or payload.get("embeds")
        or payload.get("components")
        or payload.get("sticker_ids")
        or payload.get("poll")
        or uploads
        or payload.get("attachments")
    )


_BOUNDARY_RE: Final = re.compile(r'boundary=(?:"([^"]+)"|([^;\s]+))', re.IGNORECASE)
_DISPOSITION_PARAM_RE: Final = re.compile(r'([\w*]+)=(?:"((?:[^"\\]|\\.)*)"|([^;]*))')


def _split_multipart(
    body: bytes, content_type: str
) -> Iterator[tuple[dict[str, str], dict[str, str], bytes]]:
    """The parts of a multipart/form-data body: (headers, Content-Disposition params, data)."""
    match = _BOUNDARY_RE.search(content_type)
    if match is None:
        raise DiscordError(400, 50035, "Invalid Form Body")
    delimiter = b"--" + (match[1] or match[2]).encode()
    # By offsets, so that each file is copied once (splitting and trimming copies of the
    # 10 MB a result message can carry were most of the fake's time reading an upload).
    start = body.find(delimiter)
    while start != -1:
        start += len(delimiter)
        end = body.find(delimiter, start)
        if end == -1:
            end = len(body)
        if body.startswith(b"--", start):
            return
        if body.startswith(b"\r\n", start):
            start += 2
        blank = body.find(b"\r\n\r\n", start, end)
        head_end, data_start = (end, end) if blank == -1 else (blank, blank + 4)
        data_end = end - 2 if body.endswith(b"\r\n", data_start, end) else end
        head, data = body[start:head_end], body[data_start:data_end]
        start = end if end < len(body) else -1
        headers: dict[str, str] = {}
        for line in head.decode("utf-8", "replace").split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        params: dict[str, str] = {}
        for key, quoted, bare in _DISPOSITION_PARAM_RE.findall(
            headers.get("content-disposition", "")
        ):
            if key.endswith("*"):  # RFC 5987: utf-8''percent-encoded
                params[key[:-1]] = unquote(bare.strip().split("'", 2)[-1])
            else:
                params.setdefault(key, re.sub(r"\\(.)", r"\1", quoted) if quoted else bare.strip())
        yield headers, params, data


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


# --------------------------------------------------------------------------- the fake


class FakeDiscord:
    """Discord's REST API, gateway and CDN for one bot, on one 127.0.0.1 port.

    World (with ``populate=True``): ``guild`` owned by ``owner``, with ``moderator`` (role
    ``moderator_role``), ``member`` and ``other_member``; text channels ``text_channel``,
    ``other_channel`` and ``nsfw_channel``; ``dm_channel`` between the bot and ``member``.
    Observation: ``requests``, ``messages`` (per channel), ``interactions``, ``violations``,
    ``command_puts``, ``gateway_received``, ``internal_errors`` (bugs of the fake itself).
    """

    def __init__(
        self,
        *,
        token: str = "fake-bot-token",  # noqa: S107 - a fake credential
        application_id: int | None = None,
        bot_name: str = "Imagine",
        populate: bool = True,
        callback_deadline: float | None = 3.0,
        heartbeat_interval_ms: int = 41_250,
        resume_buffer: int = 50_000,
        patch_discord: bool = True,
    ) -> None:
        self.token = token
        self.callback_deadline = callback_deadline
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.patch_discord = patch_discord
        self._resume_buffer = resume_buffer
        self._ids = _Snowflakes()
        self.application_id = application_id or self._ids.next()
        self.bot_user = FakeUser(self._ids.next(), bot_name, bot=True)
        self.bot_user_id = self.bot_user.id

        self.users: dict[int, FakeUser] = {self.bot_user.id: self.bot_user}
        self.guilds: dict[int, FakeGuild] = {}
        self.channels: dict[int, FakeChannel] = {}
        self._dm_by_user: dict[int, FakeChannel] = {}

        self.requests: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        self.internal_errors: list[str] = []
        self.messages: defaultdict[int, list[FakeMessage]] = defaultdict(list)
        self._messages_by_id: dict[int, FakeMessage] = {}
        self.interactions: list[FakeInteraction] = []
        self._interactions_by_token: dict[str, FakeInteraction] = {}
        self._pending_by_user_channel: defaultdict[tuple[int, int], list[FakeInteraction]] = (
            defaultdict(list)
        )
        self._expired_tokens: set[str] = set()
        self._attachments: dict[int, FakeAttachment] = {}
        self._faults: list[_Fault] = []
        self._waiters: list[tuple[Callable[[Any], bool], asyncio.Future[Any]]] = []

        self._commands: dict[int | None, dict[int, dict[str, Any]]] = defaultdict(dict)
        self._command_ids: dict[tuple[int | None, int, str], int] = {}
        self.command_puts: list[CommandPut] = []
        self._modals: defaultdict[int, list[tuple[dict[str, Any], FakeInteraction]]] = defaultdict(
            list
        )

        self.gateway_received: list[dict[str, Any]] = []
        self.identify_payloads: list[dict[str, Any]] = []
        self.identify_count = 0
        self.resume_count = 0
        self._sessions: dict[str, _GatewaySession] = {}
        self._session: _GatewaySession | None = None
        self._connections: set[_GatewayConnection] = set()
        self._ready = asyncio.Event()
        self._ready_generation = 0
        self._ready_changed = _Signal()
        self._tasks: set[asyncio.Task[Any]] = set()

        self._runner: web.AppRunner | None = None
        self._port: int | None = None
        self._patch_stack: contextlib.ExitStack | None = None

        if populate:
            self._populate()

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Start the server on a random 127.0.0.1 port."""
        if self._runner is not None:
            return
        app = web.Application(middlewares=[self._middleware], client_max_size=256 * MIB)
        self._add_routes(app)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def close(self) -> None:
        """Close gateway connections and stop the server. Close the bot first."""
        for conn in list(self._connections):
            if conn.writer is not None:
                conn.writer.cancel()
            with contextlib.suppress(ConnectionError, RuntimeError):
                await conn.ws.close(code=1001, message=b"fake discord closing")
        for task in list(self._tasks):
            task.cancel()
        for waiter in self._waiters:
            if not waiter[1].done():
                waiter[1].cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeDiscord:
        await self.start()
        if self.patch_discord:
            self._patch_stack = contextlib.ExitStack()
            self._patch_stack.enter_context(self.patched())
        return self

    async def __aexit__(self, *exc: object) -> None:
        try:
            await self.close()
        finally:
            if self._patch_stack is not None:
                self._patch_stack.close()
                self._patch_stack = None

    @contextlib.contextmanager
    def patched(self) -> Iterator[FakeDiscord]:
        """Point discord.py (REST, webhooks, gateway, assets) at this fake; restore on exit."""
        with point_discord_py_at(self.api_base, self.gateway_url, self.cdn_base):
            yield self

    @contextlib.asynccontextmanager
    async def running(
        self,
        bot: discord.Client,
        *,
        token: str | None = None,
        wait_ready: bool = True,
        timeout: float = 10.0,
    ) -> AsyncIterator[asyncio.Task[None]]:
        """Run ``bot.start(token)`` until the fake sent READY and the guilds; close it on exit."""
        generation = self._ready_generation
        task = asyncio.create_task(bot.start(token or self.token), name="fake-discord-bot")
        try:
            if wait_ready:
                ready = asyncio.create_task(self._wait_ready_after(generation, timeout))
                await asyncio.wait({task, ready}, return_when=asyncio.FIRST_COMPLETED)
                if not ready.done():
                    ready.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await ready
                    task.result()  # raises the bot's error (LoginFailure, ...)
                    raise RuntimeError("the bot stopped before it was ready")
                ready.result()
            yield task
        finally:
            await bot.close()
            await asyncio.wait_for(task, timeout)

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("FakeDiscord is not started")
        return self._port

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}{GATEWAY_PATH}"

    @property
    def cdn_base(self) -> str:
        return self.base_url

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
    ) -> FakeGuild:
        """A guild with @everyone, the owner and the bot (with its managed role)."""
        owner = owner or self.add_user(f"{name.lower().replace(' ', '-')}-owner")
        guild_id = self._ids.next()
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
        normalized = _normalize_command(cmd, guild_id)
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

    # ------------------------------------------------------------------ fault injection

    def rate_limit_next(
        self,
        method: str,
        path_pattern: str | re.Pattern[str],
        *,
        times: int = 1,
        retry_after: float = 0.05,
        global_: bool = False,
        scope: str = "user",
    ) -> None:
        """Answer the next matching request(s) with a 429 as Discord does.

        ``path_pattern`` is an fnmatch glob (``*`` also matches ``/``) or a compiled regex,
        matched against the path after ``/api/v10`` (e.g. ``/webhooks/*``).
        """

        def respond() -> web.Response:
            headers = {
                "Via": "1.1 google",
                "Retry-After": str(max(1, math.ceil(retry_after))),
                "X-RateLimit-Limit": "5",
                "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
                "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                "X-RateLimit-Bucket": "fake-rate-limited",
                "X-RateLimit-Scope": "global" if global_ else scope,
            }
            if global_:
                headers["X-RateLimit-Global"] = "true"
            body = {
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": global_,
            }
            return _json_response(body, 429, headers)

        self._faults.append(_Fault(method.upper(), path_pattern, times, respond))

    def fail_next(
        self,
        method: str,
        path_pattern: str | re.Pattern[str],
        status: int,
        code: int,
        message: str = "Injected failure",
        times: int = 1,
        *,
        errors: dict[str, Any] | None = None,
    ) -> None:
        """Answer the next matching request(s) with a Discord error (status, code, message)."""
        error = DiscordError(status, code, message, errors)
        self._faults.append(
            _Fault(
                method.upper(), path_pattern, times, lambda: _json_response(error.body(), status)
            )
        )

    def expire_token(self, token: str | FakeInteraction) -> None:
        """Make an interaction token invalid, as 15 minutes after the interaction."""
        self._expired_tokens.add(token.token if isinstance(token, FakeInteraction) else token)

    def _take_fault(self, method: str, path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.matches(method, path):
                fault.times -= 1
                if fault.times <= 0:
                    self._faults.remove(fault)
                return fault
        return None

    # ------------------------------------------------------------------ observation

    def message(self, message_id: int) -> FakeMessage:
        return self._messages_by_id[message_id]

    def all_messages(self) -> list[FakeMessage]:
        return list(self._messages_by_id.values())

    async def wait_for(
        self,
        predicate: Callable[[Any], bool],
        timeout: float = 5.0,
        *,
        include_past: bool = True,
    ) -> Any:
        """Wait for a RecordedRequest (once answered) or a FakeMessage (created or edited)."""
        if include_past:
            for item in itertools.chain(
                (r for r in self.requests if r.status), self._messages_by_id.values()
            ):
                if predicate(item):
                    return item
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        entry = (predicate, future)
        self._waiters.append(entry)
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(entry)

    async def wait_for_request(
        self, predicate: Callable[[RecordedRequest], bool], timeout: float = 5.0
    ) -> RecordedRequest:
        result: RecordedRequest = await self.wait_for(
            lambda x: isinstance(x, RecordedRequest) and predicate(x), timeout
        )
        return result

    async def wait_for_message(
        self, predicate: Callable[[FakeMessage], bool], timeout: float = 5.0
    ) -> FakeMessage:
        result: FakeMessage = await self.wait_for(
            lambda x: isinstance(x, FakeMessage) and predicate(x), timeout
        )
        return result

    def _notify(self, item: Any) -> None:
        if not self._waiters:
            return
        for predicate, future in list(self._waiters):
            if future.done():
                continue
            try:
                matched = predicate(item)
            except Exception as exc:  # noqa: BLE001 - the waiter gets the error
                future.set_exception(exc)
                continue
            if matched:
                future.set_result(item)

    def _violation(
        self, kind: str, request: RecordedRequest, error: DiscordError, errs: _Errors | None = None
    ) -> DiscordError:
        self.violations.append(
            Violation(
                kind=kind,
                method=request.method,
                path=request.path,
                status=error.status,
                code=error.code,
                message=error.message,
                errors=list(errs.flat) if errs else [],
                body=request.json,
            )
        )
        return error

    def _invalid_form(self, kind: str, request: RecordedRequest, errs: _Errors) -> DiscordError:
        return self._violation(
            kind, request, DiscordError(400, 50035, "Invalid Form Body", errs.tree), errs
        )

    # ------------------------------------------------------------------ gateway

    @property
    def ready_generation(self) -> int:
        """How many times a bot became ready (IDENTIFY or RESUME answered)."""
        return self._ready_generation

    async def wait_until_ready(self, timeout: float = 10.0, *, after: int | None = None) -> None:
        """Wait until a bot identified (or resumed) and was sent its guilds.

        With ``after`` (a past ``ready_generation``), wait for a newer IDENTIFY or RESUME.
        """
        await self._wait_ready_after(-1 if after is None else after, timeout)

    async def _wait_ready_after(self, generation: int, timeout: float) -> None:
        async with asyncio.timeout(timeout):
            while self._ready_generation <= generation or not self._ready.is_set():
                await self._ready_changed.wait()

    def _set_ready(self) -> None:
        self._ready_generation += 1
        self._ready.set()
        self._ready_changed.notify()

    @property
    def connected(self) -> bool:
        session = self._session
        return session is not None and session.connection is not None

    def dispatch(self, event: str, data: Any, on_sent: Callable[[], None] | None = None) -> int:
        """Send a gateway DISPATCH event to the bot; returns its sequence number."""
        if self._session is None:
            raise RuntimeError("no bot has identified on the gateway")
        return self._session.dispatch(event, data, on_sent)

    def _dispatch_if_connected(self, event: str, build: Callable[[], Any]) -> None:
        if self._session is not None and self._ready.is_set():
            self._session.dispatch(event, build())

    async def disconnect(self, code: int = 4000) -> None:
        """Close the bot's gateway connection (a resumable close by default)."""
        session = self._session
        if session is None or session.connection is None:
            raise RuntimeError("the bot is not connected")
        await session.connection.ws.close(code=code, message=b"fake discord disconnect")

    async def _gateway_handler(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _GatewayConnection(ws)
        self._connections.add(conn)
        conn.writer = asyncio.create_task(conn.run_writer())
        conn.send(
            json.dumps(
                {
                    "op": 10,
                    "d": {"heartbeat_interval": self.heartbeat_interval_ms},
                    "s": None,
                    "t": None,
                }
            )
        )
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    try:
                        payload = json.loads(msg.data)
                    except ValueError:
                        await ws.close(code=4002, message=b"Error while decoding payload.")
                        break
                    await self._on_gateway_message(conn, payload)
                elif msg.type is WSMsgType.BINARY:
                    await ws.close(code=4002, message=b"Error while decoding payload.")
        except Exception as exc:
            log.exception("fake discord gateway failed")
            self.internal_errors.append(f"gateway: {exc!r}")
            await ws.close(code=4000, message=b"fake discord internal error")
        finally:
            conn.writer.cancel()
            self._connections.discard(conn)
            session = conn.session
            if session is not None and session.connection is conn:
                session.connection = None
                if session is self._session:
                    self._ready.clear()
                    self._ready_changed.notify()
        return ws

    async def _on_gateway_message(self, conn: _GatewayConnection, msg: dict[str, Any]) -> None:
        op = msg.get("op")
        data = msg.get("d")
        if op == 1:
            conn.send(json.dumps({"op": 11, "d": None, "s": None, "t": None}))
            return
        self.gateway_received.append(msg)
        if op == 2:
            await self._identify(conn, data or {})
        elif op == 6:
            await self._resume(conn, data or {})
        elif op == 8:
            self._request_members(conn, data or {})
        elif op in (3, 4):
            return
        else:
            await conn.ws.close(code=4001, message=b"Unknown opcode.")

    async def _identify(self, conn: _GatewayConnection, data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            await conn.ws.close(code=4004, message=b"Authentication failed.")
            return
        self.identify_payloads.append(data)
        self.identify_count += 1
        session = _GatewaySession(secrets.token_hex(16), self._resume_buffer)
        self._sessions[session.id] = session
        session.connection = conn
        conn.session = session
        self._session = session
        ready: dict[str, Any] = {
            "v": 10,
            "user": {**self.bot_user.to_payload(), "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(g), "unavailable": True} for g in self.guilds],
            "session_id": session.id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "_trace": ["fake-discord"],
        }
        if "shard" in data:
            ready["shard"] = data["shard"]
        session.dispatch("READY", ready)
        for guild in self.guilds.values():
            session.dispatch("GUILD_CREATE", guild.to_payload())
        self._set_ready()

    async def _resume(self, conn: _GatewayConnection, data: dict[str, Any]) -> None:
        session = self._sessions.get(str(data.get("session_id")))
        seq = int(data.get("seq") or 0)
        if (
            data.get("token") != self.token
            or session is None
            or (session.history and session.history[0][0] > seq + 1)
        ):
            conn.send(json.dumps({"op": 9, "d": False, "s": None, "t": None}))
            return
        self.resume_count += 1
        if session.connection is not None and session.connection is not conn:
            with contextlib.suppress(ConnectionError, RuntimeError):
                await session.connection.ws.close(code=4000)
        session.connection = conn
        conn.session = session
        self._session = session
        for number, text, on_sent in session.history:
            if number > seq:
                conn.send(text, on_sent)
        session.dispatch("RESUMED", {"_trace": ["fake-discord"]})
        self._set_ready()

    def _request_members(self, conn: _GatewayConnection, data: dict[str, Any]) -> None:
        session = conn.session
        guild = self.guilds.get(int(data.get("guild_id") or 0))
        if session is None or guild is None:
            return
        wanted = {int(u) for u in data.get("user_ids") or []}
        members = [m for m in guild.members.values() if not wanted or m.id in wanted]
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": [m.to_payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [str(u) for u in wanted - {m.id for m in members}],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        session.dispatch("GUILD_MEMBERS_CHUNK", chunk)

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
            if not _is_int(value):
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
        iid, token, payload, limit = self._interaction_base(
            interaction_type=APPLICATION_COMMAND,
            user=author,
            channel=channel,
            created_at=created_at,
            attachment_size_limit=attachment_size_limit,
            app_permissions=app_permissions,
            locale=locale,
        )
        payload["data"] = data
        interaction = FakeInteraction(
            self,
            id=iid,
            token=token,
            type=APPLICATION_COMMAND,
            name=name,
            payload=payload,
            user=author,
            guild_id=guild.id if guild is not None else None,
            channel_id=channel.id,
            created_at=snowflake_time(iid),
            attachment_size_limit=limit,
        )
        return await self._send_interaction(interaction, timeout)

    async def click(
        self,
        message_id: int,
        custom_id: str,
        *,
        user: FakeUser | FakeMember | int | None = None,
        values: Sequence[str] | None = None,
        created_at: dt.datetime | None = None,
        timeout: float = 10.0,
    ) -> FakeInteraction:
        """Click a button (or pick ``values`` in a select) on a message the bot posted."""
        message = self._messages_by_id.get(message_id)
        if message is None or message.deleted:
            raise LookupError(f"no message {message_id}")
        component = message.component(custom_id)
        if component is None:
            raise LookupError(f"message {message_id} has no component {custom_id!r}")
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        author = self._resolve_user(user)
        channel = self.channels[message.channel_id]
        iid, token, payload, limit = self._interaction_base(
            interaction_type=MESSAGE_COMPONENT,
            user=author,
            channel=channel,
            created_at=created_at,
            attachment_size_limit=None,
            app_permissions=None,
            locale="en-US",
        )
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] != 2:
            data["values"] = list(values or [])
        payload["data"] = data
        payload["message"] = message.to_payload()
        interaction = FakeInteraction(
            self,
            id=iid,
            token=token,
            type=MESSAGE_COMPONENT,
            name=custom_id,
            payload=payload,
            user=author,
            guild_id=channel.guild_id,
            channel_id=channel.id,
            created_at=snowflake_time(iid),
            attachment_size_limit=limit,
            source_message=message,
        )
        return await self._send_interaction(interaction, timeout)

    async def submit_modal(
        self,
        values: Mapping[str, str | Sequence[str]],
        *,
        custom_id: str | None = None,
        user: FakeUser | FakeMember | int | None = None,
        timeout: float = 10.0,
    ) -> FakeInteraction:
        """Submit the modal the bot last opened for this user (or the one with ``custom_id``).

        ``values`` are keyed by each field's custom_id or label (discord.py makes random
        custom_ids); a select takes a list of values.
        """
        author = self._resolve_user(user)
        opened = [
            (data, opener)
            for data, opener in self._modals.get(author.id, [])
            if custom_id is None or data.get("custom_id") == custom_id
        ]
        if not opened:
            raise LookupError(f"the bot opened no modal {custom_id or ''} for {author.username}")
        modal, opener = opened[-1]

        def value_for(component: Mapping[str, Any], label: str | None) -> str | Sequence[str]:
            for key in (component.get("custom_id"), component.get("label"), label):
                if key is not None and key in values:
                    return values[key]
            return ""

        def fill(component: Mapping[str, Any], label: str | None = None) -> dict[str, Any]:
            ctype = component.get("type")
            if ctype == 1:
                return {"type": 1, "components": [fill(c) for c in component.get("components", [])]}
            if ctype == 18:
                inner = fill(component["component"], component.get("label"))
                return {"type": 18, "id": component.get("id"), "component": inner}
            if ctype == 4:
                value = value_for(component, label)
                text = value if isinstance(value, str) else "".join(value)
                return {"type": 4, "custom_id": component["custom_id"], "value": text}
            if ctype in (3, 5, 6, 7, 8):
                value = value_for(component, label)
                picked = [value] if isinstance(value, str) and value else list(value)
                return {"type": ctype, "custom_id": component["custom_id"], "values": picked}
            return {"type": ctype, "id": component.get("id")}

        channel = self.channels[opener.channel_id]
        iid, token, payload, limit = self._interaction_base(
            interaction_type=MODAL_SUBMIT,
            user=author,
            channel=channel,
            created_at=None,
            attachment_size_limit=None,
            app_permissions=None,
            locale="en-US",
        )
        payload["data"] = {
            "custom_id": modal["custom_id"],
            "components": [fill(c) for c in modal.get("components", [])],
        }
        interaction = FakeInteraction(
            self,
            id=iid,
            token=token,
            type=MODAL_SUBMIT,
            name=str(modal["custom_id"]),
            payload=payload,
            user=author,
            guild_id=channel.guild_id,
            channel_id=channel.id,
            created_at=snowflake_time(iid),
            attachment_size_limit=limit,
            source_message=opener.source_message,
        )
        return await self._send_interaction(interaction, timeout)

    # ------------------------------------------------------------------ HTTP plumbing

    def _add_routes(self, app: web.Application) -> None:
        api: list[tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]] = [
            ("GET", "/users/@me", self._h_me),
            ("POST", "/users/@me/channels", self._h_create_dm),
            ("GET", "/users/{user_id}", self._h_user),
            ("GET", "/oauth2/applications/@me", self._h_application),
            ("GET", "/applications/@me", self._h_application),
            ("GET", "/gateway", self._h_gateway),
            ("GET", "/gateway/bot", self._h_gateway_bot),
            ("GET", "/guilds/{guild_id}", self._h_guild),
            ("GET", "/guilds/{guild_id}/channels", self._h_guild_channels),
            ("GET", "/guilds/{guild_id}/roles", self._h_guild_roles),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._h_guild_member),
            ("GET", "/channels/{channel_id}", self._h_channel),
            ("GET", "/channels/{channel_id}/messages", self._h_channel_messages),
            ("POST", "/channels/{channel_id}/messages", self._h_create_message),
            ("GET", "/channels/{channel_id}/messages/{message_id}", self._h_get_message),
            ("PATCH", "/channels/{channel_id}/messages/{message_id}", self._h_edit_message),
            ("DELETE", "/channels/{channel_id}/messages/{message_id}", self._h_delete_message),
            ("POST", "/channels/{channel_id}/typing", self._h_no_content),
            (
                "PUT",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
                self._h_no_content,
            ),
            (
                "DELETE",
                "/channels/{channel_id}/messages/{message_id}/reactions/{emoji}/@me",
                self._h_no_content,
            ),
            ("POST", "/interactions/{interaction_id}/{token}/callback", self._h_callback),
            ("POST", "/webhooks/{application_id}/{token}", self._h_followup),
            (
                "GET",
                "/webhooks/{application_id}/{token}/messages/{message_id}",
                self._h_webhook_get,
            ),
            (
                "PATCH",
                "/webhooks/{application_id}/{token}/messages/{message_id}",
                self._h_webhook_edit,
            ),
            (
                "DELETE",
                "/webhooks/{application_id}/{token}/messages/{message_id}",
                self._h_webhook_delete,
            ),
        ]
        for scope in (
            "/applications/{application_id}",
            "/applications/{application_id}/guilds/{guild_id}",
        ):
            api += [
                ("GET", scope + "/commands", self._h_list_commands),
                ("PUT", scope + "/commands", self._h_put_commands),
                ("POST", scope + "/commands", self._h_create_command),
                ("GET", scope + "/commands/{command_id}", self._h_get_command),
                ("PATCH", scope + "/commands/{command_id}", self._h_edit_command),
                ("DELETE", scope + "/commands/{command_id}", self._h_delete_command),
            ]
        for method, path, handler in api:
            app.router.add_route(method, API_PREFIX + path, handler)
        for prefix in ("", "/media"):
            for kind in ("attachments", "ephemeral-attachments"):
                app.router.add_route(
                    "GET", f"{prefix}/{kind}/{{scope}}/{{attachment_id}}/{{filename}}", self._h_cdn
                )
        app.router.add_route("GET", GATEWAY_PATH, self._gateway_handler)

    @web.middleware
    async def _middleware(
        self,
        request: web.Request,
        handler: Callable[[web.Request], Awaitable[web.StreamResponse]],
    ) -> web.StreamResponse:
        path = request.path
        if path == GATEWAY_PATH:
            return await handler(request)
        kind = "api" if path.startswith(API_PREFIX + "/") else "cdn"
        rel = path[len(API_PREFIX) :] if kind == "api" else path
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else rel
        if kind == "api" and route.startswith(API_PREFIX):
            route = route[len(API_PREFIX) :]
        record = RecordedRequest(
            method=request.method,
            path=rel,
            route=route,
            kind=kind,
            query=dict(request.query),
            headers={k: v for k, v in request.headers.items() if k.lower() != "authorization"},
            at=time.monotonic(),
        )
        self.requests.append(record)
        request[_RECORD] = record
        response: web.StreamResponse
        try:
            if kind == "api":
                await self._read_body(request, record)
            fault = self._take_fault(request.method, rel)
            if fault is not None:
                record.injected = True
                response = fault.respond()
            else:
                needs_auth = (
                    kind == "api" and rel != "/gateway" and not rel.startswith(_NO_AUTH_PREFIXES)
                )
                if needs_auth and request.headers.get("Authorization") != f"Bot {self.token}":
                    raise DiscordError(401, 0, "401: Unauthorized")
                response = await handler(request)
        except DiscordError as exc:
            response = _json_response(exc.body(), exc.status)
        except web.HTTPException as exc:
            response = _json_response(
                {"message": f"{exc.status}: {exc.reason}", "code": 0}, exc.status
            )
        except Exception as exc:
            # A bug in the fake: answer 400 so discord.py does not retry for 25 s.
            log.exception("fake discord failed on %s %s", request.method, rel)
            self.internal_errors.append(f"{request.method} {rel}: {exc!r}")
            response = _json_response(
                {"message": f"FakeDiscord internal error: {exc!r}", "code": -1}, 400
            )
        record.status = response.status
        if isinstance(response, web.Response) and response.content_type == "application/json":
            with contextlib.suppress(ValueError, TypeError):
                record.response = json.loads(response.body)  # type: ignore[arg-type]
        if kind == "api" and response.status != 429:
            bucket = hashlib.sha256(f"{request.method} {route}".encode()).hexdigest()[:32]
            response.headers.update(
                {
                    "X-RateLimit-Limit": "50",
                    "X-RateLimit-Remaining": "49",
                    "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
                    "X-RateLimit-Reset-After": "1.000",
                    "X-RateLimit-Bucket": bucket,
                }
            )
        self._notify(record)
        return response

    async def _read_body(self, request: web.Request, record: RecordedRequest) -> None:
        if not request.can_read_body:
            return
        # aiohttp re-parses headers on every .content_type access and per multipart part;
        # with 500 uploads at once that was most of the fake's time, so parse by hand.
        header = request.headers.get("Content-Type", "")
        content_type = header.split(";", 1)[0].strip().lower()
        # The pieces as they arrive, joined once: request.read() grows a bytearray and then
        # copies it into bytes, which was most of the fake's time receiving a 10 MB upload.
        pieces = [piece async for piece in request.content.iter_any()]
        raw = b"".join(pieces)
        del pieces
        record.body_at = time.monotonic()
        if content_type == "multipart/form-data":
            for headers, params, data in _split_multipart(raw, header):
                name = params.get("name", "")
                filename = params.get("filename")
                if name == "payload_json":
                    record.json = self._parse_json(data)
                elif filename is not None:
                    match = _FILES_PART_RE.fullmatch(name)
                    record.files.append(
                        UploadedFile(
                            index=int(match[1]) if match else None,
                            name=name,
                            filename=filename,
                            content_type=headers.get("content-type"),
                            data=data,
                        )
                    )
                else:
                    record.form[name] = data.decode(errors="replace")
        elif raw and content_type == "application/json":
            record.json = self._parse_json(raw)

    @staticmethod
    def _parse_json(raw: bytes) -> Any:
        try:
            return json.loads(raw)
        except ValueError:
            raise DiscordError(400, 50109, "The request body contains invalid JSON.") from None

    @staticmethod
    def _body(request: web.Request) -> dict[str, Any]:
        body = request[_RECORD].json
        if body is None:
            return {}
        if not isinstance(body, dict):
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "_errors": [
                        {
                            "code": "MODEL_TYPE_CONVERT",
                            "message": "Only dictionaries may be used in a ModelType",
                        }
                    ]
                },
            )
        return body

    @staticmethod
    def _snowflake(request: web.Request, key: str) -> int:
        try:
            return int(request.match_info[key])
        except ValueError:
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                {
                    key: {
                        "_errors": [
                            {"code": "NUMBER_TYPE_COERCE", "message": "Value is not snowflake."}
                        ]
                    }
                },
            ) from None

    # ------------------------------------------------------------------ REST: login & world

    def _application_payload(self) -> dict[str, Any]:
        owner = getattr(self, "owner", None) or self.bot_user
        return {
            "id": str(self.application_id),
            "name": self.bot_user.username,
            "icon": None,
            "description": "",
            "summary": "",
            "type": None,
            "bot": self.bot_user.to_payload(),
            "bot_public": True,
            "bot_require_code_grant": False,
            "owner": owner.to_payload(),
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "tags": [],
            "rpc_origins": [],
            "redirect_uris": [],
            "interactions_endpoint_url": None,
            "approximate_guild_count": len(self.guilds),
            "integration_types_config": {"0": {}},
        }

    async def _h_me(self, request: web.Request) -> web.Response:
        return _json_response(
            {
                **self.bot_user.to_payload(),
                "verified": True,
                "mfa_enabled": False,
                "locale": "en-US",
            }
        )

    async def _h_user(self, request: web.Request) -> web.Response:
        user = self.users.get(self._snowflake(request, "user_id"))
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return _json_response(user.to_payload())

    async def _h_create_dm(self, request: web.Request) -> web.Response:
        body = self._body(request)
        user = self.users.get(int(body.get("recipient_id") or 0))
        if user is None:
            raise DiscordError(
                400,
                50035,
                "Invalid Form Body",
                {
                    "recipient_id": {
                        "_errors": [{"code": "NUMBER_TYPE_COERCE", "message": "Unknown user."}]
                    }
                },
            )
        return _json_response(self.add_dm_channel(user).to_payload())

    async def _h_application(self, request: web.Request) -> web.Response:
        return _json_response(self._application_payload())

    async def _h_gateway(self, request: web.Request) -> web.Response:
        return _json_response({"url": self.gateway_url})

    async def _h_gateway_bot(self, request: web.Request) -> web.Response:
        return _json_response(
            {
                "url": self.gateway_url,
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 14_400_000,
                    "max_concurrency": 1,
                },
            }
        )

    def _guild_from(self, request: web.Request) -> FakeGuild:
        guild = self.guilds.get(self._snowflake(request, "guild_id"))
        if guild is None:
            raise DiscordError(404, 10004, "Unknown Guild")
        return guild

    async def _h_guild(self, request: web.Request) -> web.Response:
        payload = self._guild_from(request).to_payload()
        for key in ("members", "channels", "threads", "presences", "voice_states"):
            payload.pop(key, None)
        return _json_response(payload)

    async def _h_guild_channels(self, request: web.Request) -> web.Response:
        return _json_response([c.to_payload() for c in self._guild_from(request).channels.values()])

    async def _h_guild_roles(self, request: web.Request) -> web.Response:
        return _json_response([r.to_payload() for r in self._guild_from(request).roles.values()])

    async def _h_guild_member(self, request: web.Request) -> web.Response:
        guild = self._guild_from(request)
        member = guild.members.get(self._snowflake(request, "user_id"))
        if member is None:
            raise DiscordError(404, 10007, "Unknown Member")
        return _json_response(member.to_payload())

    async def _h_no_content(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _h_cdn(self, request: web.Request) -> web.Response:
        try:
            att = self._attachments.get(int(request.match_info["attachment_id"]))
        except ValueError:
            att = None
        if att is None or att.removed:
            return web.Response(status=404, text="Not Found")
        att.downloads += 1
        return web.Response(
            body=att.data, headers={"Content-Type": att.content_type or "application/octet-stream"}
        )

    # ------------------------------------------------------------------ REST: commands

    def _command_scope(self, request: web.Request) -> int | None:
        if self._snowflake(request, "application_id") != self.application_id:
            raise DiscordError(
                403, 20012, "You are not authorized to perform this action on this application"
            )
        if "guild_id" not in request.match_info:
            return None
        return self._guild_from(request).id

    async def _h_list_commands(self, request: web.Request) -> web.Response:
        return _json_response(self.registered_commands(self._command_scope(request)))

    async def _h_put_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        record: RecordedRequest = request[_RECORD]
        body = record.json if record.json is not None else []
        errs = _validate_commands(body)
        if errs:
            self.command_puts.append(CommandPut(scope, copy.deepcopy(body), record.at, 400))
            raise self._invalid_form("command", record, errs)
        stored: dict[int, dict[str, Any]] = {}
        result = [self._store_command(cmd, scope, stored) for cmd in body]
        self._commands[scope] = stored
        self.command_puts.append(CommandPut(scope, copy.deepcopy(body), record.at, 200))
        return _json_response(result)

    async def _h_create_command(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        record: RecordedRequest = request[_RECORD]
        body = self._body(request)
        errs = _Errors()
        _validate_command(errs, [], body)
        if errs:
            raise self._invalid_form("command", record, errs)
        existed = (scope, body.get("type", 1) or 1, body.get("name")) in self._command_ids
        stored = self._store_command(body, scope, self._commands[scope])
        return _json_response(stored, 200 if existed else 201)

    def _command_from(self, request: web.Request) -> tuple[int | None, int, dict[str, Any]]:
        scope = self._command_scope(request)
        cid = self._snowflake(request, "command_id")
        cmd = self._commands.get(scope, {}).get(cid)
        if cmd is None:
            raise DiscordError(404, 10063, "Unknown application command")
        return scope, cid, cmd

    async def _h_get_command(self, request: web.Request) -> web.Response:
        return _json_response(copy.deepcopy(self._command_from(request)[2]))

    async def _h_edit_command(self, request: web.Request) -> web.Response:
        scope, cid, cmd = self._command_from(request)
        merged = {**cmd, **self._body(request)}
        errs = _Errors()
        _validate_command(errs, [], merged)
        if errs:
            raise self._invalid_form("command", request[_RECORD], errs)
        # Re-key by the (possibly new) name; _store_command keeps the id, and the version
        # when nothing changed.
        self._command_ids.pop((scope, cmd["type"], cmd["name"]), None)
        self._command_ids[(scope, merged.get("type", 1) or 1, merged["name"])] = cid
        return _json_response(self._store_command(merged, scope, self._commands[scope]))

    async def _h_delete_command(self, request: web.Request) -> web.Response:
        scope, cid, _ = self._command_from(request)
        del self._commands[scope][cid]
        return web.Response(status=204)

    # ------------------------------------------------------------------ REST: messages

    def _check_uploads(
        self, record: RecordedRequest, uploads: Sequence[UploadedFile], limit: int
    ) -> None:
        for upload in uploads:
            if len(upload.data) > limit:
                raise self._violation(
                    "upload",
                    record,
                    DiscordError(413, 40005, "Request entity too large"),
                    None,
                )

    def _check_message(
        self,
        record: RecordedRequest,
        payload: Mapping[str, Any],
        *,
        prefix: Sequence[str] = (),
        creating: bool,
        limit: int,
    ) -> None:
        self._check_uploads(record, record.files, limit)
        errs = _validate_message(payload, record.files, prefix=prefix)
        if errs:
            raise self._invalid_form("message", record, errs)
        if creating and _is_empty_message(payload, record.files):
            raise self._violation(
                "message", record, DiscordError(400, 50006, "Cannot send an empty message")
            )

    def _new_message(
        self,
        channel_id: int,
        *,
        source: str,
        interaction: FakeInteraction | None = None,
        message_type: int = 0,
    ) -> FakeMessage:
        channel = self.channels.get(channel_id)
        message = FakeMessage(
            id=self._ids.next(),
            channel_id=channel_id,
            guild_id=channel.guild_id if channel is not None else None,
            author=self.bot_user,
            source=source,
            type=message_type,
            interaction=interaction,
            application_id=self.application_id if interaction is not None else None,
        )
        self._messages_by_id[message.id] = message
        self.messages[channel_id].append(message)
        return message

    def _apply(
        self,
        message: FakeMessage,
        payload: Mapping[str, Any],
        uploads: Sequence[UploadedFile],
        *,
        creating: bool,
        allowed_flags: int,
    ) -> None:
        if creating or "content" in payload:
            message.content = payload.get("content") or ""
        if creating or "embeds" in payload:
            message.embeds = copy.deepcopy(payload.get("embeds") or [])
        if creating or "components" in payload:
            message.components = copy.deepcopy(payload.get("components") or [])
        if payload.get("flags") is not None:
            keep = message.flags & ~allowed_flags
            message.flags = keep | (int(payload["flags"]) & allowed_flags)
        if creating:
            message.tts = bool(payload.get("tts", False))
            if isinstance(payload.get("message_reference"), Mapping):
                message.message_reference = dict(payload["message_reference"])
        scope = f"attachments/{message.channel_id}"
        by_index = {u.index: u for u in uploads if u.index is not None}
        entries = payload.get("attachments")
        if isinstance(entries, list):
            kept: list[FakeAttachment] = []
            used: set[int] = set()
            existing = {a.id: a for a in message.attachments}
            for entry in entries:
                if not isinstance(entry, Mapping) or entry.get("id") is None:
                    continue
                ref = int(entry["id"])
                if ref in by_index and ref not in used:
                    upload = by_index[ref]
                    used.add(ref)
                    kept.append(
                        self._store_file(
                            upload.data,
                            str(entry.get("filename") or upload.filename),
                            None,
                            scope=scope,
                            description=entry.get("description"),
                        )
                    )
                elif ref in existing:
                    kept.append(existing[ref])
            kept.extend(
                self._store_file(u.data, u.filename, None, scope=scope)
                for u in uploads
                if u.index is None or u.index not in used
            )
            message.attachments = kept
        elif uploads:
            new = [self._store_file(u.data, u.filename, None, scope=scope) for u in uploads]
            message.attachments = new if creating else [*message.attachments, *new]
        by_name = {a.filename: a for a in message.attachments}
        for embed in message.embeds:
            for key in ("image", "thumbnail"):
                part = embed.get(key)
                if not isinstance(part, dict):
                    continue
                url = part.get("url")
                if isinstance(url, str) and url.startswith("attachment://"):
                    att = by_name.get(url.removeprefix("attachment://"))
                    if att is not None:
                        part["url"] = att.url
                        part["proxy_url"] = att.proxy_url
        ids = {int(m) for m in _MENTION_RE.findall(message.content)}
        message.mentions = [self.users[i] for i in ids if i in self.users]
        if not creating:
            message.edited_at = _utcnow()
            message.edit_count += 1
            message.flags &= ~FLAG_LOADING

    def _route_channel_fallback(self, message: FakeMessage) -> None:
        for user in message.mentions:
            key = (user.id, message.channel_id)
            pending = [i for i in self._pending_by_user_channel.get(key, []) if not i.seen]
            self._pending_by_user_channel[key] = pending
            for interaction in pending:
                if interaction.is_dead():
                    interaction._add_seen(message, "channel")
                    return

    def _channel_from(self, request: web.Request) -> FakeChannel:
        channel = self.channels.get(self._snowflake(request, "channel_id"))
        if channel is None:
            raise DiscordError(404, 10003, "Unknown Channel")
        return channel

    def _channel_message_from(self, request: web.Request) -> FakeMessage:
        channel = self._channel_from(request)
        message = self._messages_by_id.get(self._snowflake(request, "message_id"))
        if message is None or message.deleted or message.channel_id != channel.id:
            raise DiscordError(404, 10008, "Unknown Message")
        return message

    async def _h_channel(self, request: web.Request) -> web.Response:
        return _json_response(self._channel_from(request).to_payload())

    async def _h_channel_messages(self, request: web.Request) -> web.Response:
        channel = self._channel_from(request)
        limit = min(100, int(request.query.get("limit", "50")))
        visible = [
            m for m in self.messages.get(channel.id, []) if not m.deleted and not m.ephemeral
        ]
        return _json_response([m.to_payload() for m in reversed(visible[-limit:])])

    async def _h_create_message(self, request: web.Request) -> web.Response:
        channel = self._channel_from(request)
        record: RecordedRequest = request[_RECORD]
        payload = self._body(request)
        perms = self.bot_permissions_in(channel)
        if not perms & Permission.VIEW_CHANNEL:
            raise DiscordError(403, 50001, "Missing Access")
        if not perms & Permission.SEND_MESSAGES or (
            record.files and not perms & Permission.ATTACH_FILES
        ):
            raise DiscordError(403, 50013, "Missing Permissions")
        limit = DEFAULT_UPLOAD_LIMIT
        if channel.guild_id is not None:
            limit = self.guilds[channel.guild_id].attachment_size_limit
        self._check_message(record, payload, creating=True, limit=limit)
        message = self._new_message(
            channel.id, source="channel", message_type=19 if payload.get("message_reference") else 0
        )
        self._apply(message, payload, record.files, creating=True, allowed_flags=_CHANNEL_FLAGS)
        self._route_channel_fallback(message)
        self._notify(message)
        return _json_response(message.to_payload())

    async def _h_get_message(self, request: web.Request) -> web.Response:
        return _json_response(self._channel_message_from(request).to_payload())

    async def _h_edit_message(self, request: web.Request) -> web.Response:
        message = self._channel_message_from(request)
        record: RecordedRequest = request[_RECORD]
        payload = self._body(request)
        self._check_message(record, payload, creating=False, limit=DEFAULT_UPLOAD_LIMIT)
        self._apply(
            message, payload, record.files, creating=False, allowed_flags=FLAG_SUPPRESS_EMBEDS
        )
        self._notify(message)
        return _json_response(message.to_payload())

    async def _h_delete_message(self, request: web.Request) -> web.Response:
        self._channel_message_from(request).deleted = True
        return web.Response(status=204)

    # ------------------------------------------------------------------ REST: interactions

    async def _h_callback(self, request: web.Request) -> web.Response:
        record: RecordedRequest = request[_RECORD]
        interaction = self._interactions_by_token.get(request.match_info["token"])
        if interaction is None or str(interaction.id) != request.match_info["interaction_id"]:
            raise DiscordError(404, 10062, "Unknown interaction")
        body = self._body(request)
        callback = Callback(
            type=int(body.get("type") or 0),
            data=body.get("data"),
            files=list(record.files),
            at=record.at,
            elapsed=None if interaction.sent_at is None else record.at - interaction.sent_at,
        )
        try:
            result = self._accept_callback(interaction, callback, record)
        except DiscordError as exc:
            callback.status = exc.status
            callback.error_code = exc.code
            raise
        else:
            callback.status = 200 if result is not None else 204
            interaction.callbacks.append(callback)
            return _json_response(result) if result is not None else web.Response(status=204)
        finally:
            interaction.callback_attempts.append(callback)
            interaction._notify()

    def _accept_callback(
        self, interaction: FakeInteraction, callback: Callback, record: RecordedRequest
    ) -> dict[str, Any] | None:
        if interaction.expired:
            raise DiscordError(404, 10062, "Unknown interaction")
        deadline = self.callback_deadline
        if deadline is not None and callback.elapsed is not None and callback.elapsed > deadline:
            raise self._violation(
                "deadline", record, DiscordError(404, 10062, "Unknown interaction")
            )
        if interaction.callbacks:
            raise self._violation(
                "interaction",
                record,
                DiscordError(400, 40060, "Interaction has already been acknowledged."),
            )
        allowed = {
            APPLICATION_COMMAND: {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL},
            MESSAGE_COMPONENT: {
                CHANNEL_MESSAGE,
                DEFERRED_CHANNEL_MESSAGE,
                DEFERRED_UPDATE_MESSAGE,
                UPDATE_MESSAGE,
                MODAL,
            },
            MODAL_SUBMIT: {
                CHANNEL_MESSAGE,
                DEFERRED_CHANNEL_MESSAGE,
                DEFERRED_UPDATE_MESSAGE,
                UPDATE_MESSAGE,
            },
        }[interaction.type]
        if interaction.type == MODAL_SUBMIT and interaction.source_message is None:
            allowed = allowed - {DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE}
        if callback.type not in allowed:
            errs = _Errors()
            errs.add(
                ["type"],
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"Invalid response type {callback.type} here",
            )
            raise self._invalid_form("interaction", record, errs)
        data = callback.data or {}
        if not isinstance(data, Mapping):
            errs = _Errors()
            errs.add(["data"], "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            raise self._invalid_form("message", record, errs)
        flags = int(data.get("flags") or 0)
        if flags & ~_CALLBACK_FLAGS:
            errs = _Errors()
            errs.add(
                ["data", "flags"],
                "MESSAGE_FLAGS_INVALID",
                "Invalid flags for an interaction response",
            )
            raise self._invalid_form("message", record, errs)
        message: FakeMessage | None = None
        if callback.type == CHANNEL_MESSAGE:
            self._check_message(
                record,
                data,
                prefix=("data",),
                creating=True,
                limit=interaction.attachment_size_limit,
            )
            message = self._new_message(
                interaction.channel_id,
                source="callback",
                interaction=interaction,
                message_type=20 if interaction.type == APPLICATION_COMMAND else 19,
            )
            self._apply(message, data, record.files, creating=True, allowed_flags=_CALLBACK_FLAGS)
            interaction.original = message
            interaction._add_seen(message, "callback")
        elif callback.type == DEFERRED_CHANNEL_MESSAGE:
            message = self._new_message(
                interaction.channel_id,
                source="callback",
                interaction=interaction,
                message_type=20 if interaction.type == APPLICATION_COMMAND else 19,
            )
            message.flags = FLAG_LOADING | (flags & FLAG_EPHEMERAL)
            interaction.original = message
        elif callback.type == UPDATE_MESSAGE:
            assert interaction.source_message is not None
            self._check_message(
                record,
                data,
                prefix=("data",),
                creating=False,
                limit=interaction.attachment_size_limit,
            )
            message = interaction.source_message
            self._apply(
                message, data, record.files, creating=False, allowed_flags=FLAG_SUPPRESS_EMBEDS
            )
            interaction.original = message
            interaction._add_seen(message, "update")
        elif callback.type == DEFERRED_UPDATE_MESSAGE:
            interaction.original = interaction.source_message
        elif callback.type == MODAL:
            errs = _Errors()
            _check_str(errs, ["data", "custom_id"], data.get("custom_id"), 1, 100)
            _check_str(errs, ["data", "title"], data.get("title"), 1, 45)
            if not 1 <= len(data.get("components") or []) <= 5:
                errs.add(
                    ["data", "components"],
                    "BASE_TYPE_BAD_LENGTH",
                    "Must be between 1 and 5 in length.",
                )
            if errs:
                raise self._invalid_form("message", record, errs)
            self._modals[interaction.user.id].append((copy.deepcopy(dict(data)), interaction))
        if message is not None:
            self._notify(message)
        if record.query.get("with_response", "").lower() not in ("1", "true"):
            return None
        result: dict[str, Any] = {
            "interaction": {
                "id": str(interaction.id),
                "type": interaction.type,
                "response_message_loading": callback.type == DEFERRED_CHANNEL_MESSAGE,
                "response_message_ephemeral": bool(message is not None and message.ephemeral),
            }
        }
        target = message or interaction.original
        if target is not None:
            result["interaction"]["response_message_id"] = str(target.id)
        if message is not None:
            result["resource"] = {"type": callback.type, "message": message.to_payload()}
        return result

    def _webhook_interaction(self, request: web.Request) -> FakeInteraction:
        interaction = self._interactions_by_token.get(request.match_info["token"])
        if interaction is None or request.match_info["application_id"] != str(self.application_id):
            raise DiscordError(404, 10015, "Unknown Webhook")
        if interaction.expired:
            raise DiscordError(401, 50027, "Invalid Webhook Token")
        if not interaction.callbacks:
            raise DiscordError(404, 10015, "Unknown Webhook")
        return interaction

    def _webhook_message(self, interaction: FakeInteraction, ref: str) -> FakeMessage:
        if ref == "@original":
            message = interaction.original
        else:
            try:
                message = self._messages_by_id.get(int(ref))
            except ValueError:
                message = None
            if (
                message is not None
                and message.interaction is not interaction
                and message is not interaction.original
            ):
                message = None
        if message is None or message.deleted:
            raise DiscordError(404, 10008, "Unknown Message")
        return message

    async def _h_followup(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        record: RecordedRequest = request[_RECORD]
        payload = self._body(request)
        self._check_message(record, payload, creating=True, limit=interaction.attachment_size_limit)
        original = interaction.original
        if (
            original is not None
            and original.loading
            and not original.deleted
            and not interaction.followups
            and not interaction.original_edits
        ):
            # The first followup after a deferral replaces the "thinking..." message and keeps
            # the deferral's ephemeral flag.
            message = original
            self._apply(
                message,
                payload,
                record.files,
                creating=True,
                allowed_flags=FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS,
            )
            message.flags &= ~FLAG_LOADING
        else:
            message = self._new_message(
                interaction.channel_id,
                source="followup",
                interaction=interaction,
                message_type=20 if interaction.type == APPLICATION_COMMAND else 19,
            )
            self._apply(
                message, payload, record.files, creating=True, allowed_flags=_CALLBACK_FLAGS
            )
        interaction.followups.append(message)
        interaction._add_seen(message, "followup")
        self._notify(message)
        return _json_response(message.to_payload())

    async def _h_webhook_get(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        return _json_response(
            self._webhook_message(interaction, request.match_info["message_id"]).to_payload()
        )

    async def _h_webhook_edit(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        ref = request.match_info["message_id"]
        message = self._webhook_message(interaction, ref)
        record: RecordedRequest = request[_RECORD]
        payload = self._body(request)
        self._check_message(
            record, payload, creating=False, limit=interaction.attachment_size_limit
        )
        self._apply(
            message,
            payload,
            record.files,
            creating=False,
            allowed_flags=FLAG_SUPPRESS_EMBEDS | FLAG_COMPONENTS_V2,
        )
        is_original = ref == "@original" or message is interaction.original
        if is_original:
            interaction.original_edits.append(record)
        interaction._add_seen(message, "edit_original" if is_original else "edit_followup")
        self._notify(message)
        return _json_response(message.to_payload())

    async def _h_webhook_delete(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        self._webhook_message(interaction, request.match_info["message_id"]).deleted = True
        interaction._notify()
        return web.Response(status=204)


@contextlib.contextmanager
def point_discord_py_at(api_base: str, gateway_url: str, cdn_base: str) -> Iterator[None]:
    """Point discord.py's REST (webhooks included), gateway and asset URLs somewhere; restore after.

    discord.py builds every REST URL from ``Route.BASE`` when a Route is created (webhook and
    interaction routes use the same Route class) and connects to ``DEFAULT_GATEWAY``.
    """
    # Imported here so that importing the fake does not import discord.py.
    from discord.asset import Asset
    from discord.gateway import DiscordWebSocket
    from discord.http import Route

    saved = (Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY, Asset.BASE)
    Route.BASE = api_base
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway_url)
    Asset.BASE = cdn_base
    try:
        yield
    finally:
        Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY, Asset.BASE = saved
