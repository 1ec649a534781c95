"""REST routes for login, the world (users, guilds, members) and the attachment CDN."""

from __future__ import annotations

import re
from typing import Any, Final

import yarl
from aiohttp import web

from tests.fakes.discord.common import DiscordError, FieldErrors, check_str, json_response
from tests.fakes.discord.http import HttpPlumbing
from tests.fakes.discord.models import FakeAttachment
from tests.fakes.discord.records import RECORD

# Discord refreshes at most 50 links per request.
_MAX_REFRESH: Final = 50
_CDN_PATH_RE: Final = re.compile(
    r"^(?:/media)?(?P<path>/(?:ephemeral-)?attachments/[^/]+/(?P<id>\d+)/[^/]+)$"
)


class WorldRoutes(HttpPlumbing):
    """Answers the login, user, guild and CDN routes."""

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
        return json_response(
            {
                **self.bot_user.to_payload(),
                "verified": True,
                "mfa_enabled": False,
                "locale": "en-US",
            }
        )

    async def _h_my_guilds(self, request: web.Request) -> web.Response:
        """GET /users/@me/guilds: the bot's servers, as partial guilds."""
        mine = [g for g in self.guilds.values() if self.bot_user.id in g.members]
        return json_response(
            [
                {
                    "id": str(g.id),
                    "name": g.name,
                    "permissions": str(g.permissions_for(self.bot_user.id)),
                }
                for g in mine
            ]
        )

    async def _h_user(self, request: web.Request) -> web.Response:
        user = self.users.get(self._snowflake(request, "user_id"))
        if user is None:
            raise DiscordError(404, 10013, "Unknown User")
        return json_response(user.to_payload())

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
        return json_response(self.add_dm_channel(user).to_payload())

    async def _h_application(self, request: web.Request) -> web.Response:
        return json_response(self._application_payload())

    async def _h_gateway(self, request: web.Request) -> web.Response:
        return json_response({"url": self.gateway_url})

    async def _h_gateway_bot(self, request: web.Request) -> web.Response:
        return json_response(
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

    async def _h_guild(self, request: web.Request) -> web.Response:
        payload = self._guild_from(request).to_payload()
        for key in ("members", "channels", "threads", "presences", "voice_states"):
            payload.pop(key, None)
        return json_response(payload)

    async def _h_guild_channels(self, request: web.Request) -> web.Response:
        return json_response([c.to_payload() for c in self._guild_from(request).channels.values()])

    async def _h_guild_roles(self, request: web.Request) -> web.Response:
        return json_response([r.to_payload() for r in self._guild_from(request).roles.values()])

    async def _h_guild_member(self, request: web.Request) -> web.Response:
        guild = self._guild_from(request)
        member = guild.members.get(self._snowflake(request, "user_id"))
        if member is None:
            raise DiscordError(404, 10007, "Unknown Member")
        return json_response(member.to_payload())

    async def _h_no_content(self, request: web.Request) -> web.Response:
        return web.Response(status=204)

    async def _h_refresh_urls(self, request: web.Request) -> web.Response:
        """``POST /attachments/refresh-urls``: fresh signed links for up to 50 attachment links.

        A link that names no file of this fake comes back unchanged (Discord does not document
        what it does with one; answering it this way keeps the reply one entry per link).
        """
        urls = self._body(request).get("attachment_urls")
        errs = FieldErrors()
        if not isinstance(urls, list) or not 1 <= len(urls) <= _MAX_REFRESH:
            errs.add(
                ["attachment_urls"],
                "BASE_TYPE_BAD_LENGTH",
                f"Must be between 1 and {_MAX_REFRESH} in length.",
            )
        else:
            for i, url in enumerate(urls):
                check_str(errs, ["attachment_urls", i], url, 1, 2048)
        if errs or not isinstance(urls, list):
            raise self._invalid_form("attachments", request[RECORD], errs)
        refreshed = []
        for url in urls:
            att = self._attachment_at(url)
            fresh = url if att is None else att.links.sign(self._link_base(url), att.cdn_path)
            refreshed.append({"original": url, "refreshed": fresh})
        return json_response({"refreshed_urls": refreshed})

    def _attachment_at(self, url: str) -> FakeAttachment | None:
        parsed = yarl.URL(url)
        if f"{parsed.scheme}://{parsed.raw_authority}" != self.cdn_base:
            return None
        match = _CDN_PATH_RE.match(parsed.raw_path)
        att = self._attachments.get(int(match["id"])) if match else None
        if att is None or match is None or att.cdn_path != match["path"]:
            return None
        return att

    def _link_base(self, url: str) -> str:
        """The CDN base of a link (the media proxy keeps its ``/media`` prefix)."""
        media = yarl.URL(url).raw_path.startswith("/media/")
        return self.cdn_base + ("/media" if media else "")

    async def _h_cdn(self, request: web.Request) -> web.Response:
        try:
            att = self._attachments.get(int(request.match_info["attachment_id"]))
        except ValueError:
            att = None
        # Discord's CDN answers 404 to an unsigned, forged or expired attachment link.
        if att is None or att.removed or not self.cdn_links.is_valid(att.cdn_path, request.query):
            return web.Response(status=404, text="This content is no longer available.")
        att.downloads += 1
        return web.Response(
            body=att.data, headers={"Content-Type": att.content_type or "application/octet-stream"}
        )
