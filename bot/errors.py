"""Errors whose message is written for the Discord member who caused them."""

from __future__ import annotations

from collections.abc import Sequence


class UserFacingError(Exception):
    """An error the member can understand (and usually fix); `str(err)` is safe to show them."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInput(UserFacingError):
    """The member's input breaks one or more rules; each problem says how to fix it."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = tuple(problems)
        if len(self.problems) == 1:
            text = self.problems[0]
        else:
            text = "There are a few problems with that request:\n" + "\n".join(
                f"- {problem}" for problem in self.problems
            )
        super().__init__(text)
