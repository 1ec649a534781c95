"""`STATE_URL`: where the quotas, the budget and the server settings live, parsed once.

- `memory://`: in this process only (tests; state is lost on restart).
- `sqlite:///data/bot.db` (path relative to the working directory) or `sqlite:////abs/bot.db`:
  the embedded default; survives restarts; several processes on one host may share the file.
- `redis://host:6379/0` (or `rediss://` for TLS): several bot processes or shards share state.

Both stores (limits and server settings) are chosen from the same parsed location, so they
accept exactly the same URLs with the same messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

Backend = Literal["memory", "sqlite", "redis"]


@dataclass(frozen=True, slots=True)
class StateLocation:
    """A parsed `STATE_URL`: the backend, and its file (SQLite) or server URL (Redis)."""

    backend: Backend
    path: Path | None = None
    # The Redis URL may carry a password: never shown in the repr.
    url: str = field(default="", repr=False)


def parse_state_url(url: str) -> StateLocation:
    """The location a `STATE_URL` names; opens nothing. ValueError if the URL is not usable."""
    # The URL may hold a Redis password: no message here ever repeats it.
    scheme, _, rest = url.strip().partition("://")
    scheme = scheme.lower()
    if scheme == "memory":
        if rest.strip("/"):
            raise ValueError("STATE_URL: memory:// takes nothing after the //")
        return StateLocation("memory")
    if scheme == "sqlite":
        # SQLAlchemy's form: sqlite:///relative/path.db, sqlite:////absolute/path.db.
        if not rest.startswith("/") or not rest[1:]:
            raise ValueError(
                "STATE_URL: a SQLite URL needs a file path, like sqlite:///data/bot.db "
                "(relative) or sqlite:////var/lib/imagine-bot/bot.db (absolute)"
            )
        return StateLocation("sqlite", path=Path(rest[1:]))
    if scheme in ("redis", "rediss"):
        _check_redis_url(url.strip())
        return StateLocation("redis", url=url.strip())
    shown = f"{scheme}://" if rest and scheme.isalnum() and len(scheme) <= 12 else "something else"
    raise ValueError(f"STATE_URL must start with memory://, sqlite:/// or redis:// (not {shown})")


def _check_redis_url(url: str) -> None:
    parts = urlsplit(url)
    try:
        has_host = bool(parts.hostname)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        has_host = False
    database = parts.path.strip("/")
    if not has_host or (database and not database.isdigit()):
        raise ValueError(
            "STATE_URL: a Redis URL looks like redis://host:6379/0 "
            "(redis://:password@host:6379/0 with a password, rediss:// for TLS)"
        )
