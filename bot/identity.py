"""The member's pseudonymous id: the `user` sent to the API and the key of every limit.

An HMAC-SHA256 of the Discord user id under a secret salt. Without the salt the id cannot be
traced back to the member, and the same member always gets the same id, across restarts too.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from bot.private import make_private_dir

log = logging.getLogger(__name__)

SALT_FILE = "user-id-salt"


class MemberIds:
    """Turns Discord user ids into stable pseudonymous ids."""

    __slots__ = ("_salt",)

    def __init__(self, salt: bytes) -> None:
        if len(salt) < 16:
            raise ValueError("the user id salt must be at least 16 bytes")
        self._salt = salt

    def __call__(self, discord_user_id: int) -> str:
        # hmac.digest: OpenSSL's one-shot HMAC, several times faster than building an HMAC object.
        digest = hmac.digest(self._salt, str(discord_user_id).encode(), hashlib.sha256)
        return "u-" + digest.hex()[:32]

    def __repr__(self) -> str:
        return "MemberIds(salt='********')"


def load_or_create_salt(data_dir: Path) -> bytes:
    """Read the salt kept in `data_dir`, making one (readable by this user only) the first time."""
    path = data_dir / SALT_FILE
    try:
        return bytes.fromhex(path.read_text().strip())
    except FileNotFoundError:
        pass
    make_private_dir(data_dir)
    salt = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(salt.hex())
    log.info("Created a new user id salt in %s; keep it to keep member ids stable", path)
    return salt
