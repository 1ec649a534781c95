"""Modal validation: what Discord rejects in a MODAL response (type 9).

A modal holds 1-5 top-level components: a Label (18) wrapping one text input (4), select or
file upload (19); a text display (10); or, deprecated but still accepted, an action row
holding one text input. Sources: docs (components reference) and the spec's
``ModalInteractionCallbackRequestData``, ``LabelComponentForModalRequest``,
``TextInputComponentForModalRequest`` and ``FileUploadComponentForModalRequest``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from tests.fakes.discord.common import FieldErrors, check_str
from tests.fakes.discord.validation_commands import is_int
from tests.fakes.discord.validation_messages import check_component, note_custom_id

TEXT_INPUT: Final = 4
TEXT_DISPLAY: Final = 10
LABEL: Final = 18
FILE_UPLOAD: Final = 19
_SELECTS: Final = frozenset({3, 5, 6, 7, 8})


def validate_modal(data: Mapping[str, Any]) -> FieldErrors:
    """The field errors of a modal's ``data`` (custom_id, title, components)."""
    errs = FieldErrors()
    check_str(errs, ["data", "custom_id"], data.get("custom_id"), 1, 100)
    check_str(errs, ["data", "title"], data.get("title"), 1, 45)
    components = data.get("components")
    path: list[str | int] = ["data", "components"]
    if not isinstance(components, list) or not 1 <= len(components) <= 5:
        errs.add(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 5 in length.")
        return errs
    custom_ids: set[str] = set()
    for i, component in enumerate(components):
        _check_top_level(errs, [*path, i], component, custom_ids)
    return errs


def _check_top_level(
    errs: FieldErrors, path: list[str | int], component: Any, custom_ids: set[str]
) -> None:
    ctype = component.get("type") if isinstance(component, Mapping) else None
    if not isinstance(component, Mapping) or ctype not in (1, TEXT_DISPLAY, LABEL):
        errs.add(
            [*path, "type"],
            "COMPONENT_TYPE_INVALID",
            "A modal holds labels, text displays or action rows.",
        )
        return
    if ctype == TEXT_DISPLAY:
        check_str(errs, [*path, "content"], component.get("content"), 1, 4000)
    elif ctype == 1:
        children = component.get("components")
        if not isinstance(children, list) or len(children) != 1:
            errs.add([*path, "components"], "BASE_TYPE_BAD_LENGTH", "Must be 1 in length.")
            return
        child = children[0]
        if not isinstance(child, Mapping) or child.get("type") != TEXT_INPUT:
            errs.add(
                [*path, "components", 0, "type"],
                "COMPONENT_TYPE_INVALID",
                "An action row in a modal holds one text input.",
            )
            return
        _check_text_input(errs, [*path, "components", 0], child, custom_ids, in_label=False)
    else:
        check_str(errs, [*path, "label"], component.get("label"), 1, 45)
        if component.get("description") is not None:
            check_str(errs, [*path, "description"], component["description"], 1, 100)
        _check_labelled(errs, [*path, "component"], component.get("component"), custom_ids)


def _check_labelled(
    errs: FieldErrors, path: list[str | int], child: Any, custom_ids: set[str]
) -> None:
    """The one component inside a Label."""
    ctype = child.get("type") if isinstance(child, Mapping) else None
    if not isinstance(child, Mapping) or ctype not in (TEXT_INPUT, FILE_UPLOAD, *_SELECTS):
        errs.add(
            [*path, "type"],
            "COMPONENT_TYPE_INVALID",
            "A label holds a text input, a select menu or a file upload.",
        )
        return
    if ctype == TEXT_INPUT:
        _check_text_input(errs, path, child, custom_ids, in_label=True)
    elif ctype == FILE_UPLOAD:
        _check_file_upload(errs, path, child, custom_ids)
    else:
        check_component(errs, path, child, custom_ids)


def _check_custom_id(
    errs: FieldErrors, path: list[str | int], component: Mapping[str, Any], custom_ids: set[str]
) -> None:
    check_str(errs, [*path, "custom_id"], component.get("custom_id"), 1, 100)
    note_custom_id(errs, path, component.get("custom_id"), custom_ids)


def _check_count(
    errs: FieldErrors,
    path: list[str | int],
    component: Mapping[str, Any],
    key: str,
    low: int,
    high: int,
) -> None:
    value = component.get(key)
    if value is not None and (not is_int(value) or not low <= value <= high):
        errs.add([*path, key], "NUMBER_TYPE_MAX", f"{key} must be between {low} and {high}.")


def _check_text_input(
    errs: FieldErrors,
    path: list[str | int],
    component: Mapping[str, Any],
    custom_ids: set[str],
    *,
    in_label: bool,
) -> None:
    _check_custom_id(errs, path, component, custom_ids)
    if component.get("style") not in (1, 2):
        errs.add([*path, "style"], "BASE_TYPE_CHOICES", "Value must be one of (1, 2).")
    # Inside a Label the Label carries the words; the input's own label is the old way.
    check_str(errs, [*path, "label"], component.get("label"), 1, 45, required=not in_label)
    if component.get("value") is not None:
        check_str(errs, [*path, "value"], component["value"], 0, 4000)
    if component.get("placeholder") is not None:
        check_str(errs, [*path, "placeholder"], component["placeholder"], 0, 100)
    _check_count(errs, path, component, "min_length", 0, 4000)
    _check_count(errs, path, component, "max_length", 1, 4000)
    low, high = component.get("min_length"), component.get("max_length")
    if is_int(low) and is_int(high) and low > high:
        errs.add([*path, "min_length"], "NUMBER_TYPE_MAX", "min_length must be <= max_length.")


def _check_file_upload(
    errs: FieldErrors, path: list[str | int], component: Mapping[str, Any], custom_ids: set[str]
) -> None:
    _check_custom_id(errs, path, component, custom_ids)
    _check_count(errs, path, component, "min_values", 0, 10)
    _check_count(errs, path, component, "max_values", 1, 10)
    low, high = component.get("min_values"), component.get("max_values")
    if is_int(low) and is_int(high) and low > high:
        errs.add([*path, "min_values"], "NUMBER_TYPE_MAX", "min_values must be <= max_values.")
    required = component.get("required")
    if required is not None and not isinstance(required, bool):
        errs.add([*path, "required"], "BASE_TYPE_BOOLEAN", "Must be either true or false.")
