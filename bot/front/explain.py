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
    """One problem in the member's language (a sentence not yet converted stays as it is).

    A field that is itself a `Problem` (a worded part: "3 images", "today") is said first.
    """
    if isinstance(said, Problem):
        fields = {
            name: say(locale, value) if isinstance(value, Problem) else value
            for name, value in said.fields.items()
        }
        return text(locale, said.key, **fields)
    return said
