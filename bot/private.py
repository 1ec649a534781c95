"""Folders and files only the bot's own user can read: folders 0700, files 0600.

What the bot keeps (the salt, the database, images it could not deliver) is the members' and
the operator's business. Modes are given at creation, so they hold under any umask; a
permissive umask such as 022 would otherwise leave them readable by every local user.
"""

from __future__ import annotations

import os
from pathlib import Path

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def make_private_dir(path: Path) -> Path:
    """`path` and its missing parents, each made 0700; a folder that exists is left as it is."""
    for folder in [*reversed(path.parents), path]:
        if not folder.exists():
            folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
    return path


def create_private_file(path: Path) -> None:
    """`path` as an empty file readable by this user only, unless it exists (then unchanged),
    in a private folder made as needed (for a file another library then opens, like SQLite's)."""
    make_private_dir(path.parent)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    os.close(fd)


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` (0600, replaced if it exists) in a private folder made as needed."""
    make_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "wb") as file:
        os.fchmod(file.fileno(), FILE_MODE)  # an older file may have been made wider
        file.write(data)
