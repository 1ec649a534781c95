"""Parsers for setting values: each returns the typed value or raises `ValueError`.

A parser never puts the raw value into its error: the reader words the problem itself.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TypeVar
from urllib.parse import urlsplit

from bot.config.reader import Invalid
from bot.moderation.client import MODERATION_CATEGORIES
from bot.secrets import Secret
from bot.state import parse_state_url

S = TypeVar("S", bound=str)


def text(raw: str) -> str:
    """Any text (the reader has already stripped it and skipped empty values)."""
    return raw


def secret(min_length: int = 1) -> Callable[[str], Secret]:
    """A secret of at least `min_length` characters."""

    def parse(raw: str) -> Secret:
        if len(raw) < min_length:
            raise Invalid(f"is too short; use at least {min_length} random characters.")
        return Secret(raw)

    return parse


def one_of(choices: tuple[S, ...], normalise: Callable[[str], str] = str) -> Callable[[str], S]:
    """One of `choices`, compared after `normalise` (e.g. `str.upper`)."""

    def parse(raw: str) -> S:
        value = normalise(raw)
        for choice in choices:
            if value == choice:
                return choice
        raise ValueError(raw)

    return parse


def base_url(raw: str) -> str:
    """An http(s) URL, without its trailing slash."""
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(raw)
    return raw.rstrip("/")


def state_url(raw: str) -> str:
    """A STATE_URL the stores can open (checked by the one parser, which opens nothing)."""
    if parse_state_url(raw).backend == "redis" and importlib.util.find_spec("redis") is None:
        raise Invalid(
            "is a Redis URL, but the Redis client is not installed; install the extra with "
            "pip install 'imagine-bot[redis]' (the Docker image has it), or use SQLite."
        )
    return raw


def boolean(raw: str) -> bool:
    value = raw.lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def host_port(raw: str) -> tuple[str, int]:
    """`host:port` (an IPv6 host in brackets: `[::1]:9108`)."""
    host, colon, port = raw.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not colon or not host or not 1 <= int(port) <= 65535:
        raise Invalid("must be host:port, for example 127.0.0.1:9108.")
    return host, int(port)


def positive_int(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise ValueError(raw)
    return value


def int_between(low: int, high: int) -> Callable[[str], int]:
    """A whole number from `low` to `high`."""

    def parse(raw: str) -> int:
        value = int(raw)
        if not low <= value <= high:
            raise ValueError(raw)
        return value

    return parse


def positive_float(raw: str) -> float:
    value = float(raw)
    if not value > 0 or value == float("inf"):
        raise ValueError(raw)
    return value


def non_negative_float(raw: str) -> float:
    value = float(raw)
    if not value >= 0 or value == float("inf"):
        raise ValueError(raw)
    return value


def snowflake(raw: str) -> int:
    """A Discord id."""
    value = int(raw)
    if value <= 0:
        raise ValueError(raw)
    return value


def snowflakes(raw: str) -> frozenset[int]:
    """Discord ids separated by commas."""
    return frozenset(snowflake(part.strip()) for part in raw.split(",") if part.strip())


def shard_numbers(raw: str) -> tuple[int, ...]:
    """Shard numbers (0 or more) separated by commas, in order, each once."""
    numbers = sorted({int(part.strip()) for part in raw.split(",") if part.strip()})
    if not numbers or numbers[0] < 0:
        raise ValueError(raw)
    return tuple(numbers)


def role_numbers(raw: str) -> Mapping[int, tuple[int, int]]:
    """`role_id=per_window/per_day` pairs separated by commas."""
    result: dict[int, tuple[int, int]] = {}
    for part in raw.split(","):
        if not part.strip():
            continue
        role, _, numbers = part.partition("=")
        per_window, _, per_day = numbers.partition("/")
        result[snowflake(role.strip())] = (
            positive_int(per_window.strip()),
            positive_int(per_day.strip()),
        )
    return MappingProxyType(result)


def categories(raw: str) -> frozenset[str] | None:
    """Moderation categories separated by commas."""
    found = frozenset(part.strip().lower() for part in raw.split(",") if part.strip())
    if not found or not found <= set(MODERATION_CATEGORIES):
        raise ValueError(raw)
    return found
