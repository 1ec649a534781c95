"""bot.private: folders 0700 and files 0600 whatever the umask, older wide files tightened."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from bot.private import create_private_file, make_private_dir, write_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_modes_hold_even_under_a_wide_open_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        folder = make_private_dir(tmp_path / "a" / "b")
        write_private(folder / "c" / "image.png", b"png")
        create_private_file(tmp_path / "d" / "state.sqlite3")
    finally:
        os.umask(previous)
    for path in (tmp_path / "a", folder, folder / "c", tmp_path / "d"):
        assert mode(path) == 0o700, path
    assert mode(folder / "c" / "image.png") == 0o600
    assert (folder / "c" / "image.png").read_bytes() == b"png"
    assert mode(tmp_path / "d" / "state.sqlite3") == 0o600


def test_an_older_wide_file_is_made_private_when_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "image.png"
    path.write_bytes(b"old bytes, longer")
    path.chmod(0o644)
    write_private(path, b"new")
    assert mode(path) == 0o600
    assert path.read_bytes() == b"new"
