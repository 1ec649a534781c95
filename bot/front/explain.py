"""What the member reads about an error the core raised: its problems, in their language."""

from __future__ import annotations

from bot.errors import Problem, Said, UserFacingError
from bot.front.i18n import text


def explain(locale: str | None, error: UserFacingError) -> str:
    """`error`'s problems for a member of `locale`: one as it is, several as a list."""
    lines = [say(locale, each) for each in error.problems]
    if len(lines) == 1:
        return lines[0]
    return "\n".join([text(locale, "errors.several"), *(f"- {line}" for line in lines)])


def say(locale: str | None, said: Said) -> str:
    """One problem in the member's language (a sentence not yet converted stays as it is)."""
    if isinstance(said, Problem):
        return text(locale, said.key, **said.fields)
    return said
