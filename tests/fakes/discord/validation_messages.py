"""Message validation: what Discord rejects in content, embeds, components and uploads."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from tests.fakes.discord.common import FLAG_COMPONENTS_V2, FieldErrors, check_str
from tests.fakes.discord.models import walk_components
from tests.fakes.discord.records import UploadedFile
from tests.fakes.discord.validation_commands import is_int


def _embed_size(embed: Mapping[str, Any]) -> int:
    total = len(str(embed.get("title") or "")) + len(str(embed.get("description") or ""))
    for f in embed.get("fields") or []:
        if isinstance(f, Mapping):
            total += len(str(f.get("name") or "")) + len(str(f.get("value") or ""))
    footer = embed.get("footer")
    if isinstance(footer, Mapping):
        total += len(str(footer.get("text") or ""))
    author = embed.get("author")
    if isinstance(author, Mapping):
        total += len(str(author.get("name") or ""))
    return total


def _validate_embeds(errs: FieldErrors, path: list[str | int], embeds: Any) -> None:
    if not isinstance(embeds, list):
        errs.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if len(embeds) > 10:
        errs.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        epath = [*path, i]
        if not isinstance(embed, Mapping):
            errs.add(epath, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        total += _embed_size(embed)
        for key, high in (("title", 256), ("description", 4096)):
            if embed.get(key) is not None:
                check_str(errs, [*epath, key], embed[key], 0, high)
        fields = embed.get("fields") or []
        if len(fields) > 25:
            errs.add([*epath, "fields"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, f in enumerate(fields):
            if isinstance(f, Mapping):
                check_str(errs, [*epath, "fields", j, "name"], f.get("name"), 1, 256)
                check_str(errs, [*epath, "fields", j, "value"], f.get("value"), 1, 1024)
        for key, sub, high in (("footer", "text", 2048), ("author", "name", 256)):
            part = embed.get(key)
            if isinstance(part, Mapping):
                check_str(errs, [*epath, key, sub], part.get(sub), 1, high)
    if total > 6000:
        errs.add(path, "MAX_EMBED_SIZE_EXCEEDED", "Embed size exceeds maximum size of 6000")


def _validate_components(
    errs: FieldErrors, path: list[str | int], components: Any, *, flags: int
) -> None:
    if not isinstance(components, list):
        errs.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    custom_ids: set[str] = set()
    if flags & FLAG_COMPONENTS_V2:
        total = sum(1 for _ in walk_components(components))
        if total > 40:
            errs.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 40 or fewer components in total.")
        for i, comp in enumerate(components):
            for leaf in walk_components([comp]):
                check_component(errs, [*path, i], leaf, custom_ids)
        return
    if len(components) > 5:
        errs.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    for i, row in enumerate(components):
        _check_action_row(errs, [*path, i], row, custom_ids)


def _check_action_row(
    errs: FieldErrors, rpath: list[str | int], row: Any, custom_ids: set[str]
) -> None:
    if not isinstance(row, Mapping) or row.get("type") != 1:
        errs.add(
            [*rpath, "type"],
            "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
            "Top-level components must be action rows.",
        )
        return
    children = row.get("components") or []
    if not 1 <= len(children) <= 5:
        errs.add(
            [*rpath, "components"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length."
        )
    selects = [c for c in children if isinstance(c, Mapping) and c.get("type") in (3, 5, 6, 7, 8)]
    if selects and len(children) > 1:
        errs.add(
            [*rpath, "components"],
            "COMPONENT_LAYOUT_WIDTH_EXCEEDED",
            "A select menu fills its row.",
        )
    for j, comp in enumerate(children):
        if isinstance(comp, Mapping):
            check_component(errs, [*rpath, "components", j], comp, custom_ids)


def check_component(
    errs: FieldErrors, cpath: list[str | int], comp: Mapping[str, Any], custom_ids: set[str]
) -> None:
    """One button, select or text input; custom_ids collects the ids seen in the message."""
    ctype = comp.get("type")
    custom_id = comp.get("custom_id")
    if ctype == 2:
        style = comp.get("style")
        if style == 5:
            if custom_id is not None:
                errs.add(
                    [*cpath, "custom_id"],
                    "COMPONENT_CUSTOM_ID_FORBIDDEN",
                    "Link buttons cannot have a custom_id",
                )
            check_str(errs, [*cpath, "url"], comp.get("url"), 1, 512)
        elif style != 6:
            check_str(errs, [*cpath, "custom_id"], custom_id, 1, 100)
        if comp.get("label") is not None:
            check_str(errs, [*cpath, "label"], comp.get("label"), 0, 80)
    elif ctype in (3, 5, 6, 7, 8):
        _check_select(errs, cpath, comp)
    elif ctype in (4, 18, 19):
        errs.add([*cpath, "type"], "COMPONENT_TYPE_INVALID", "This component belongs in modals.")
    note_custom_id(errs, cpath, custom_id, custom_ids)


def note_custom_id(
    errs: FieldErrors, cpath: list[str | int], custom_id: Any, custom_ids: set[str]
) -> None:
    """custom_ids are unique within one message or modal."""
    if isinstance(custom_id, str):
        if custom_id in custom_ids:
            errs.add(
                [*cpath, "custom_id"],
                "COMPONENT_CUSTOM_ID_DUPLICATED",
                "Component custom id cannot be duplicated",
            )
        custom_ids.add(custom_id)


def _check_select(errs: FieldErrors, cpath: list[str | int], comp: Mapping[str, Any]) -> None:
    """A select menu: its custom_id, placeholder, value counts and (string select) options."""
    check_str(errs, [*cpath, "custom_id"], comp.get("custom_id"), 1, 100)
    if comp.get("placeholder") is not None:
        check_str(errs, [*cpath, "placeholder"], comp["placeholder"], 0, 150)
    for key, low in (("min_values", 0), ("max_values", 1)):
        value = comp.get(key)
        if value is not None and (not is_int(value) or not low <= value <= 25):
            errs.add([*cpath, key], "NUMBER_TYPE_MAX", f"{key} must be between {low} and 25.")
    options = comp.get("options") or []
    if comp.get("type") == 3:
        if not 1 <= len(options) <= 25:
            errs.add(
                [*cpath, "options"], "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 25 in length."
            )
        high = comp.get("max_values")
        if is_int(high) and high > len(options):
            errs.add(
                [*cpath, "max_values"],
                "SELECT_COMPONENT_MAX_VALUES_TOO_HIGH",
                "max_values must not exceed the number of options.",
            )
    for k, option in enumerate(options):
        if isinstance(option, Mapping):
            for key in ("label", "value"):
                check_str(errs, [*cpath, "options", k, key], option.get(key), 1, 100)
            if option.get("description") is not None:
                check_str(
                    errs, [*cpath, "options", k, "description"], option["description"], 0, 100
                )


def validate_message(
    payload: Mapping[str, Any],
    uploads: Sequence[UploadedFile],
    *,
    prefix: Sequence[str] = (),
) -> FieldErrors:
    errs = FieldErrors()
    p = list(prefix)
    content = payload.get("content")
    if content is not None:
        if not isinstance(content, str):
            errs.add([*p, "content"], "BASE_TYPE_STRING", "Must be a string.")
        elif len(content) > 2000:
            errs.add([*p, "content"], "BASE_TYPE_MAX_LENGTH", "Must be 2000 or fewer in length.")
    flags = int(payload.get("flags") or 0)
    if payload.get("embeds") is not None:
        _validate_embeds(errs, [*p, "embeds"], payload["embeds"])
        if flags & FLAG_COMPONENTS_V2 and payload["embeds"]:
            errs.add(
                [*p, "embeds"],
                "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2",
                "Components V2 messages take no embeds.",
            )
    if payload.get("components") is not None:
        _validate_components(errs, [*p, "components"], payload["components"], flags=flags)
    attachments = payload.get("attachments")
    if attachments is not None and (not isinstance(attachments, list) or len(attachments) > 10):
        errs.add([*p, "attachments"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    if len(uploads) > 10:
        errs.add([*p, "files"], "BASE_TYPE_MAX_LENGTH", "Must be 10 or fewer in length.")
    for i, entry in enumerate(attachments if isinstance(attachments, list) else []):
        if isinstance(entry, Mapping):
            if entry.get("filename") is not None:
                check_str(errs, [*p, "attachments", i, "filename"], entry["filename"], 1, 1024)
            if entry.get("description") is not None:
                check_str(
                    errs, [*p, "attachments", i, "description"], entry["description"], 0, 1024
                )
    mentions = payload.get("allowed_mentions")
    if isinstance(mentions, Mapping):
        for key in ("users", "roles"):
            if len(mentions.get(key) or []) > 100:
                errs.add(
                    [*p, "allowed_mentions", key],
                    "BASE_TYPE_MAX_LENGTH",
                    "Must be 100 or fewer in length.",
                )
    if len(payload.get("sticker_ids") or []) > 3:
        errs.add([*p, "sticker_ids"], "BASE_TYPE_MAX_LENGTH", "Must be 3 or fewer in length.")
    return errs


def is_empty_message(payload: Mapping[str, Any], uploads: Sequence[UploadedFile]) -> bool:
    return not (
        payload.get("content")
        or payload.get("embeds")
        or payload.get("components")
        or payload.get("sticker_ids")
        or payload.get("poll")
        or uploads
        or payload.get("attachments")
    )
