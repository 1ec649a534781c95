"""The SQLite file's tables, as numbered migrations, and the step that applies them.

The quotas, the server settings and the job records share one file, and a file has one
`PRAGMA user_version`, so the file's migrations are one list whichever store's tables each
touches. Migration N
brings a file from version N-1 to N; `migrate` applies every one above the file's version in
one transaction, and refuses a file written by a newer bot rather than guess at it.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: the quotas' reservations, the global budget, its pause, and the server settings.
    # (IF NOT EXISTS: files from before this list had these tables and no version yet.)
    (
        """CREATE TABLE IF NOT EXISTS reservations (
            id TEXT PRIMARY KEY,
            member TEXT NOT NULL,
            at_ms INTEGER NOT NULL,
            images INTEGER NOT NULL,
            -- NULL once committed. A pending reservation counts as committed after this time.
            expires_ms INTEGER
        )""",
        "CREATE INDEX IF NOT EXISTS reservations_by_member ON reservations (member, at_ms)",
        "CREATE INDEX IF NOT EXISTS reservations_by_time ON reservations (at_ms)",
        """CREATE TABLE IF NOT EXISTS budget (
            id TEXT PRIMARY KEY,
            at_ms INTEGER NOT NULL,
            images INTEGER NOT NULL
        )""",
        "CREATE INDEX IF NOT EXISTS budget_by_time ON budget (at_ms)",
        "CREATE TABLE IF NOT EXISTS shared_state (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        """CREATE TABLE IF NOT EXISTS server_settings (
            guild_id INTEGER PRIMARY KEY,
            document TEXT NOT NULL,
            updated_ms INTEGER NOT NULL
        )""",
    ),
    # 2: job records (bot.records): each command's stage, so a restart can finish it. The
    # record is a JSON document that later features grow into; the columns are for queries.
    (
        """CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            member TEXT NOT NULL,
            stage TEXT NOT NULL,
            created_ms INTEGER NOT NULL,
            updated_ms INTEGER NOT NULL,
            document TEXT NOT NULL
        )""",
        "CREATE INDEX jobs_by_stage ON jobs (stage, created_ms)",
        "CREATE INDEX jobs_by_update ON jobs (updated_ms)",
        "CREATE INDEX jobs_by_member ON jobs (member, stage)",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaTooNew(RuntimeError):
    """The file was written by a newer version of the bot: its tables may mean other things."""

    def __init__(self, path: Path, found: int) -> None:
        super().__init__(
            f"{path} has schema version {found}, newer than this bot knows ({SCHEMA_VERSION}): "
            "run the newer version of the bot, or point STATE_URL at another file"
        )
        self.path = path
        self.found = found


def migrate(db: sqlite3.Connection, path: Path) -> None:
    """Bring the file up to `SCHEMA_VERSION` in one transaction (on the database's thread)."""
    if _version(db, path) == SCHEMA_VERSION:
        return

    def apply(db: sqlite3.Connection) -> None:
        # Read again under the write lock: another process may have migrated meanwhile.
        found = _version(db, path)
        for statements in MIGRATIONS[found:]:
            for statement in statements:
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    in_transaction(apply, db)


def _version(db: sqlite3.Connection, path: Path) -> int:
    (found,) = db.execute("PRAGMA user_version").fetchone()
    if found > SCHEMA_VERSION:
        raise SchemaTooNew(path, found)
    return int(found)


def in_transaction(change: Callable[[sqlite3.Connection], T], db: sqlite3.Connection) -> T:
    """`change(db)` inside one BEGIN IMMEDIATE transaction, rolled back if it raises."""
    db.execute("BEGIN IMMEDIATE")
    try:
        result = change(db)
        db.execute("COMMIT")
    except BaseException:
        # A transaction left open would break every later one.
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    return result
