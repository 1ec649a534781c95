"""Size-capped, time-limited downloads over the process's one aiohttp session.

Used for attachments members upload (Discord's CDN) and for URL results from the Images API
(which expire after 60 minutes, so they are fetched at once).

An attachment's URL comes in the interaction's payload, which anyone able to send one can
write. So attachments are fetched only from allowed origins (Discord's CDN over HTTPS, plus any
the operator adds for a self-hosted gateway), judged before any request, so a foreign name is
never even resolved, and with redirects off, so an allowed host can't hand the fetch on.
"""

from __future__ import annotations

from collections.abc import Collection

import aiohttp
from yarl import URL

# Where Discord serves attachments (DISCORD-LIMITS.md: `url` and `proxy_url`).
DISCORD_CDN_ORIGINS = frozenset({"https://cdn.discordapp.com", "https://media.discordapp.net"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class DownloadError(Exception):
    """The file could not be fetched."""


class DownloadTooLarge(DownloadError):
    """The file is larger than the cap (declared, or found while streaming)."""

    def __init__(self, limit: int, size: int | None = None) -> None:
        super().__init__(f"larger than {limit} bytes")  # i18n: not for members
        self.limit = limit
        self.size = size


class DownloadRefused(DownloadError):
    """The URL is not on an allowed origin; nothing was requested. `origin` is where it
    points (None when it is no http(s) URL at all)."""

    def __init__(self, origin: str | None) -> None:
        super().__init__("not an allowed origin")  # i18n: not for members
        self.origin = origin


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` of an http(s) `url`, lower-cased, the default port left out;
    None for anything else (another scheme, no host, or a user name in it)."""
    try:
        parsed = URL(url)
    except (TypeError, ValueError):
        return None
    scheme = parsed.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parsed.host or parsed.user or parsed.password:
        return None
    port = parsed.explicit_port
    suffix = f":{port}" if port is not None and port != _DEFAULT_PORTS[scheme] else ""
    return f"{scheme}://{parsed.host.lower()}{suffix}"


def parse_origins(raw: str) -> frozenset[str]:
    """Origins (`https://host[:port]`, or `http://` for a local gateway) separated by commas;
    `ValueError` for anything with a path, query or credentials."""
    origins = set()
    for part in (piece.strip() for piece in raw.split(",")):
        if not part:
            continue
        origin = origin_of(part)
        if origin is None or URL(part).path not in ("", "/") or URL(part).query_string:
            raise ValueError("not an origin")
        origins.add(origin)
    return frozenset(origins)


def check_origin(url: str, allowed: Collection[str]) -> None:
    """`DownloadRefused` unless `url` is on one of the `allowed` origins."""
    origin = origin_of(url)
    if origin is None or origin not in allowed:
        raise DownloadRefused(origin)


async def read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytearray:
    """The whole body of `response`; `DownloadTooLarge` past `max_bytes`, declared or read.

    Grown piece by piece rather than allocated at the declared size: `bytearray(n)` writes n
    zeros in one go, which holds the event loop for tens of milliseconds at 30 MB.
    """
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise DownloadTooLarge(max_bytes, declared)
    body = bytearray()
    async for piece in response.content.iter_any():
        body += piece
        if len(body) > max_bytes:
            raise DownloadTooLarge(max_bytes)
    return body


async def download(
    session: aiohttp.ClientSession,
    url: str,
    *,
    max_bytes: int,
    timeout: float,
    origins: Collection[str] | None = None,
) -> bytes:
    """Fetch `url` into memory, refusing more than `max_bytes` before and while streaming.

    With `origins`, only a URL on one of them is fetched (`DownloadRefused` before any
    request) and a redirect is an error rather than followed."""
    if origins is not None:
        check_origin(url, origins)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    follow = origins is None
    try:
        async with session.get(url, timeout=client_timeout, allow_redirects=follow) as response:
            if response.status != 200:
                raise DownloadError(f"HTTP {response.status}")
            return bytes(await read_capped(response, max_bytes))
    except TimeoutError as exc:
        raise DownloadError("timed out") from exc  # i18n: not for members
    except aiohttp.ClientError as exc:
        raise DownloadError(type(exc).__name__) from exc
