"""Translate sqlite3 errors into the storage errors of bot.errors, naming the file and the remedy.

Only faults of the environment or the file are translated (cannot open, read-only, disk full, I/O
error, locked, damaged, not a database, tables missing); anything else is a bug and stays as it is.
When SQLite says only "unable to open database file", the path is examined to say why.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from bot.errors import (
    DatabaseBusy,
    DatabaseCorrupt,
    DatabaseUnavailable,
    DiskError,
    DiskFull,
    SchemaMismatch,
    StorageError,
)

SQLITE_BUSY, SQLITE_LOCKED = 5, 6
SQLITE_PERM, SQLITE_READONLY = 3, 8
SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN = 10, 11, 13, 14
SQLITE_NOTADB = 26
ELSEWHERE = "or point --db / NEWSWATCH_DB elsewhere"
REPLACE = "restore it from a backup, or move it aside to start a new database"


def storage_error(error: sqlite3.Error, path: str | os.PathLike[str]) -> StorageError | None:
    """The storage error for a sqlite3 error on the database at `path`, or None when it is a bug."""
    code = (getattr(error, "sqlite_errorcode", None) or 0) & 0xFF
    text = str(error)
    p = Path(path)
    if code == SQLITE_FULL:
        return DiskFull(f"storage: disk full writing {p}: free space and restart; nothing was lost")
    if code == SQLITE_IOERR:
        return DiskError(
            f"storage: I/O error on {p} ({text}): the disk may be full, over quota or failing; free space or"
            " check it, then restart; nothing was lost"
        )
    if code in (SQLITE_BUSY, SQLITE_LOCKED):
        return DatabaseBusy(
            f"storage: {p} stayed locked by another process ({text}): wait for it to finish, or stop the"
            " process that holds it, then retry"
        )
    if code in (SQLITE_READONLY, SQLITE_PERM):
        return read_only_error(p)
    if code == SQLITE_CANTOPEN:
        return cannot_open_error(p)
    if code == SQLITE_NOTADB:
        return DatabaseCorrupt(f"storage: {p} is not a SQLite database (or is encrypted): check --db / NEWSWATCH_DB")
    if code == SQLITE_CORRUPT:
        return DatabaseCorrupt(f"storage: {p} is damaged ({text}): {REPLACE}")
    if text.startswith(("no such table", "no such column")) or " has no column named " in text:
        return SchemaMismatch(f"storage: {p}: {text}: the database was changed outside Newswatch; {REPLACE}")
    return None


def read_only_error(p: Path) -> DatabaseUnavailable:
    """A database that can be read but not written."""
    return DatabaseUnavailable(
        f"storage: {p} is read-only for this user (uid {os.geteuid()}): the file and its directory must be"
        f" writable (SQLite keeps {p.name}-wal and {p.name}-shm beside it); fix the permissions or the mount"
    )


def cannot_open_error(p: Path) -> DatabaseUnavailable:
    """Why SQLite could not open `p`, found by looking at the path."""
    parent = p.parent
    if p.is_dir():
        return DatabaseUnavailable(f"storage: {p} is a directory, not a database file: give a file such as {p / 'newswatch.db'}")
    if not parent.exists():
        return DatabaseUnavailable(f"storage: {p}: the directory {parent} does not exist: create it, {ELSEWHERE}")
    if not parent.is_dir():
        return DatabaseUnavailable(f"storage: {p}: {parent} is not a directory: {ELSEWHERE.removeprefix('or ')}")
    uid = os.geteuid()
    if p.exists() and not os.access(p, os.R_OK):
        return DatabaseUnavailable(f"storage: {p}: this user (uid {uid}) may not read the file: fix its permissions")
    if not os.access(parent, os.W_OK | os.X_OK):
        return DatabaseUnavailable(
            f"storage: {p}: this user (uid {uid}) may not create files in {parent} (SQLite needs {p.name},"
            f" {p.name}-wal and {p.name}-shm there): fix the directory's permissions, {ELSEWHERE}"
        )
    if p.exists() and not os.access(p, os.W_OK):
        return read_only_error(p)
    return DatabaseUnavailable(f"storage: {p}: unable to open the database file: check the path and its permissions")
