"""How one setting is declared, and the reader that collects every problem at once."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class ConfigError(Exception):
    """One or more settings are missing or invalid."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))

    def report(self) -> str:
        """The text printed at start-up: every problem, then where settings come from."""
        lines = ["imagine-bot can't start: the settings need attention.", ""]
        lines += [f"  - {problem}" for problem in self.problems]
        lines += [
            "",
            "Set these in the environment or in a .env file next to where you run the bot",
            "(copy .env.example to .env to start). README.md lists every setting.",
        ]
        return "\n".join(lines)


class Invalid(ValueError):
    """Raised by a parser that has more to say than "isn't valid": `text` follows the name."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


# No slots: `Setting[int](...)` sets `__orig_class__`, which a slotted frozen class refuses.
@dataclass(frozen=True)
class Setting(Generic[T]):
    """One environment variable, declared once: everything else about it is derived from this."""

    env: str
    section: str
    default: T
    parse: Callable[[str], T]
    # Ends the problem "has a value that isn't valid; expected ..."; for a required setting,
    # also "is missing; set it to ...".
    expected: str
    # One line: the README table's meaning and the comment above the line in .env.example.
    help: str
    # The default in words, when it isn't one fixed value (derived, required, or none).
    shown: str | None = None


class Reader:
    """Reads settings one by one, collecting every problem instead of stopping at the first."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env
        self.problems: list[str] = []
        self.problem_names: set[str] = set()

    def fail(self, name: str, text: str) -> None:
        """Record a problem with the setting `name`; `text` must not contain its value."""
        self.problems.append(f"{name}: {text}")
        self.problem_names.add(name)

    def read(self, setting: Setting[T], *, default: T | None = None, required: bool = False) -> T:
        """The parsed value of `setting`, or its default when unset or invalid.

        `default` replaces the declared one where it depends on other settings (None: keep it).
        """
        fallback = setting.default if default is None else default
        value = self.env.get(setting.env)
        raw = value.strip() if value is not None else ""
        if not raw:
            if required:
                self.fail(setting.env, f"is missing; set it to {setting.expected}.")
            return fallback
        try:
            return setting.parse(raw)
        except Invalid as problem:
            self.fail(setting.env, problem.text)
        except ValueError:
            # Never echo the value: a secret pasted into the wrong variable must not be printed.
            self.fail(setting.env, f"has a value that isn't valid; expected {setting.expected}.")
        return fallback
