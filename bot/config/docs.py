"""`.env.example` and the README's settings table, written from the declarations."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from bot.config.reader import Setting
from bot.config.table import SETTINGS

ENV_EXAMPLE_HEADER = """\
# imagine-bot settings. Copy this file to .env and fill in the first two.
# A real environment variable wins over this file. A "# NAME=value" line shows the default:
# remove the "# " to change it. An empty line such as NAME= means what its comment says.
# Works as it is with `docker run --env-file .env`.
# Written by `python -m bot.config --write` from bot/config/table.py: edit that, not this.
"""
README_START = "<!-- settings table: written by `python -m bot.config --write` -->"
README_END = "<!-- end of settings table -->"


def literal_default(setting: Setting[Any]) -> str | None:
    """The default as it would be written in the environment; None when it isn't one value."""
    value = setting.default
    if setting.shown is not None or value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def env_example() -> str:
    """`.env.example`: every setting under its section, its help, and its default.

    A setting with one default value is shown commented out, so that the file never overrides
    a default (the Docker image's DATA_DIR, for one); the others are empty, which means unset.
    """
    lines = [ENV_EXAMPLE_HEADER.rstrip("\n")]
    section = None
    for setting in SETTINGS:
        if setting.section != section:
            section = setting.section
            lines += ["", f"# --- {section} ".ljust(80, "-")]
        help_text = setting.help[0].upper() + setting.help[1:] + "."
        if setting.shown and not setting.shown.startswith("("):
            help_text += f" Empty: {setting.shown}."
        lines += textwrap.wrap(help_text, width=98, initial_indent="# ", subsequent_indent="# ")
        value = literal_default(setting)
        lines.append(f"{setting.env}=" if value is None else f"# {setting.env}={value}")
    return "\n".join(lines) + "\n"


def readme_table() -> str:
    """The README's settings table, between its two marker comments."""
    lines = [README_START, "", "| setting | default | meaning |", "|---|---|---|"]
    for setting in SETTINGS:
        value = literal_default(setting)
        shown = (setting.shown or "(none)") if value is None else f"`{value}`"
        lines.append(f"| `{setting.env}` | {shown} | {setting.help} |")
    lines += ["", README_END]
    return "\n".join(lines) + "\n"


def readme_with_table(readme: str) -> str:
    """`readme` with the text between the markers (inclusive) replaced by `readme_table()`."""
    start = readme.index(README_START)
    end = readme.index(README_END) + len(README_END) + 1
    return readme[:start] + readme_table() + readme[end:]


def write(root: Path) -> None:
    """Rewrite `.env.example` and the README's table under `root` (the repository)."""
    (root / ".env.example").write_text(env_example(), encoding="utf-8")
    readme = root / "README.md"
    readme.write_text(readme_with_table(readme.read_text(encoding="utf-8")), encoding="utf-8")
