"""The outbox's files: images a member is owed, kept on disk until they reach the member.

One folder per job (`<data dir>/outbox/<job id>/`), holding exactly what is still owed: the
API's images once the answer is in (so a crash cannot lose them), then only the ones no route
could post. The folders are 0700 and the files 0600, whatever the umask: they are members'
pictures. The job's record (`bot.records`) says whose they are and where they were asked for.
Every method does file work: call them through `asyncio.to_thread`.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from bot.private import make_private_dir, write_private

OUTBOX_FOLDER = "outbox"
# Present when a delivery gave up on the images: from then on they are owed even while the
# process that made them runs (without it they are only kept in case the process dies).
_GAVE_UP = ".undelivered"


@dataclass(frozen=True, slots=True)
class OwedImage:
    """One image owed to a member: its file name and bytes."""

    filename: str
    data: bytes


class Outbox:
    """The outbox's folders under `<data dir>/outbox`."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / OUTBOX_FOLDER

    def __repr__(self) -> str:
        return f"Outbox({str(self.root)!r})"

    def folder(self, job_id: str) -> Path:
        """Where the job's owed images are kept."""
        if not job_id or "/" in job_id or job_id.startswith("."):
            raise ValueError("a job id is a plain name")
        return self.root / job_id

    def keep(self, job_id: str, images: Iterable[OwedImage], *, gave_up: bool = False) -> int:
        """Make `images` exactly what the job is owed (replacing what was kept); how many.
        `gave_up`: every route failed for them (see `given_up`)."""
        folder = self.folder(job_id)
        make_private_dir(folder)
        kept = set()
        for image in images:
            name = Path(image.filename).name
            temporary = folder / f".{name}.part"
            write_private(temporary, image.data)
            temporary.replace(folder / name)
            kept.add(name)
        for old in folder.iterdir():
            if old.name not in kept:
                old.unlink()
        if gave_up:
            write_private(folder / _GAVE_UP, b"")
        return len(kept)

    def given_up(self, job_id: str) -> int:
        """How many images a delivery of this process gave up on (0 while it may still post)."""
        if not (self.folder(job_id) / _GAVE_UP).exists():
            return 0
        return self.count(job_id)

    def owed(self, job_id: str) -> list[OwedImage]:
        """The images the job is still owed, in name order (none when nothing is kept)."""
        folder = self.folder(job_id)
        if not folder.is_dir():
            return []
        return [
            OwedImage(path.name, path.read_bytes())
            for path in sorted(folder.iterdir())
            if not path.name.startswith(".")
        ]

    def count(self, job_id: str) -> int:
        """How many images the job is still owed."""
        folder = self.folder(job_id)
        if not folder.is_dir():
            return 0
        return sum(1 for path in folder.iterdir() if not path.name.startswith("."))

    def discard(self, job_id: str) -> None:
        """Forget the job's images (delivered, or given up on)."""
        shutil.rmtree(self.folder(job_id), ignore_errors=True)
