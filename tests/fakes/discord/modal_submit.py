"""A modal as Discord's client submits it: the member's text, picks and uploaded files.

The submitted ``data`` mirrors the modal: action rows stay rows, a Label (18) carries its one
child, a text input (4) its ``value``, a select its ``values``, a file upload (19) the ids of
the uploaded attachments in ``values`` and the attachments themselves in
``data.resolved.attachments``. Every component carries a numeric ``id`` (Discord numbers
those the bot left out, from 1). The client's own rules are enforced: a required field must
be filled, lengths and file counts within the component's bounds; a text input the member
leaves alone submits the ``value`` the bot filled in.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeAlias

from tests.fakes.discord.models import FakeAttachment

# Files a member uploads, keyed by a file upload's custom_id or its Label's text.
ModalFiles: TypeAlias = Mapping[str, Sequence[bytes | tuple[str, bytes]]]
Values: TypeAlias = Mapping[str, str | Sequence[str]]


class _Submission:
    """Walks the modal once, filling each field from the member's values and files."""

    def __init__(
        self,
        values: Values,
        uploads: Mapping[str, Sequence[FakeAttachment]],
        ids: Iterator[int],
    ) -> None:
        self.values = values
        self.uploads = uploads
        self.ids = ids
        self.used: set[str] = set()
        self.resolved: dict[str, dict[str, Any]] = {}

    def _key(
        self, component: Mapping[str, Any], label: str | None, given: Mapping[str, Any]
    ) -> Any:
        for key in (component.get("custom_id"), component.get("label"), label):
            if key is not None and key in given:
                self.used.add(key)
                return given[key]
        return None

    def fill(self, component: Mapping[str, Any], label: str | None = None) -> dict[str, Any]:
        ctype = component.get("type")
        out: dict[str, Any] = {"type": ctype, "id": component.get("id") or next(self.ids)}
        if ctype == 1:
            out["components"] = [self.fill(c) for c in component.get("components", [])]
        elif ctype == 18:
            out["component"] = self.fill(component["component"], component.get("label"))
        elif ctype == 4:
            out.update(custom_id=component["custom_id"], value=self._text(component, label))
        elif ctype in (3, 5, 6, 7, 8):
            value = self._key(component, label, self.values) or []
            picked = [value] if isinstance(value, str) else list(value)
            out.update(custom_id=component["custom_id"], values=picked)
        elif ctype == 19:
            out.update(custom_id=component["custom_id"], values=self._files(component, label))
        return out

    def _text(self, component: Mapping[str, Any], label: str | None) -> str:
        value = self._key(component, label, self.values)
        if value is None:  # left as the bot filled it in
            value = component.get("value") or ""
        text = value if isinstance(value, str) else "".join(value)
        name = label or component.get("label") or component["custom_id"]
        if not text:
            if component.get("required", True):
                raise ValueError(f"the text input {name!r} is required")
            return text
        low, high = component.get("min_length") or 0, component.get("max_length") or 4000
        if not low <= len(text) <= high:
            raise ValueError(f"the text input {name!r} takes {low}-{high} characters")
        return text

    def _files(self, component: Mapping[str, Any], label: str | None) -> list[str]:
        attachments = list(self._key(component, label, self.uploads) or [])
        required = component.get("required", True) is not False
        low = component.get("min_values")
        low = (1 if low is None else low) if required else 0
        high = component.get("max_values")
        high = 1 if high is None else high
        if not low <= len(attachments) <= high:
            name = label or component["custom_id"]
            raise ValueError(f"the file upload {name!r} takes {low}-{high} files")
        for att in attachments:
            self.resolved[str(att.id)] = att.to_payload()
        return [str(att.id) for att in attachments]


def fill_modal(
    modal: Mapping[str, Any],
    values: Values,
    uploads: Mapping[str, Sequence[FakeAttachment]],
    ids: Iterator[int],
) -> dict[str, Any]:
    """The submitted ``data`` of ``modal``; ValueError for what the client would not send."""
    submission = _Submission(values, uploads, ids)
    components = [submission.fill(c) for c in modal.get("components", [])]
    unknown = (set(values) | set(uploads)) - submission.used
    if unknown:
        raise ValueError(f"the modal has no field {sorted(unknown)}")
    data: dict[str, Any] = {"custom_id": modal["custom_id"], "components": components}
    if submission.resolved:
        data["resolved"] = {"attachments": submission.resolved}
    return data
