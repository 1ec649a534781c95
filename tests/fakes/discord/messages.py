"""Channel messages: checking, creating and editing them, and the channel REST routes."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

import yarl
from aiohttp import web

from tests.fakes.discord.common import (
    CHANNEL_FLAGS,
    DEFAULT_UPLOAD_LIMIT,
    FLAG_LOADING,
    FLAG_SUPPRESS_EMBEDS,
    DiscordError,
    Permission,
    json_response,
    utcnow,
)
from tests.fakes.discord.http import HttpPlumbing
from tests.fakes.discord.interaction import FakeInteraction
from tests.fakes.discord.models import FakeAttachment, FakeChannel, FakeMessage
from tests.fakes.discord.records import RECORD, RecordedRequest, UploadedFile
from tests.fakes.discord.validation_messages import is_empty_message, validate_message

_MENTION_RE: Final = re.compile(r"<@!?(\d+)>")


class MessageRoutes(HttpPlumbing):
    """Creates and edits the bot's messages and answers the channel message routes."""

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
        errs = validate_message(payload, record.files, prefix=prefix)
        if errs:
            raise self._invalid_form("message", record, errs)
        if creating and is_empty_message(payload, record.files):
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
        self._attach(message, payload, uploads, creating=creating)
        _link_embed_images(message)
        ids = {int(m) for m in _MENTION_RE.findall(message.content)}
        message.mentions = [self.users[i] for i in ids if i in self.users]
        if not creating:
            message.edited_at = utcnow()
            message.edit_count += 1
            message.flags &= ~FLAG_LOADING

    def _attach(
        self,
        message: FakeMessage,
        payload: Mapping[str, Any],
        uploads: Sequence[UploadedFile],
        *,
        creating: bool,
    ) -> None:
        """Store the uploads; ``attachments`` in the payload says which files the message keeps."""
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
        # An ephemeral message exists only for its member: the channel's routes never find it
        # (only the interaction's webhook, while its token lives, can read, edit or delete it).
        if (
            message is None
            or message.deleted
            or message.ephemeral
            or message.channel_id != channel.id
        ):
            raise DiscordError(404, 10008, "Unknown Message")
        return message

    async def _h_channel(self, request: web.Request) -> web.Response:
        channel = self._channel_from(request)
        payload = channel.to_payload()
        if channel.bot_permissions is not None:
            # The bot's own permissions here, as Discord shows them: a member overwrite.
            allowed = channel.bot_permissions
            payload["permission_overwrites"] = [
                {
                    "id": str(self.bot_user.id),
                    "type": 1,
                    "allow": str(allowed),
                    "deny": str(Permission.ALL & ~allowed),
                }
            ]
        return json_response(payload)

    async def _h_channel_messages(self, request: web.Request) -> web.Response:
        channel = self._channel_from(request)
        limit = min(100, int(request.query.get("limit", "50")))
        visible = [
            m for m in self.messages.get(channel.id, []) if not m.deleted and not m.ephemeral
        ]
        return json_response([m.to_payload() for m in reversed(visible[-limit:])])

    async def _h_create_message(self, request: web.Request) -> web.Response:
        channel = self._channel_from(request)
        record: RecordedRequest = request[RECORD]
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
        self._apply(message, payload, record.files, creating=True, allowed_flags=CHANNEL_FLAGS)
        self._route_channel_fallback(message)
        self._notify(message)
        return json_response(message.to_payload())

    async def _h_get_message(self, request: web.Request) -> web.Response:
        return json_response(self._channel_message_from(request).to_payload())

    async def _h_edit_message(self, request: web.Request) -> web.Response:
        message = self._channel_message_from(request)
        if message.author is not self.bot_user:
            raise DiscordError(403, 50005, "Cannot edit a message authored by another user")
        record: RecordedRequest = request[RECORD]
        payload = self._body(request)
        self._check_message(record, payload, creating=False, limit=DEFAULT_UPLOAD_LIMIT)
        self._apply(
            message, payload, record.files, creating=False, allowed_flags=FLAG_SUPPRESS_EMBEDS
        )
        self._notify(message)
        return json_response(message.to_payload())

    async def _h_delete_message(self, request: web.Request) -> web.Response:
        message = self._channel_message_from(request)
        channel = self._channel_from(request)
        if message.author is not self.bot_user and not (
            self.bot_permissions_in(channel) & Permission.MANAGE_MESSAGES
        ):
            raise DiscordError(403, 50013, "Missing Permissions")
        message.deleted = True
        return web.Response(status=204)


def _link_embed_images(message: FakeMessage) -> None:
    """Point embed images given as ``attachment://name`` at the message's file on the CDN.

    Images already linked (an edit that kept the embeds) stay linked, so every read of the
    message signs their links afresh.
    """
    by_name = {a.filename: a for a in message.attachments}
    by_path = {a.cdn_path: a for a in message.attachments}
    message.embed_files = {}
    for index, embed in enumerate(message.embeds):
        for key in ("image", "thumbnail"):
            part = embed.get(key)
            if not isinstance(part, dict) or not isinstance(part.get("url"), str):
                continue
            url = str(part["url"])
            if url.startswith("attachment://"):
                att = by_name.get(url.removeprefix("attachment://"))
            else:
                att = by_path.get(yarl.URL(url).raw_path) if url.startswith("http") else None
            if att is not None:
                part.update(url=att.url, proxy_url=att.proxy_url)
                message.embed_files[index, key] = att
