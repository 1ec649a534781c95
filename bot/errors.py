"""Errors the Discord member who caused them can understand, carried as data.

The core never writes a sentence for a member: it raises an error holding one or more
`Problem`s, each a message id of the catalogue (`locales/`) and the fields that fill it in
(limits, times, the rejected option, the model's rule...). The Discord front renders them in
the member's language (`bot.front.i18n`). A plain string is still accepted where a module has
not been converted yet (issue 13's conversion removes them); it is shown as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing to tell the member: a catalogue message id and its fields."""

    key: str
    fields: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __str__(self) -> str:
        return self.key


@dataclass(frozen=True, slots=True)
class Listed:
    """A field that lists things ("a, b and c"), joined the way the reader's language joins them.

    `items` are mentions or names (or `Problem`s, said first); `hidden` more are counted at
    the end ("... and 3 more"); `conjunction` is "and", "or", or None for a plain list.
    """

    items: tuple[Any, ...]
    conjunction: str | None = "and"
    hidden: int = 0


Said = Problem | str
"""What an error says: a `Problem`, or (not yet converted) a sentence."""


class UserFacingError(Exception):
    """An error the member can understand (and usually fix), as one or more problems."""

    def __init__(self, *said: Said) -> None:
        self.problems: tuple[Said, ...] = tuple(said)
        super().__init__(*(str(each) for each in self.problems))

    @classmethod
    def of(cls, key: str, /, **fields: Any) -> Problem:
        """A `Problem` (a shorthand for subclasses building theirs)."""
        return Problem(key, MappingProxyType(dict(fields)))

    @property
    def message(self) -> str:
        """The problems as plain text, for logs and for modules not yet converted."""
        return "\n".join(str(each) for each in self.problems)


class InvalidInput(UserFacingError):
    """The member's input breaks one or more rules; each problem says how to fix it."""

    def __init__(self, problems: Sequence[Said]) -> None:
        super().__init__(*problems)
