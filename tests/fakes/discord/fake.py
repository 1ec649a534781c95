"""FakeDiscord: every job of the fake on one 127.0.0.1 port, and pointing discord.py at it."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Self

import yarl
from aiohttp import web

from tests.fakes.discord.actions import ActionSender
from tests.fakes.discord.commands import CommandRoutes
from tests.fakes.discord.common import API_PREFIX, GATEWAY_PATH, MIB
from tests.fakes.discord.gateway import Gateway
from tests.fakes.discord.responses import InteractionResponses
from tests.fakes.discord.rest import WorldRoutes

if TYPE_CHECKING:
    import discord

# (method, path, handler) of one REST route.
RouteSpec = tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]


class FakeDiscord(InteractionResponses, CommandRoutes, WorldRoutes, ActionSender, Gateway):
    """Discord's REST API, gateway and CDN for one bot, on one 127.0.0.1 port.

    World (with ``populate=True``): ``guild`` owned by ``owner``, with ``moderator`` (role
    ``moderator_role``), ``member`` and ``other_member``; text channels ``text_channel``,
    ``other_channel`` and ``nsfw_channel``; ``dm_channel`` between the bot and ``member``.
    Observation: ``requests``, ``messages`` (per channel), ``interactions``, ``violations``,
    ``command_puts``, ``gateway_received``, ``internal_errors`` (bugs of the fake itself).
    """

    # Unlike the other fakes, a handler runs to its end when the bot gives up on it, and
    # shutdown waits for it as aiohttp does by default: what this fake always did.
    handler_cancellation = False
    shutdown_timeout = 60.0

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
        super().__init__(
            token=token,
            application_id=application_id,
            bot_name=bot_name,
            callback_deadline=callback_deadline,
            heartbeat_interval_ms=heartbeat_interval_ms,
            resume_buffer=resume_buffer,
        )
        self.patch_discord = patch_discord
        self._patch_stack: contextlib.ExitStack | None = None
        if populate:
            self._populate()

    # ------------------------------------------------------------------ lifecycle

    def make_app(self) -> web.Application:
        app = web.Application(middlewares=[self._middleware], client_max_size=256 * MIB)
        self._add_routes(app)
        return app

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
        await super().close()

    async def __aenter__(self) -> Self:
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

    # ------------------------------------------------------------------ HTTP plumbing

    def _add_routes(self, app: web.Application) -> None:
        for method, path, handler in [*self._api_routes(), *self._command_routes()]:
            app.router.add_route(method, API_PREFIX + path, handler)
        for prefix in ("", "/media"):
            for kind in ("attachments", "ephemeral-attachments"):
                app.router.add_route(
                    "GET", f"{prefix}/{kind}/{{scope}}/{{attachment_id}}/{{filename}}", self._h_cdn
                )
        app.router.add_route("GET", GATEWAY_PATH, self._gateway_handler)

    def _api_routes(self) -> list[RouteSpec]:
        """(method, path under /api/v10, handler) for every REST route but the commands."""
        return [
            ("GET", "/users/@me", self._h_me),
            ("POST", "/users/@me/channels", self._h_create_dm),
            ("GET", "/users/@me/guilds", self._h_my_guilds),
            ("GET", "/users/{user_id}", self._h_user),
            ("GET", "/oauth2/applications/@me", self._h_application),
            ("GET", "/applications/@me", self._h_application),
            ("GET", "/gateway", self._h_gateway),
            ("POST", "/attachments/refresh-urls", self._h_refresh_urls),
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

    def _command_routes(self) -> list[RouteSpec]:
        """The application command routes, global and per guild."""
        routes: list[RouteSpec] = []
        for scope in (
            "/applications/{application_id}",
            "/applications/{application_id}/guilds/{guild_id}",
        ):
            routes += [
                ("GET", scope + "/commands", self._h_list_commands),
                ("PUT", scope + "/commands", self._h_put_commands),
                ("POST", scope + "/commands", self._h_create_command),
                ("GET", scope + "/commands/{command_id}", self._h_get_command),
                ("PATCH", scope + "/commands/{command_id}", self._h_edit_command),
                ("DELETE", scope + "/commands/{command_id}", self._h_delete_command),
            ]
        return routes


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
