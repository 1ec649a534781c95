"""Size-capped, time-limited downloads over the process's one aiohttp session.

Used for attachments members upload (Discord's CDN) and for URL results from the Images API
(which expire after 60 minutes, so they are fetched at once).
"""

from __future__ import annotations

import aiohttp


class DownloadError(Exception):
    """The file could not be fetched."""


class DownloadTooLarge(DownloadError):
    """The file is larger than the cap (declared, or found while streaming)."""

    def __init__(self, limit: int, size: int | None = None) -> None:
        super().__init__(f"larger than {limit} bytes")
        self.limit = limit
        self.size = size


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
    session: aiohttp.ClientSession, url: str, *, max_bytes: int, timeout: float
) -> bytes:
    """Fetch `url` into memory, refusing more than `max_bytes` before and while streaming."""
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    try:
        async with session.get(url, timeout=client_timeout, allow_redirects=True) as response:
            if response.status != 200:
                raise DownloadError(f"HTTP {response.status}")
            return bytes(await read_capped(response, max_bytes))
    except TimeoutError as exc:
        raise DownloadError("timed out") from exc
    except aiohttp.ClientError as exc:
        raise DownloadError(type(exc).__name__) from exc
