"""What a member does with messages: posts one, runs a message command on it, clicks its
buttons and select menus, and submits the modal the bot opened (typed text and uploaded files).

What Discord's client would not let a member send (a click on a missing or disabled component,
select values that are not options or too many, an empty required field, too many files) is
refused here with ValueError/LookupError, so a test cannot build an interaction Discord never
sends by mistake.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeAlias

from tests.fakes.discord.common import (
    APPLICATION_COMMAND,
    MESSAGE_COMPONENT,
    MODAL_SUBMIT,
)
from tests.fakes.discord.interaction import FakeInteraction
from tests.fakes.discord.invoke import InteractionSender
from tests.fakes.discord.modal_submit import ModalFiles, fill_modal
from tests.fakes.discord.models import FakeMember, FakeMessage, FakeUser

# A file a member attaches: its bytes (named image-<n>.png) or (filename, bytes).
MemberFile: TypeAlias = bytes | tuple[str, bytes]
MESSAGE_COMMAND = 3


def _named(files: Sequence[MemberFile], stem: str) -> Iterator[tuple[str, bytes]]:
    for n, item in enumerate(files):
        yield (f"{stem}-{n}.png", item) if isinstance(item, bytes) else item


class ActionSender(InteractionSender):
    """Member messages, message commands, component clicks and modal submits."""

    def post_message(
        self,
        author: FakeUser | FakeMember | int | None = None,
        content: str = "",
        *,
        channel_id: int | None = None,
        files: Sequence[MemberFile] = (),
        embed_images: Sequence[MemberFile] = (),
        embeds: Sequence[Mapping[str, Any]] = (),
    ) -> FakeMessage:
        """A member's message (the bot is not told: it sees it through interactions and REST).

        ``files`` become attachments; each of ``embed_images`` becomes the ``image`` embed
        Discord makes from a posted picture link (its ``thumbnail`` on the CDN); ``embeds`` are
        kept as given, ``attachment://name`` pointing at one of ``files``.
        """
        user = self._resolve_user(author)
        channel = self._pick_channel(channel_id, None)
        message = FakeMessage(
            id=self._ids.next(),
            channel_id=channel.id,
            guild_id=channel.guild_id,
            author=user,
            source="member",
            content=content,
        )
        scope = f"attachments/{channel.id}"
        for name, data in _named(files, "image"):
            message.attachments.append(self._store_file(data, name, None, scope=scope))
        message.embeds = [dict(e) for e in embeds]
        for name, data in _named(embed_images, "link"):
            att = self._store_file(data, name, None, scope=scope)
            thumbnail: dict[str, Any] = {"url": att.url, "proxy_url": att.proxy_url}
            if att.width is not None and att.height is not None:
                thumbnail.update(width=att.width, height=att.height)
            if att.content_type is not None:
                thumbnail["content_type"] = att.content_type
            message.embeds.append({"type": "image", "url": att.url, "thumbnail": thumbnail})
            message.embed_files[len(message.embeds) - 1, "thumbnail"] = att
        self._link_member_embeds(message)
        self._messages_by_id[message.id] = message
        self.messages[channel.id].append(message)
        self._notify(message)  # wait_for_message sees it (its source is "member")
        return message

    def _link_member_embeds(self, message: FakeMessage) -> None:
        by_name = {a.filename: a for a in message.attachments}
        for index, embed in enumerate(message.embeds):
            for key in ("image", "thumbnail"):
                part = embed.get(key)
                if not isinstance(part, Mapping):
                    continue
                url = part.get("url")
                if isinstance(url, str) and url.startswith("attachment://"):
                    att = by_name[url.removeprefix("attachment://")]
                    embed[key] = {**part, "url": att.url, "proxy_url": att.proxy_url}
                    message.embed_files[index, key] = att

    def _message_for(self, message_id: int) -> FakeMessage:
        message = self._messages_by_id.get(message_id)
        if message is None or message.deleted:
            raise LookupError(f"no message {message_id}")
        return message

    async def invoke_message_command(
        self,
        name: str,
        message_id: int,
        *,
        user: FakeUser | FakeMember | int | None = None,
        created_at: dt.datetime | None = None,
        locale: str = "en-US",
        timeout: float = 10.0,
    ) -> FakeInteraction:
        """Run the message command ``name`` (type 3, from a message's Apps menu) on a message.

        As Discord does, ``data.target_id`` names the message and ``data.resolved.messages``
        carries it: content, attachments and embeds, links freshly signed.
        """
        message = self._message_for(message_id)
        if message.ephemeral:
            raise ValueError("Discord offers no Apps menu on an ephemeral message")
        channel = self.channels[message.channel_id]
        command = self._find_command(name, channel.guild_id, MESSAGE_COMMAND)
        data: dict[str, Any] = {
            "id": command["id"],
            "name": name,
            "type": MESSAGE_COMMAND,
            "target_id": str(message.id),
            "resolved": {"messages": {str(message.id): message.to_payload()}},
        }
        if "guild_id" in command:
            data["guild_id"] = command["guild_id"]
        return await self._send_as(
            APPLICATION_COMMAND,
            name,
            data,
            user=self._resolve_user(user),
            channel=channel,
            source=message,
            created_at=created_at,
            locale=locale,
            timeout=timeout,
        )

    async def click(
        self,
        message_id: int,
        custom_id: str,
        *,
        user: FakeUser | FakeMember | int | None = None,
        values: Sequence[str] | None = None,
        created_at: dt.datetime | None = None,
        locale: str = "en-US",
        timeout: float = 10.0,
    ) -> FakeInteraction:
        """Click a button (or pick ``values`` in a select) on a message the bot posted."""
        message = self._message_for(message_id)
        component = message.component(custom_id)
        if component is None:
            raise LookupError(f"message {message_id} has no component {custom_id!r}")
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"]}
        if component["type"] != 2:
            data["values"] = _picked(component, values or [])
        return await self._send_as(
            MESSAGE_COMPONENT,
            custom_id,
            data,
            user=self._resolve_user(user),
            channel=self.channels[message.channel_id],
            source=message,
            created_at=created_at,
            locale=locale,
            timeout=timeout,
        )

    async def submit_modal(
        self,
        values: Mapping[str, str | Sequence[str]],
        *,
        files: ModalFiles | None = None,
        custom_id: str | None = None,
        user: FakeUser | FakeMember | int | None = None,
        locale: str = "en-US",
        timeout: float = 10.0,
    ) -> FakeInteraction:
        """Submit the modal the bot last opened for this user (or the one with ``custom_id``).

        ``values`` and ``files`` are keyed by each field's custom_id or its Label's text
        (discord.py makes random custom_ids); a select takes a list of values; a file upload
        takes files (bytes, or (filename, bytes)), uploaded to the CDN as ephemeral attachments
        and sent in ``data.resolved.attachments``.
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
        uploads = {
            key: [
                self._store_file(
                    data,
                    name,
                    None,
                    scope=f"ephemeral-attachments/{self.application_id}",
                    ephemeral=True,
                )
                for name, data in _named(items, "upload")
            ]
            for key, items in (files or {}).items()
        }
        data = fill_modal(modal, values, uploads, itertools.count(1))
        return await self._send_as(
            MODAL_SUBMIT,
            str(modal["custom_id"]),
            data,
            user=author,
            channel=self.channels[opener.channel_id],
            source=opener.source_message,
            locale=locale,
            timeout=timeout,
        )


def _picked(component: Mapping[str, Any], values: Sequence[str]) -> list[str]:
    """The values a member can pick in this select, as the client would send them."""
    low = component.get("min_values")
    high = component.get("max_values")
    low = 1 if low is None else low
    high = 1 if high is None else high
    if not low <= len(values) <= high:
        raise ValueError(f"pick {low}-{high} values in {component.get('custom_id')!r}")
    if component["type"] == 3:
        options = {str(o.get("value")) for o in component.get("options") or []}
        strange = [v for v in values if v not in options]
        if strange:
            raise ValueError(f"{strange} are not options of {component.get('custom_id')!r}")
    return [str(v) for v in values]
