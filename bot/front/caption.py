"""The text of a result message: the prompt, the model's rewrite and a footer, within
Discord's message length."""

from __future__ import annotations

import re
from dataclasses import dataclass

CONTENT_LIMIT = 2000

# discord.utils.escape_markdown's patterns (links left alone). Ours because discord.py 2.7
# passes re.sub's `count` positionally, which Python 3.13 deprecates (an error in the tests).
_URL = r"(?P<url><[^: >]+:\/[^ >]+>|(?:https?|steam):\/\/[^\s<]+[^<.,:;\"\'\]\s])"
_COMMON = r"^>(?:>>)?\s|\[.+\]\(.+\)|^#{1,3}|^\s*-"
_MARKDOWN = re.compile(rf"(?:{_URL}|(?P<markdown>[_\\~|\*`]|{_COMMON}))", re.MULTILINE)


def escape_markdown(text: str) -> str:
    """`text` shown as typed in a message: markdown characters escaped, links left alone."""
    return _MARKDOWN.sub(lambda match: match["url"] or "\\" + match["markdown"], text)


@dataclass(frozen=True, slots=True)
class Caption:
    """What the result message says about the job."""

    command: str
    prompt: str | None
    revised_prompt: str | None
    size: str
    model: str
    member_id: int
    seconds: float
    note: str | None = None

    def render(self, *, limit: int = CONTENT_LIMIT) -> str:
        """The message text, at most `limit` characters; the footer always fits whole.

        The prompt and the model's rewrite of it share what room is left, so a long rewrite
        never pushes out the member's own words (or the footer).
        """
        footer = (
            f"-# /{self.command} · {self.size} · {self.model} · asked by <@{self.member_id}>"
            f" · {self.seconds:.1f} s"
        )
        note = shorten(self.note, limit // 4) if self.note else None
        prompt = _one_line(escape_markdown(self.prompt)) if self.prompt else ""
        revised = _one_line(escape_markdown(self.revised_prompt)) if self.revised_prompt else ""
        revised_intro = "-# The model rewrote the prompt as: "
        # Room left once the footer, the note, the markup and the line breaks are counted.
        room = limit - len(footer) - (len(note) + 1 if note else 0)
        room -= (len("****") + 1 if prompt else 0) + (len(revised_intro) + 1 if revised else 0)
        prompt_room, revised_room = _share(room, len(prompt), len(revised))
        lines: list[str] = []
        if prompt and prompt_room > 1:
            lines.append("**" + shorten(prompt, prompt_room) + "**")
        if note:
            lines.append(note)
        if revised and revised_room > 1:
            lines.append(revised_intro + shorten(revised, revised_room))
        lines.append(footer)
        return shorten("\n".join(lines), limit)


def _share(room: int, first: int, second: int) -> tuple[int, int]:
    """Split `room` characters between two texts of these lengths: half each, and what one
    doesn't need goes to the other."""
    if first + second <= room:
        return first, second
    half = max(room, 0) // 2
    if first <= half:
        return first, room - first
    if second <= half:
        return room - second, second
    return half, room - half


def _one_line(text: str) -> str:
    return " ".join(text.split())


def shorten(text: str, limit: int) -> str:
    """`text`, cut to at most `limit` characters with an ellipsis."""
    if limit <= 1:
        return ""
    return text if len(text) <= limit else text[: limit - 1] + "…"
