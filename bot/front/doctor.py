"""`python -m bot doctor`: each part the bot depends on, checked, with a pass/fail line and a fix.

Settings (read before this runs), the state store (open, write, read, its version), the
Images API (`GET /models`: is IMAGE_MODEL there, its shutdown date, the key's access to it),
the moderation endpoint, Discord (the token by `GET /users/@me`, the registered commands),
and in each server with allowed channels or a mod-log, the bot's permissions there.
The entry point also runs the Images API check at start and logs a failure as an error: a
wrong key is the operator's problem, not a member's. (The state store is checked at start by
opening it; the moderation check is a request of its own, left to the doctor.)

Discord is asked through discord.py's own base URL (`Route.BASE`) with plain aiohttp: one
request each, no gateway, nothing registered or changed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import aiohttp
from discord.http import Route

from bot.config import Settings
from bot.front.doctor_check import TIMEOUT, Check, get_json
from bot.front.doctor_servers import check_servers
from bot.moderation.store import open_server_settings
from bot.state import StateUnavailable, open_state, probe_state, state_connection
from bot.transport import openai_headers


def _openai_headers(settings: Settings) -> dict[str, str]:
    return openai_headers(
        settings.openai_api_key, settings.openai_org_id, settings.openai_project_id
    )


async def check_state(settings: Settings) -> Check:
    """Open the state store, write and read a probe, and say what it runs."""
    connection = state_connection(settings.state_url)
    if connection is None:
        return Check("state store", True, "memory:// (kept in this process only)")
    try:
        await open_state(connection)
    except StateUnavailable as exc:
        return Check(
            "state store",
            False,
            f"{exc.backend} at {exc.where}: {exc.detail}",
            (
                "check that the server runs and STATE_URL (host, port, password, database)"
                if exc.backend == "redis"
                else "check that DATA_DIR / STATE_URL's folder exists and this user may write there"
            ),
        )
    try:
        return Check("state store", True, await probe_state(connection))
    except StateUnavailable as exc:
        return Check("state store", False, exc.detail, "check the store's disk and permissions")
    finally:
        await connection.close()


async def check_images_api(settings: Settings, session: aiohttp.ClientSession) -> Check:
    """GET /models: the key is accepted, IMAGE_MODEL is served to it, and when it shuts down."""
    name, model = "Images API", settings.image_model
    base = settings.openai_base_url.rstrip("/")
    try:
        status, body = await get_json(session, f"{base}/models", _openai_headers(settings))
        if status == 200 and isinstance(body, dict) and isinstance(body.get("data"), list):
            listed = {e.get("id"): e for e in body["data"] if isinstance(e, dict)}
            if model in listed:
                return _model_check(model, listed[model])
        if status in (401, 403):
            return Check(
                name,
                False,
                f"{base} refused the key ({status})",
                (
                    "set OPENAI_API_KEY to a valid key for this server (and OPENAI_ORG_ID / "
                    "OPENAI_PROJECT_ID if the key belongs to another organisation or project)"
                ),
            )
        # Not listed (or no list): ask for the model itself, as some servers list only a few.
        status, entry = await get_json(session, f"{base}/models/{model}", _openai_headers(settings))
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return Check(
            name,
            False,
            f"cannot reach {base} ({type(exc).__name__})",
            ("check OPENAI_BASE_URL and this machine's network"),
        )
    if status == 200 and isinstance(entry, dict):
        return _model_check(model, entry)
    return Check(
        name,
        False,
        f"IMAGE_MODEL {model} is not available to this key ({status})",
        (
            "set IMAGE_MODEL to a model the key may use (see your provider's model list), or "
            "give the key's project access to it"
        ),
    )


def _model_check(model: str, entry: dict[str, Any]) -> Check:
    shutdown = entry.get("shutdown_date")
    if not isinstance(shutdown, str):
        return Check("Images API", True, f"key accepted; IMAGE_MODEL {model} is available")
    try:
        past = dt.date.fromisoformat(shutdown[:10]) <= dt.datetime.now(dt.UTC).date()
    except ValueError:
        past = False
    if past:
        return Check(
            "Images API",
            False,
            f"IMAGE_MODEL {model} was shut down on {shutdown}",
            ("set IMAGE_MODEL to a current model"),
        )
    return Check(
        "Images API",
        True,
        (
            f"key accepted; IMAGE_MODEL {model} is available, but shuts down on {shutdown}: "
            "plan to move IMAGE_MODEL to its successor"
        ),
    )


async def check_moderation(settings: Settings, session: aiohttp.ClientSession) -> Check:
    """One harmless prompt through the moderation endpoint, when screening is on."""
    if not settings.moderation_enabled:
        return Check("moderation", True, "off (MODERATION_ENABLED)")
    base = settings.moderation_base_url.rstrip("/")
    headers = {"Accept": "application/json"}
    if settings.moderation_api_key is not None:
        headers["Authorization"] = f"Bearer {settings.moderation_api_key.reveal()}"
    payload = {"model": settings.moderation_model, "input": "a lighthouse at dusk"}
    try:
        async with session.post(
            f"{base}/moderations", json=payload, headers=headers, timeout=TIMEOUT
        ) as response:
            status = response.status
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return Check(
            "moderation",
            False,
            f"cannot reach {base} ({type(exc).__name__})",
            ("check MODERATION_BASE_URL and this machine's network"),
        )
    if status == 200:
        return Check("moderation", True, f"{base} screened a test prompt")
    return Check(
        "moderation",
        False,
        f"{base} answered {status}",
        (
            "check MODERATION_API_KEY and MODERATION_MODEL"
            if status in (400, 401, 403, 404)
            else "the endpoint failed; try again later"
        ),
    )


async def check_discord(settings: Settings, session: aiohttp.ClientSession) -> list[Check]:
    """The token (GET /users/@me) and the slash commands registered for the application."""
    headers = {"Authorization": f"Bot {settings.discord_token.reveal()}"}
    try:
        status, me = await get_json(session, f"{Route.BASE}/users/@me", headers)
        if status != 200 or not isinstance(me, dict):
            fix = "reset the token (Developer Portal > Bot > Reset Token) and set DISCORD_TOKEN"
            return [Check("Discord token", False, f"Discord answered {status}", fix)]
        token = Check("Discord token", True, f"logged in as {me.get('username')} ({me.get('id')})")
        status, app = await get_json(session, f"{Route.BASE}/applications/@me", headers)
        application = app.get("id") if isinstance(app, dict) else me.get("id")
        scope = f"/applications/{application}"
        if settings.discord_guild_id is not None:
            scope += f"/guilds/{settings.discord_guild_id}"
        status, listed = await get_json(session, f"{Route.BASE}{scope}/commands", headers)
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        return [
            Check(
                "Discord",
                False,
                f"cannot reach Discord ({type(exc).__name__})",
                ("check this machine's network (and any proxy or firewall on the way to Discord)"),
            )
        ]
    names = sorted(c.get("name", "?") for c in listed) if isinstance(listed, list) else []
    where = "in DISCORD_GUILD_ID's server" if settings.discord_guild_id else "globally"
    if status == 200 and names:
        return [token, Check("slash commands", True, f"{where}: /" + ", /".join(names))]
    return [
        token,
        Check(
            "slash commands",
            False,
            f"none registered {where} ({status})",
            ("start the bot once: it registers its commands (global ones may take an hour)"),
        ),
    ]


async def service_checks(settings: Settings, session: aiohttp.ClientSession) -> list[Check]:
    """Everything but Discord: the state store, the Images API, the moderation endpoint."""
    return [
        await check_state(settings),
        await check_images_api(settings, session),
        await check_moderation(settings, session),
    ]


async def run_doctor(settings: Settings) -> list[Check]:
    """Every check, in the order an operator would fix them."""
    async with aiohttp.ClientSession() as session:
        checks = [Check("settings", True, "read; every setting is valid")]
        checks += await service_checks(settings, session)
        checks += await check_discord(settings, session)
        if all(check.ok for check in checks):  # the store and Discord answer: the servers
            async with open_server_settings(settings.state_url) as servers:
                checks += await check_servers(settings.discord_token.reveal(), session, servers)
    return checks
