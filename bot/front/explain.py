"""What the member reads about an error the core raised: its problems, in their language."""

from __future__ import annotations

from bot.errors import Listed, Problem, Said, UserFacingError
from bot.front.i18n import text


def explain(locale: str | None, error: UserFacingError) -> str:
    """`error`'s problems for a member of `locale`: one as it is, several as a list."""
    lines = [say(locale, each) for each in error.problems]
    if len(lines) == 1:
        return lines[0]
    return "\n".join([text(locale, "errors.several"), *(f"- {line}" for line in lines)])


def say(locale: str | None, said: Said) -> str:
    """One problem in the member's language (a sentence not yet converted stays as it is).

    A field that is itself a `Problem` (a worded part: "3 images", "today") is said first, and
    a `Listed` field is joined the language's way.
    """
    if isinstance(said, Problem):
        fields = {name: _part(locale, value) for name, value in said.fields.items()}
        return text(locale, said.key, **fields)
    return said


def _part(locale: str | None, value: object) -> object:
    if isinstance(value, Problem):
        return say(locale, value)
    if isinstance(value, Listed):
        return listed(locale, value)
    return value


def listed(locale: str | None, names: Listed) -> str:
    """ "a", "a and b", "a, b and c", "a, b and 3 more" (or with "or"), in the reader's language."""
    items = [str(_part(locale, item)) for item in names.items]
    if names.hidden:
        items.append(text(locale, "list.more", count=names.hidden))
    if len(items) <= 1:
        return "".join(items)
    separator = text(locale, "list.separator")
    # A plain list still ends "... and 3 more" when it was cut short.
    conjunction = names.conjunction or ("and" if names.hidden else None)
    if conjunction is None:
        return separator.join(items)
    head = separator.join(items[:-1])
    return text(locale, f"list.{conjunction}", items=head, last=items[-1])
