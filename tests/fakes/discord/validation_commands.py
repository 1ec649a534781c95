"""Command validation: what Discord rejects in an application command, as nested field errors."""

from __future__ import annotations

import copy
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any, Final, TypeGuard

from tests.fakes.discord.common import INT53, FieldErrors, check_str

# Python's re has no \p{L}; \w is the unicode letters, digits and underscore.
_COMMAND_NAME_RE: Final = re.compile(r"^[-_'\w\u0900-\u097F\u0E00-\u0E7F]{1,32}$")
# User and message commands (context menus) may also hold spaces, between words.
_MENU_NAME_RE: Final = re.compile(r"^[-_' \w\u0900-\u097F\u0E00-\u0E7F]{1,32}$")


def _check_name(
    errs: FieldErrors, path: Sequence[str | int], name: Any, *, chat_input: bool
) -> None:
    """Slash names: lowercase, no spaces. User and message commands: mixed case and spaces."""
    check_str(errs, path, name, 1, 32)
    if not isinstance(name, str) or not 1 <= len(name) <= 32:
        return
    if chat_input:
        valid = bool(_COMMAND_NAME_RE.match(name)) and name == name.lower()
    else:
        valid = name == name.strip() and bool(_MENU_NAME_RE.match(name))
    if not valid:
        errs.add(path, "APPLICATION_COMMAND_INVALID_NAME", f"Command name is invalid: {name!r}")


def _check_localizations(
    errs: FieldErrors,
    path: Sequence[str | int],
    obj: Mapping[str, Any],
    key: str,
    low: int,
    high: int,
) -> None:
    locs = obj.get(f"{key}_localizations")
    if not isinstance(locs, Mapping):
        return
    for locale, value in locs.items():
        check_str(errs, [*path, f"{key}_localizations", locale], value, low, high)


def _longest(obj: Mapping[str, Any], key: str) -> int:
    lengths = [len(str(obj.get(key) or ""))]
    locs = obj.get(f"{key}_localizations")
    if isinstance(locs, Mapping):
        lengths.extend(len(str(v)) for v in locs.values())
    return max(lengths)


