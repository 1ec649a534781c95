"""A doctor's check as data (what was checked, found, and how to fix it), and its one GET."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

TIMEOUT = aiohttp.ClientTimeout(total=15)


@dataclass(frozen=True, slots=True)
class Check:
    """One check's outcome: what was checked, what was found, and how to fix a failure."""

    name: str
    ok: bool
    found: str
    fix: str = ""

    def line(self) -> str:
        """The check as the doctor prints it."""
        text = f"{'PASS' if self.ok else 'FAIL'}  {self.name}: {self.found}"
        return text if self.ok or not self.fix else f"{text}\n      fix: {self.fix}"


async def get_json(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str]
) -> tuple[int, Any]:
    """(status, parsed body or None); network failures raise aiohttp.ClientError/TimeoutError."""
    async with session.get(url, headers=headers, timeout=TIMEOUT) as response:
        raw = await response.read()
    try:
        return response.status, json.loads(raw)
    except ValueError:
        return response.status, None
