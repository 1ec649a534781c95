"""The text of a result message: the prompt, the model's rewrite and a footer, within
Discord's message length.

The caption is in the language of the member who asked (the channel reads it too): it is their
request, and a server mixing languages sees each request in its author's words. The member's
prompt and the model's rewrite are shown as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.front.i18n import Words

CONTENT_LIMIT = 2000

# discord.utils.escape_markdown's patterns (links left alone). Ours because discord.py 2.7
# passes re.sub's `count` positionally, which Python 3.13 deprecates (an error in the tests).
_ANGLED = r"<[^: >]+:\/[^ >]+>"  # a link written <like:/this>
_URL = rf"(?P<url>{_ANGLED}|(?:https?|steam):\/\/[^\s<]+[^<.,:;\"\'\]\s])"
_COMMON = r"^>(?:>>)?\s|\[.+\]\(.+\)|^#{1,3}|^\s*-"
_MARKDOWN = re.compile(rf"(?:{_URL}|(?P<markdown>[_\\~|\*`]|{_COMMON}))", re.MULTILINE)


def escape_markdown(text: str) -> str:
    """`text` shown as typed in a message: markdown characters escaped, links left alone."""
    return _MARKDOWN.sub(lambda match: match["url"] or "\\" + match["markdown"], text)


@dataclass(frozen=True, slots=True)
class Caption:
    """What the result message says about the job, in `locale` (the asking member's)."""

    command: str
    prompt: str | None
    revised_prompt: str | None
    size: str
    model: str
    member_id: int
    seconds: float
    note: str | None = None  # a catalogue key: a line under the prompt, shown small
    locale: str | None = None

    def render(self, *, limit: int = CONTENT_LIMIT) -> str:
        """The message text, at most `limit` characters; the footer always fits whole.

        The prompt and the model's rewrite of it share what room is left, so a long rewrite
        never pushes out the member's own words (or the footer).
        """
        words = Words(self.locale)
        footer = "-# " + words(
            "caption.footer",
            command=self.command,
            size=self.size,
            model=self.model,
            member=f"<@{self.member_id}>",
            seconds=f"{self.seconds:.1f}",
        )
        note = shorten("-# " + words(self.note), limit // 4) if self.note else None
        prompt = _one_line(escape_markdown(self.prompt)) if self.prompt else ""
        revised = _one_line(escape_markdown(self.revised_prompt)) if self.revised_prompt else ""
        # The words around the rewrite, counted without it (a language may put it anywhere).
        revised_intro = "-# " + words("caption.revised", prompt="")
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
            lines.append("-# " + words("caption.revised", prompt=shorten(revised, revised_room)))
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
