"""Signed CDN links that expire, as Discord's are (``ex``, ``is``, ``hm`` query parameters).

A link carries its expiry (``ex``, hex seconds), its issue time (``is``) and a MAC over the
file's path and both times (``hm``), so a bot cannot extend a link by editing ``ex``. The CDN's
clock is the real one plus ``skew``: ``expire_all`` moves it past every link issued so far,
as a day passing would, and links signed afterwards (a re-read message, the refresh endpoint)
work again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from typing import Final

LINK_LIFETIME: Final = 24 * 3600


class CdnLinks:
    """Signs and checks the fake CDN's attachment links."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(16)
        self.skew = 0.0

    def now(self) -> int:
        return int(time.time() + self.skew)

    def _mac(self, path: str, expires: int, issued: int) -> str:
        message = f"{path}:{expires:x}:{issued:x}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def sign(self, base: str, path: str) -> str:
        """A link to ``path`` valid for a day from the CDN's now."""
        issued = self.now()
        expires = issued + LINK_LIFETIME
        mac = self._mac(path, expires, issued)
        return f"{base}{path}?ex={expires:x}&is={issued:x}&hm={mac}&"

    def is_valid(self, path: str, query: Mapping[str, str]) -> bool:
        """Whether a link's signature matches its path and times, and it has not expired."""
        try:
            expires = int(query.get("ex", ""), 16)
            issued = int(query.get("is", ""), 16)
        except ValueError:
            return False
        good = hmac.compare_digest(self._mac(path, expires, issued), query.get("hm", ""))
        return good and self.now() < expires

    def expire_all(self) -> None:
        """Move the CDN's clock past the expiry of every link issued so far."""
        self.skew += LINK_LIFETIME + 1
