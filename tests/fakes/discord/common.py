"""What every part of the fake shares: constants, permission bits, ids and Discord's error shape."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
from collections.abc import Mapping, Sequence
from typing import Any, Final

from aiohttp import web

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
CALLBACK_FLAGS: Final = (
    FLAG_SUPPRESS_EMBEDS
    | FLAG_EPHEMERAL
    | FLAG_SUPPRESS_NOTIFICATIONS
    | FLAG_VOICE_MESSAGE
    | FLAG_COMPONENTS_V2
)
CHANNEL_FLAGS: Final = (
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


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def iso(when: dt.datetime | None) -> str | None:
    return None if when is None else when.isoformat()


def snowflake_time(snowflake: int) -> dt.datetime:
    """When a snowflake id was made."""
    return dt.datetime.fromtimestamp(((snowflake >> 22) + DISCORD_EPOCH_MS) / 1000, dt.UTC)


def shard_of(guild_id: int, shard_count: int) -> int:
    """The shard Discord sends a guild's events to (DMs go to shard 0)."""
    return (guild_id >> 22) % shard_count


class Snowflakes:
    """Unique snowflake ids whose timestamp is now or a given time."""

    def __init__(self) -> None:
        self._counter = itertools.count(1)

    def next(self, at: dt.datetime | None = None) -> int:
        ms = int((at or utcnow()).timestamp() * 1000) - DISCORD_EPOCH_MS
        return (ms << 22) | (1 << 17) | (next(self._counter) & 0x1FFFF)


class Signal:
    """Wakes every waiter after each change; waiters re-check their own condition."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self) -> None:
        await self._event.wait()


def json_response(
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


class FieldErrors:
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


def check_str(
    errs: FieldErrors,
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
