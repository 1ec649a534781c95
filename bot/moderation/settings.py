"""One server's controls as a frozen value: where the commands work, for whom, and how much.

Changes are made with the `with_*`/`without_*` methods, which validate, enforce the caps with
a message for the admin (`InvalidSetting`), and return a new value; the stores apply them
atomically. Nothing here does I/O. `to_json`/`from_json` are the stored form, shared by every
backend.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from bot.errors import UserFacingError
from bot.limits.policy import DAY_SECONDS, LimitPolicy, RolePolicies
from bot.moderation.errors import InvalidSetting
from bot.moderation.terms import normalise_term

of = UserFacingError.of

SCHEMA_VERSION = 1
MAX_ALLOWED_CHANNELS = 50
MAX_ALLOWED_ROLES = 25
MAX_BLOCKED_TERMS = 200
MAX_BLOCKED_MEMBERS = 1000
MAX_IMAGES = 10_000  # per window or per day: a sanity bound, the default caps it further
MAX_MEMBER_KEY = 100
FOREVER = math.inf
"""The `until` of a member block without an end."""


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """The controls of one server (guild). A server that saved nothing has these defaults.

    - `allowed_channels`: channel ids where the commands work; empty means everywhere.
    - `allowed_roles`: members need one of these roles; empty means everyone.
    - `window_images`, `daily_images`, `window_seconds`: this server's per-member limits; None
      keeps the configured default (see `limit_policy`).
    - `blocked_terms`: normalised terms (see `bot.moderation.terms`), in the order added.
    - `modlog_channel`: where refusals and blocks are reported; None for nowhere.
    - `nsfw_only`: the commands work only in age-restricted channels.
    - `blocked_members`: pseudonymous member key -> end of their block, epoch seconds
      (`FOREVER` for a block without an end). Expired blocks may linger until the next change.
    """

    guild_id: int
    allowed_channels: frozenset[int] = frozenset()
    allowed_roles: frozenset[int] = frozenset()
    window_images: int | None = None
    daily_images: int | None = None
    window_seconds: int | None = None
    blocked_terms: tuple[str, ...] = ()
    modlog_channel: int | None = None
    nsfw_only: bool = False
    # A result's Re-roll / Vary / Edit work for the member who asked only (default: anyone here).
    clicks_owner_only: bool = False
    # Not hashed: a mapping is not hashable, and the other fields identify the value well enough.
    blocked_members: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )

    def __post_init__(self) -> None:
        # Frozen all the way down, whatever collection types the caller passed.
        object.__setattr__(self, "allowed_channels", frozenset(self.allowed_channels))
        object.__setattr__(self, "allowed_roles", frozenset(self.allowed_roles))
        object.__setattr__(self, "blocked_terms", tuple(self.blocked_terms))
        object.__setattr__(self, "blocked_members", MappingProxyType(dict(self.blocked_members)))

    @property
    def is_default(self) -> bool:
        """True when nothing differs from a server that saved nothing (nothing to store)."""
        return self == ServerSettings(self.guild_id)

    @property
    def has_limits(self) -> bool:
        """True when this server sets any of its own per-member limits."""
        return (self.window_images, self.daily_images, self.window_seconds) != (None,) * 3

    # --- limits ---

    def limit_policy(
        self, default: LimitPolicy, *, may_exceed_default: bool = False
    ) -> LimitPolicy:
        """The per-member limits on this server: its own numbers where set, else `default`'s.

        Unless `may_exceed_default`, a server can only tighten what the operator configured
        (the operator pays for the images): the daily cap and the images per window never
        exceed the default's, and a window shorter than the default's is lengthened just
        enough that the rate stays within the default rate (3 per 5 minutes under a default
        of 10 an hour becomes 3 per 18 minutes).
        """
        window_images = self.window_images or default.window_images
        daily_images = self.daily_images or default.daily_images
        window_seconds = self.window_seconds or default.window_seconds
        if not may_exceed_default:
            daily_images = min(daily_images, default.daily_images)
            window_images = min(window_images, default.window_images)
            rate_floor = math.ceil(window_images * default.window_seconds / default.window_images)
            window_seconds = min(max(window_seconds, rate_floor), DAY_SECONDS)
        return LimitPolicy(
            window_seconds=window_seconds,
            window_images=window_images,
            daily_images=daily_images,
        )

    def role_policies(
        self, configured: RolePolicies, *, may_exceed_default: bool = False
    ) -> RolePolicies:
        """The configured role policies with this server's limits as the default.

        Role overrides and exempt roles stay as configured (role ids belong to one server,
        so the operator set them for a server on purpose).
        """
        if not self.has_limits:
            return configured
        default = self.limit_policy(configured.default, may_exceed_default=may_exceed_default)
        return dataclasses.replace(configured, default=default)

    def with_limits(
        self,
        *,
        window_images: int | None = None,
        daily_images: int | None = None,
        window_seconds: int | None = None,
    ) -> ServerSettings:
        """Set some of this server's limits (None leaves that number as it is)."""
        changes: dict[str, int] = {}
        for name, value, low, high in (
            ("window_images", window_images, 1, MAX_IMAGES),
            ("daily_images", daily_images, 1, MAX_IMAGES),
            ("window_seconds", window_seconds, 1, DAY_SECONDS),
        ):
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise InvalidSetting(of(f"settings.invalid.{name}", low=low, high=f"{high:,}"))
            changes[name] = value
        return dataclasses.replace(self, **changes)  # type: ignore[arg-type]

    def without_limits(self) -> ServerSettings:
        """Back to the configured default limits."""
        return dataclasses.replace(self, window_images=None, daily_images=None, window_seconds=None)

    # --- channels and roles ---

    def with_channel_allowed(self, channel_id: int) -> ServerSettings:
        """Let the commands work in this channel (once any is allowed, only in those)."""
        channels = self.allowed_channels | {_snowflake(channel_id, "channel")}
        if len(channels) > MAX_ALLOWED_CHANNELS:
            raise InvalidSetting(of("settings.invalid.channels", limit=MAX_ALLOWED_CHANNELS))
        return dataclasses.replace(self, allowed_channels=channels)

    def without_channel_allowed(self, channel_id: int) -> ServerSettings:
        """Remove a channel from the allowed list (an empty list means every channel)."""
        return dataclasses.replace(self, allowed_channels=self.allowed_channels - {channel_id})

    def with_role_allowed(self, role_id: int) -> ServerSettings:
        """Let members with this role use the commands (once any is allowed, only them)."""
        roles = self.allowed_roles | {_snowflake(role_id, "role")}
        if len(roles) > MAX_ALLOWED_ROLES:
            raise InvalidSetting(of("settings.invalid.roles", limit=MAX_ALLOWED_ROLES))
        return dataclasses.replace(self, allowed_roles=roles)

    def without_role_allowed(self, role_id: int) -> ServerSettings:
        """Remove a role from the allowed list (an empty list means everyone)."""
        return dataclasses.replace(self, allowed_roles=self.allowed_roles - {role_id})

    # --- blocked terms ---

    def with_blocked_term(self, term: str) -> ServerSettings:
        """Block a term (normalised first; blocking it again changes nothing)."""
        normal = normalise_term(term)
        if normal in self.blocked_terms:
            return self
        if len(self.blocked_terms) >= MAX_BLOCKED_TERMS:
            raise InvalidSetting(of("settings.invalid.terms", limit=MAX_BLOCKED_TERMS))
        return dataclasses.replace(self, blocked_terms=(*self.blocked_terms, normal))

    def without_blocked_term(self, term: str) -> ServerSettings:
        """Unblock a term, written any way that normalises to the saved form."""
        try:
            normal = normalise_term(term)
        except InvalidSetting:
            return self  # it could never have been saved
        return dataclasses.replace(
            self, blocked_terms=tuple(t for t in self.blocked_terms if t != normal)
        )

    # --- mod-log and age-restricted channels ---

    def with_modlog(self, channel_id: int | None) -> ServerSettings:
        """Report to this channel (None: report nowhere)."""
        if channel_id is not None:
            channel_id = _snowflake(channel_id, "channel")
        return dataclasses.replace(self, modlog_channel=channel_id)

    def with_nsfw_only(self, nsfw_only: bool) -> ServerSettings:
        """Whether the commands work only in age-restricted channels."""
        return dataclasses.replace(self, nsfw_only=bool(nsfw_only))

    def with_clicks_owner_only(self, owner_only: bool) -> ServerSettings:
        """Whether a result's buttons work only for the member who asked for it."""
        return dataclasses.replace(self, clicks_owner_only=bool(owner_only))

    # --- member blocks ---

    def blocked_until(self, member_key: str, *, now: float) -> float | None:
        """When this member's block ends (`FOREVER` if never), or None if not blocked now."""
        until = self.blocked_members.get(member_key)
        return until if until is not None and until > now else None

    def with_member_blocked(
        self, member_key: str, *, until: float | None, now: float
    ) -> ServerSettings:
        """Block a member until the epoch time `until` (None: until unblocked).

        Expired blocks are dropped on the way, so the list only holds current ones.
        """
        if not member_key or len(member_key) > MAX_MEMBER_KEY:
            raise ValueError("a member key is a non-empty pseudonymous id")
        end = FOREVER if until is None else float(until)
        if math.isnan(end) or end <= now:
            raise InvalidSetting(of("settings.invalid.block_in_past"))
        members = {key: end for key, end in self.blocked_members.items() if end > now}
        members[member_key] = end
        if len(members) > MAX_BLOCKED_MEMBERS:
            raise InvalidSetting(of("settings.invalid.members", limit=MAX_BLOCKED_MEMBERS))
        return dataclasses.replace(self, blocked_members=members)

    def without_member_blocked(self, member_key: str, *, now: float) -> ServerSettings:
        """Lift a member's block (and drop expired ones)."""
        members = {
            key: end for key, end in self.blocked_members.items() if end > now and key != member_key
        }
        return dataclasses.replace(self, blocked_members=members)

    # --- stored form ---

    def to_json(self) -> str:
        """The stored form: a versioned JSON object (a block without end is stored as null)."""
        limits = {
            name: value
            for name, value in (
                ("window_images", self.window_images),
                ("daily_images", self.daily_images),
                ("window_seconds", self.window_seconds),
            )
            if value is not None
        }
        document = {
            "version": SCHEMA_VERSION,
            "allowed_channels": sorted(self.allowed_channels),
            "allowed_roles": sorted(self.allowed_roles),
            "limits": limits,
            "blocked_terms": list(self.blocked_terms),
            "modlog_channel": self.modlog_channel,
            "nsfw_only": self.nsfw_only,
            "clicks_owner_only": self.clicks_owner_only,
            "blocked_members": {
                key: None if math.isinf(end) else end
                for key, end in sorted(self.blocked_members.items())
            },
        }
        return json.dumps(document, separators=(",", ":"), allow_nan=False)

    @classmethod
    def from_json(cls, guild_id: int, text: str) -> ServerSettings:
        """Read the stored form; ValueError if it is not one this version understands."""
        document = json.loads(text)
        if not isinstance(document, dict) or document.get("version") != SCHEMA_VERSION:
            raise ValueError("not a version 1 settings document")
        limits = _mapping(document.get("limits", {}))
        members = _mapping(document.get("blocked_members", {}))
        return cls(
            guild_id=guild_id,
            allowed_channels=frozenset(_ints(document.get("allowed_channels", []))),
            allowed_roles=frozenset(_ints(document.get("allowed_roles", []))),
            window_images=_optional_int(limits.get("window_images")),
            daily_images=_optional_int(limits.get("daily_images")),
            window_seconds=_optional_int(limits.get("window_seconds")),
            blocked_terms=tuple(_strings(document.get("blocked_terms", []))),
            modlog_channel=_optional_int(document.get("modlog_channel")),
            nsfw_only=_bool(document.get("nsfw_only", False)),
            clicks_owner_only=_bool(document.get("clicks_owner_only", False)),
            blocked_members={
                str(key): FOREVER if end is None else _number(end) for key, end in members.items()
            },
        )


def _snowflake(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"a {what} id is a positive integer")
    return value


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValueError("expected an object")
    return value


def _ints(values: Any) -> Iterable[int]:
    if not isinstance(values, list):
        raise ValueError("expected a list")
    return [_int(value) for value in values]


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("expected an integer")
    return value


def _optional_int(value: Any) -> int | None:
    return None if value is None else _int(value)


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a number")
    return float(value)


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("expected true or false")
    return value


def _strings(values: Any) -> list[str]:
    if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
        raise ValueError("expected a list of strings")
    return list(values)