def _command_size(cmd: Mapping[str, Any]) -> int:
    total = _longest(cmd, "name") + _longest(cmd, "description")
    stack = list(cmd.get("options") or [])
    while stack:
        opt = stack.pop()
        if not isinstance(opt, Mapping):
            continue
        total += _longest(opt, "name") + _longest(opt, "description")
        for choice in opt.get("choices") or []:
            if isinstance(choice, Mapping):
                total += _longest(choice, "name") + len(str(choice.get("value", "")))
        stack.extend(opt.get("options") or [])
    return total


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_option_value(
    errs: FieldErrors, path: Sequence[str | int], opt_type: int, value: Any, *, is_choice: bool
) -> None:
    if opt_type == 3:
        if not isinstance(value, str):
            errs.add(path, "BASE_TYPE_STRING", "Must be a string.")
        elif is_choice and len(value) > 100:
            errs.add(path, "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
    elif opt_type == 4:
        if not is_int(value):
            errs.add(path, "NUMBER_TYPE_COERCE", f"Value {value!r} is not int.")
        elif not -INT53 <= value <= INT53:
            errs.add(path, "NUMBER_TYPE_MAX", f"int value should be within +/-{INT53}.")
    elif opt_type == 10:
        if not _is_number(value):
            errs.add(path, "NUMBER_TYPE_COERCE", f"Value {value!r} is not a number.")
        elif not -(2**53) <= value <= 2**53:
            errs.add(path, "NUMBER_TYPE_MAX", "Number value should be within +/-2^53.")


def _check_options(
    errs: FieldErrors, path: list[str | int], options: Any, *, depth: int, parent_type: int
) -> None:
    if options is None:
        return
    if not isinstance(options, list):
        errs.add(path, "BASE_TYPE_ARRAY", "Must be an array.")
        return
    if len(options) > 25:
        errs.add(path, "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    names: set[str] = set()
    types = [o.get("type") for o in options if isinstance(o, Mapping)]
    subcommands = [t for t in types if t in (1, 2)]
    if subcommands and len(subcommands) != len(types):
        errs.add(
            path,
            "APPLICATION_COMMAND_OPTIONS_TYPE_INVALID",
            "Sub-command and sub-command group option types are mutually exclusive to all others",
        )
    seen_optional = False
    for i, opt in enumerate(options):
        opath = [*path, i]
        if not isinstance(opt, Mapping):
            errs.add(opath, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
            continue
        opt_type = opt.get("type")
        if not is_int(opt_type) or not 1 <= opt_type <= 11:
            errs.add(
                [*opath, "type"], "BASE_TYPE_CHOICES", f"Value must be one of 1..11 ({opt_type!r})."
            )
            continue
        _check_option_head(errs, opath, opt, opt_type, names, depth=depth, parent_type=parent_type)
        if opt_type in (1, 2):
            _check_options(
                errs, [*opath, "options"], opt.get("options"), depth=depth + 1, parent_type=opt_type
            )
            continue
        seen_optional = _check_required(errs, opath, opt, seen_optional=seen_optional)
        _check_choices(errs, opath, opt, opt_type)
        _check_bounds(errs, opath, opt, opt_type)


def _check_option_head(
    errs: FieldErrors,
    opath: list[str | int],
    opt: Mapping[str, Any],
    opt_type: int,
    names: set[str],
    *,
    depth: int,
    parent_type: int,
) -> None:
    """An option's type against its parent, its name (unique among its siblings), description."""
    if parent_type == 2 and opt_type != 1:
        errs.add(
            [*opath, "type"],
            "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
            "Groups hold sub-commands only.",
        )
    if opt_type in (1, 2) and (
        depth >= 2 or (opt_type == 2 and parent_type == 2) or parent_type == 1
    ):
        errs.add(
            [*opath, "type"],
            "APPLICATION_COMMAND_OPTION_TYPE_INVALID",
            "Sub-commands nested too deeply.",
        )
    name = opt.get("name")
    _check_name(errs, [*opath, "name"], name, chat_input=True)
    _check_localizations(errs, opath, opt, "name", 1, 32)
    if isinstance(name, str):
        if name in names:
            errs.add(
                [*opath, "name"],
                "APPLICATION_COMMAND_OPTIONS_DUPLICATE_NAME",
                "Option names must be unique",
            )
        names.add(name)
    check_str(errs, [*opath, "description"], opt.get("description"), 1, 100)
    _check_localizations(errs, opath, opt, "description", 1, 100)


def _check_required(
    errs: FieldErrors, opath: list[str | int], opt: Mapping[str, Any], *, seen_optional: bool
) -> bool:
    """Required options come first; whether an optional one has been seen, this one included."""
    required = opt.get("required", False)
    if not isinstance(required, bool):
        errs.add([*opath, "required"], "BASE_TYPE_BOOLEAN", "Must be either true or false.")
    elif required and seen_optional:
        errs.add(
            [*opath, "required"],
            "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
            "Required options must be placed before non-required options",
        )
    elif not required:
        seen_optional = True
    return seen_optional


def _check_choices(
    errs: FieldErrors, opath: list[str | int], opt: Mapping[str, Any], opt_type: int
) -> None:
    choices = opt.get("choices")
    if choices:
        if opt_type not in (3, 4, 10):
            errs.add(
                [*opath, "choices"],
                "APPLICATION_COMMAND_OPTION_CHOICES_INVALID",
                "Choices are for strings and numbers only.",
            )
        if not isinstance(choices, list):
            errs.add([*opath, "choices"], "BASE_TYPE_ARRAY", "Must be an array.")
            choices = []
        if len(choices) > 25:
            errs.add([*opath, "choices"], "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        if opt.get("autocomplete"):
            errs.add(
                [*opath, "autocomplete"],
                "APPLICATION_COMMAND_AUTOCOMPLETE_INVALID",
                "Autocomplete cannot be used with choices.",
            )
        for j, choice in enumerate(choices):
            cpath = [*opath, "choices", j]
            if not isinstance(choice, Mapping):
                errs.add(
                    cpath, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType"
                )
                continue
            check_str(errs, [*cpath, "name"], choice.get("name"), 1, 100)
            _check_localizations(errs, cpath, choice, "name", 1, 100)
            _check_option_value(
                errs, [*cpath, "value"], opt_type, choice.get("value"), is_choice=True
            )


def _check_bounds(
    errs: FieldErrors, opath: list[str | int], opt: Mapping[str, Any], opt_type: int
) -> None:
    for key in ("min_value", "max_value"):
        if opt.get(key) is None:
            continue
        if opt_type not in (4, 10):
            errs.add(
                [*opath, key],
                "APPLICATION_COMMAND_OPTION_INVALID",
                f"{key} is for numbers only.",
            )
        else:
            _check_option_value(errs, [*opath, key], opt_type, opt[key], is_choice=False)
    low, high = opt.get("min_value"), opt.get("max_value")
    if _is_number(low) and _is_number(high) and low > high:
        errs.add([*opath, "min_value"], "NUMBER_TYPE_MAX", "min_value must be <= max_value.")
    for key, lo in (("min_length", 0), ("max_length", 1)):
        value = opt.get(key)
        if value is None:
            continue
        if opt_type != 3:
            errs.add(
                [*opath, key],
                "APPLICATION_COMMAND_OPTION_INVALID",
                f"{key} is for strings only.",
            )
        elif not is_int(value) or not lo <= value <= 6000:
            errs.add([*opath, key], "NUMBER_TYPE_MAX", f"{key} must be between {lo} and 6000.")


def validate_command(errs: FieldErrors, path: list[str | int], cmd: Any) -> None:
    if not isinstance(cmd, Mapping):
        errs.add(path, "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType")
        return
    cmd_type = cmd.get("type", 1)
    if cmd_type not in (1, 2, 3, 4):
        errs.add(
            [*path, "type"],
            "BASE_TYPE_CHOICES",
            f"Value must be one of (1, 2, 3, 4) ({cmd_type!r}).",
        )
        return
    chat_input = cmd_type == 1
    _check_name(errs, [*path, "name"], cmd.get("name"), chat_input=chat_input)
    _check_localizations(errs, path, cmd, "name", 1, 32)
    if chat_input:
        check_str(errs, [*path, "description"], cmd.get("description"), 1, 100)
        _check_localizations(errs, path, cmd, "description", 1, 100)
        _check_options(errs, [*path, "options"], cmd.get("options"), depth=0, parent_type=0)
    else:
        if cmd.get("options"):
            errs.add(
                [*path, "options"],
                "APPLICATION_COMMAND_OPTIONS_INVALID",
                "Context menu commands take no options.",
            )
        # The docs: "Empty string for USER and MESSAGE commands".
        if cmd.get("description") or cmd.get("description_localizations"):
            errs.add(
                [*path, "description"],
                "APPLICATION_COMMAND_CONTEXT_MENU_DESCRIPTION",
                "Context menu commands cannot have a description.",
            )
    perms = cmd.get("default_member_permissions")
    if perms is not None and not (is_int(perms) or (isinstance(perms, str) and perms.isdigit())):
        errs.add(
            [*path, "default_member_permissions"],
            "NUMBER_TYPE_COERCE",
            "Must be a permission bitset.",
        )
    for key, allowed in (("contexts", {0, 1, 2}), ("integration_types", {0, 1})):
        values = cmd.get(key)
        if values is not None and (not isinstance(values, list) or not set(values) <= allowed):
            errs.add([*path, key], "BASE_TYPE_CHOICES", f"Values must be in {sorted(allowed)}.")
    if _command_size(cmd) > 8000:
        errs.add(path, "APPLICATION_COMMAND_TOO_LARGE", "Command exceeds maximum size (8000)")


def validate_commands(commands: Any) -> FieldErrors:
    errs = FieldErrors()
    if not isinstance(commands, list):
        errs.add([], "BASE_TYPE_ARRAY", "Must be an array.")
        return errs
    counts: dict[int, int] = defaultdict(int)
    names: set[tuple[int, str]] = set()
    for i, cmd in enumerate(commands):
        validate_command(errs, [i], cmd)
        if isinstance(cmd, Mapping):
            key = (int(cmd.get("type", 1) or 1), str(cmd.get("name")))
            if key in names:
                errs.add(
                    [i, "name"],
                    "APPLICATION_COMMANDS_DUPLICATE_NAME",
                    "Application command names must be unique",
                )
            names.add(key)
            counts[key[0]] += 1
    for cmd_type, limit in ((1, 100), (2, 15), (3, 15), (4, 1)):
        if counts[cmd_type] > limit:
            errs.add(
                [],
                "APPLICATION_COMMANDS_LIMIT",
                f"Maximum number of type {cmd_type} commands reached ({limit}).",
            )
    return errs


def _normalize_option(opt: Mapping[str, Any]) -> dict[str, Any]:
    # Discord answers with `required` only when true and drops empty option lists.
    out = {k: copy.deepcopy(v) for k, v in opt.items() if v is not None}
    if not out.get("required"):
        out.pop("required", None)
    if not out.get("autocomplete"):
        out.pop("autocomplete", None)
    if out.get("options"):
        out["options"] = [_normalize_option(o) for o in out["options"]]
    else:
        out.pop("options", None)
    if not out.get("choices"):
        out.pop("choices", None)
    return out


def normalize_command(cmd: Mapping[str, Any], guild_id: int | None) -> dict[str, Any]:
    perms = cmd.get("default_member_permissions")
    out: dict[str, Any] = {
        "type": cmd.get("type", 1) or 1,
        "name": cmd["name"],
        "description": cmd.get("description") or "",
        "default_member_permissions": None if perms is None else str(perms),
        "contexts": copy.deepcopy(cmd.get("contexts")),
        "integration_types": copy.deepcopy(cmd.get("integration_types")) or [0],
        "nsfw": bool(cmd.get("nsfw", False)),
    }
    for key in ("name_localizations", "description_localizations"):
        if cmd.get(key):
            out[key] = copy.deepcopy(cmd[key])
    if guild_id is None:
        out["dm_permission"] = cmd.get("dm_permission", True) is not False
    options = [_normalize_option(o) for o in cmd.get("options") or []]
    if options:
        out["options"] = options
    return out
