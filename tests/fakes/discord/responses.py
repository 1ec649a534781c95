"""Interaction responses: the initial callback, followups and @original/webhook edits."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web

from tests.fakes.discord.common import (
    APPLICATION_COMMAND,
    CALLBACK_FLAGS,
    CHANNEL_MESSAGE,
    DEFERRED_CHANNEL_MESSAGE,
    DEFERRED_UPDATE_MESSAGE,
    FLAG_COMPONENTS_V2,
    FLAG_EPHEMERAL,
    FLAG_LOADING,
    FLAG_SUPPRESS_EMBEDS,
    FLAG_SUPPRESS_NOTIFICATIONS,
    MESSAGE_COMPONENT,
    MODAL,
    MODAL_SUBMIT,
    UPDATE_MESSAGE,
    DiscordError,
    FieldErrors,
    json_response,
)
from tests.fakes.discord.interaction import FakeInteraction
from tests.fakes.discord.messages import MessageRoutes
from tests.fakes.discord.models import FakeMessage
from tests.fakes.discord.records import RECORD, Callback, RecordedRequest
from tests.fakes.discord.validation_modals import validate_modal

# Which initial responses (callback types) each interaction type takes.
_ALLOWED_CALLBACKS: Final[dict[int, frozenset[int]]] = {
    APPLICATION_COMMAND: frozenset({CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, MODAL}),
    MESSAGE_COMPONENT: frozenset(
        {
            CHANNEL_MESSAGE,
            DEFERRED_CHANNEL_MESSAGE,
            DEFERRED_UPDATE_MESSAGE,
            UPDATE_MESSAGE,
            MODAL,
        }
    ),
    MODAL_SUBMIT: frozenset(
        {CHANNEL_MESSAGE, DEFERRED_CHANNEL_MESSAGE, DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE}
    ),
}


class InteractionResponses(MessageRoutes):
    """Judges the bot's answers to interactions as Discord would."""

    # ------------------------------------------------------------------ REST: interactions

    async def _h_callback(self, request: web.Request) -> web.Response:
        record: RecordedRequest = request[RECORD]
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
            return json_response(result) if result is not None else web.Response(status=204)
        finally:
            interaction.callback_attempts.append(callback)
            interaction._notify()

    def _accept_callback(
        self, interaction: FakeInteraction, callback: Callback, record: RecordedRequest
    ) -> dict[str, Any] | None:
        data, flags = self._judge_callback(interaction, callback, record)
        message = self._respond(interaction, callback, record, data, flags)
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

    def _judge_callback(
        self, interaction: FakeInteraction, callback: Callback, record: RecordedRequest
    ) -> tuple[Mapping[str, Any], int]:
        """Reject what Discord rejects before looking at the response; its data and flags."""
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
        allowed = _ALLOWED_CALLBACKS[interaction.type]
        if interaction.type == MODAL_SUBMIT and interaction.source_message is None:
            allowed = allowed - {DEFERRED_UPDATE_MESSAGE, UPDATE_MESSAGE}
        if callback.type not in allowed:
            errs = FieldErrors()
            errs.add(
                ["type"],
                "INTERACTION_RESPONSE_TYPE_INVALID",
                f"Invalid response type {callback.type} here",
            )
            raise self._invalid_form("interaction", record, errs)
        data = callback.data or {}
        if not isinstance(data, Mapping):
            errs = FieldErrors()
            errs.add(["data"], "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            raise self._invalid_form("message", record, errs)
        flags = int(data.get("flags") or 0)
        if flags & ~CALLBACK_FLAGS:
            errs = FieldErrors()
            errs.add(
                ["data", "flags"],
                "MESSAGE_FLAGS_INVALID",
                "Invalid flags for an interaction response",
            )
            raise self._invalid_form("message", record, errs)
        return data, flags

    def _respond(
        self,
        interaction: FakeInteraction,
        callback: Callback,
        record: RecordedRequest,
        data: Mapping[str, Any],
        flags: int,
    ) -> FakeMessage | None:
        """Carry out an accepted initial response; the message it created or updated, if any."""
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
                message_type=_response_message_type(interaction),
            )
            self._apply(message, data, record.files, creating=True, allowed_flags=CALLBACK_FLAGS)
            interaction.original = message
            interaction._add_seen(message, "callback")
        elif callback.type == DEFERRED_CHANNEL_MESSAGE:
            message = self._new_message(
                interaction.channel_id,
                source="callback",
                interaction=interaction,
                message_type=_response_message_type(interaction),
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
            self._open_modal(interaction, record, data)
        return message

    def _open_modal(
        self, interaction: FakeInteraction, record: RecordedRequest, data: Mapping[str, Any]
    ) -> None:
        errs = validate_modal(data)
        if errs:
            raise self._invalid_form("modal", record, errs)
        self._modals[interaction.user.id].append((copy.deepcopy(dict(data)), interaction))

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
        record: RecordedRequest = request[RECORD]
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
                message_type=_response_message_type(interaction),
            )
            self._apply(message, payload, record.files, creating=True, allowed_flags=CALLBACK_FLAGS)
        interaction.followups.append(message)
        interaction.followup_posts.append(record)
        interaction._add_seen(message, "followup")
        self._notify(message)
        return json_response(message.to_payload())

    async def _h_webhook_get(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        return json_response(
            self._webhook_message(interaction, request.match_info["message_id"]).to_payload()
        )

    async def _h_webhook_edit(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        ref = request.match_info["message_id"]
        message = self._webhook_message(interaction, ref)
        record: RecordedRequest = request[RECORD]
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
        return json_response(message.to_payload())

    async def _h_webhook_delete(self, request: web.Request) -> web.Response:
        interaction = self._webhook_interaction(request)
        self._webhook_message(interaction, request.match_info["message_id"]).deleted = True
        interaction._notify()
        return web.Response(status=204)


def _response_message_type(interaction: FakeInteraction) -> int:
    """CHAT_INPUT_COMMAND (20), CONTEXT_MENU_COMMAND (23) or REPLY (19, to components)."""
    if interaction.type != APPLICATION_COMMAND:
        return 19
    command_type = (interaction.payload.get("data") or {}).get("type", 1)
    return 20 if command_type == 1 else 23
