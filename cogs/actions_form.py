"""The Edit form (a modal): the prompt and the mask of Edit k and "Edit this image".

Its custom_id names the message, the picture and how many images to make, so its submit is
understood from the submit alone (cogs/actions.py reads it, after a restart too). The mask is
a `FileUpload` in a `Label`: optional where the model edits without one, required where it
doesn't; /edit's own checks judge it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import discord

from bot.front.i18n import text
from bot.images.profiles import ModelProfile
from bot.service import Upload

# Discord caps a modal's text input at 4000 characters.
MODAL_TEXT_MAX = 4000
_FORM = re.compile(r"imagine:editform:(?P<message>\d+):(?P<k>\d+):(?P<n>\d+)")


@dataclass(frozen=True, slots=True)
class EditForm:
    """Which picture the form edits, how many images it asks for, and (once submitted) what
    the member typed and uploaded."""

    message_id: int
    number: int  # the picture on the message, from 1
    n: int  # 0: the model makes one at a time (no n to send)
    prompt: str = ""
    mask: Upload | None = None

    @property
    def custom_id(self) -> str:
        return f"imagine:editform:{self.message_id}:{self.number}:{self.n}"


class EditModal(discord.ui.Modal):
    """The form as Discord shows it; its submit is answered by cogs/actions.py's listener."""

    def __init__(
        self, form: EditForm, profile: ModelProfile, locale: str | None, prompt: str
    ) -> None:
        super().__init__(
            title=text(locale, "actions.modal.title")[:45], timeout=900, custom_id=form.custom_id
        )
        self.prompt: discord.ui.TextInput[EditModal] = discord.ui.TextInput(
            style=discord.TextStyle.paragraph,
            default=prompt[:MODAL_TEXT_MAX] or None,
            max_length=min(profile.prompt_max, MODAL_TEXT_MAX),
            custom_id="prompt",
        )
        self.mask: discord.ui.FileUpload[EditModal] = discord.ui.FileUpload(
            custom_id="mask",
            required=profile.mask_required,
            min_values=1 if profile.mask_required else 0,
            max_values=1,
        )
        mask_key = "actions.modal.mask_required" if profile.mask_required else "actions.modal.mask"
        self.add_item(
            discord.ui.Label(text=text(locale, "actions.modal.prompt"), component=self.prompt)
        )
        self.add_item(
            discord.ui.Label(
                text=text(locale, "actions.modal.mask_label"),
                description=text(locale, mask_key)[:100],
                component=self.mask,
            )
        )


def edit_form(data: Any) -> EditForm | None:
    """The Edit form a modal submit's raw `data` carries, or None for another modal."""
    data = data if isinstance(data, Mapping) else {}
    match = _FORM.fullmatch(str(data.get("custom_id", "")))
    if match is None:
        return None
    fields = {str(c.get("custom_id")): c for c in _components(data.get("components"))}
    typed = fields.get("prompt", {}).get("value")
    resolved = data.get("resolved")
    attachments = resolved.get("attachments") if isinstance(resolved, Mapping) else None
    attachments = attachments if isinstance(attachments, Mapping) else {}
    ids = fields.get("mask", {}).get("values") or []
    found = attachments.get(str(ids[0])) if ids else None
    mask = (
        Upload(
            "mask",
            str(found.get("url", "")),
            str(found.get("filename", "")),
            int(found.get("size") or 0),
            found.get("content_type"),
        )
        if isinstance(found, Mapping)
        else None
    )
    return EditForm(
        int(match["message"]),
        int(match["k"]),
        int(match["n"]),
        prompt=typed if isinstance(typed, str) else "",
        mask=mask,
    )


def _components(items: Any) -> Iterator[Mapping[str, Any]]:
    """Every component of a submit, Labels' and rows' children included."""
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            continue
        yield item
        if isinstance(item.get("component"), Mapping):
            yield from _components([item["component"]])
        yield from _components(item.get("components"))
