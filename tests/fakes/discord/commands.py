"""REST routes for application commands: list, bulk overwrite, create, edit, delete."""

from __future__ import annotations

import copy
from typing import Any

from aiohttp import web

from tests.fakes.discord.common import DiscordError, FieldErrors, json_response
from tests.fakes.discord.http import HttpPlumbing
from tests.fakes.discord.records import RECORD, CommandPut, RecordedRequest
from tests.fakes.discord.validation_commands import validate_command, validate_commands


class CommandRoutes(HttpPlumbing):
    """Answers the application command routes, validating as Discord does."""

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
        found = self.registered_commands(self._command_scope(request))
        if request.query.get("with_localizations", "").lower() != "true":
            # As Discord does: the full dictionaries only when asked for them.
            for command in found:
                _drop_localizations(command)
        return json_response(found)

    async def _h_put_commands(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        record: RecordedRequest = request[RECORD]
        body = record.json if record.json is not None else []
        errs = validate_commands(body)
        if errs:
            self.command_puts.append(CommandPut(scope, copy.deepcopy(body), record.at, 400))
            raise self._invalid_form("command", record, errs)
        stored: dict[int, dict[str, Any]] = {}
        result = [self._store_command(cmd, scope, stored) for cmd in body]
        self._commands[scope] = stored
        self.command_puts.append(CommandPut(scope, copy.deepcopy(body), record.at, 200))
        return json_response(result)

    async def _h_create_command(self, request: web.Request) -> web.Response:
        scope = self._command_scope(request)
        record: RecordedRequest = request[RECORD]
        body = self._body(request)
        errs = FieldErrors()
        validate_command(errs, [], body)
        if errs:
            raise self._invalid_form("command", record, errs)
        existed = (scope, body.get("type", 1) or 1, body.get("name")) in self._command_ids
        stored = self._store_command(body, scope, self._commands[scope])
        return json_response(stored, 200 if existed else 201)

    def _command_from(self, request: web.Request) -> tuple[int | None, int, dict[str, Any]]:
        scope = self._command_scope(request)
        cid = self._snowflake(request, "command_id")
        cmd = self._commands.get(scope, {}).get(cid)
        if cmd is None:
            raise DiscordError(404, 10063, "Unknown application command")
        return scope, cid, cmd

    async def _h_get_command(self, request: web.Request) -> web.Response:
        return json_response(copy.deepcopy(self._command_from(request)[2]))

    async def _h_edit_command(self, request: web.Request) -> web.Response:
        scope, cid, cmd = self._command_from(request)
        merged = {**cmd, **self._body(request)}
        errs = FieldErrors()
        validate_command(errs, [], merged)
        if errs:
            raise self._invalid_form("command", request[RECORD], errs)
        # Re-key by the (possibly new) name; _store_command keeps the id, and the version
        # when nothing changed.
        self._command_ids.pop((scope, cmd["type"], cmd["name"]), None)
        self._command_ids[(scope, merged.get("type", 1) or 1, merged["name"])] = cid
        return json_response(self._store_command(merged, scope, self._commands[scope]))

    async def _h_delete_command(self, request: web.Request) -> web.Response:
        scope, cid, _ = self._command_from(request)
        del self._commands[scope][cid]
        return web.Response(status=204)


def _drop_localizations(value: Any) -> None:
    if isinstance(value, dict):
        for key in [k for k in value if k.endswith("_localizations")]:
            del value[key]
        for item in value.values():
            _drop_localizations(item)
    elif isinstance(value, list):
        for item in value:
            _drop_localizations(item)
