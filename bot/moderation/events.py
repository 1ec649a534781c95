"""What happened, for the mod-log: a generation, a refusal or a block, as plain values.

The commands dispatch these as bot events (`image_generated`, `prompt_refused`,
`member_blocked`, `member_unblocked`); the mod-log listens. Neither side knows the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.errors import Said
from bot.moderation.errors import Layer


@dataclass(frozen=True, slots=True)
class Generated:
    """Images a member made and where they were posted."""

    guild_id: int
    channel_id: int | None
    member_id: int
    command: str
    prompt: str | None
    model: str
    size: str
    message_channel_id: int | None  # where the result message is (None: not posted)
    message_id: int | None
    images: tuple[bytes, ...] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Refused:
    """A prompt a screening layer refused before (or instead of) any image."""

    guild_id: int
    channel_id: int | None
    member_id: int
    command: str
    prompt: str
    layer: Layer
    reason: Said  # for moderators only: the term, or the flagged categories


@dataclass(frozen=True, slots=True)
class Blocked:
    """A moderator blocked a member from the image commands on a server."""

    guild_id: int
    member_id: int
    moderator_id: int
    until: float | None  # epoch seconds; None: until unblocked


@dataclass(frozen=True, slots=True)
class Unblocked:
    """A moderator lifted a member's block."""

    guild_id: int
    member_id: int
    moderator_id: int
