"""The outbox's SQLite file: opening it with our settings, keeping its log small, and naming storage errors."""
from __future__ import annotations

import errno
import logging
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Tuple

if TYPE_CHECKING:
    from .outbox_memory import OutboxRow

log = logging.getLogger(__name__)

#: what SQLite and the OS raise when the disk misbehaves (a closed connection is a ProgrammingError)
STORAGE_ERRORS = (sqlite3.Error, OSError)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    row_id     INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a late ack can only match its own row
    kind       TEXT    NOT NULL,                   -- 'event' or 'telemetry'
    event_id   TEXT,
    event_type TEXT,
    fall_class INTEGER NOT NULL DEFAULT 0,
    payload    TEXT    NOT NULL                    -- the JSON exactly as it will be published
);
"""
COLUMNS = "row_id, kind, payload, event_id, event_type"


def open_database(path: Path, max_db_bytes: Optional[int],
                  min_row_id: int = 0) -> Tuple[sqlite3.Connection, int, int, Tuple[int, int]]:
    """A fresh connection (the folder created if missing) -> (connection, rows, highest row id, file identity).

    ``min_row_id``: ids handed out before (by an older file, since removed); new ids stay above it, so a late
    acknowledgement can never delete a newer row. Raises ``sqlite3.Error`` or ``OSError``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(str(path), isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        # Checkpoints (copying the log into the database: more writes and fsyncs) are run by trim_wal when the
        # log passes its limit, not by SQLite inside whichever commit crosses 1000 pages (that could be a fall's).
        db.execute("PRAGMA wal_autocheckpoint=0")
        if max_db_bytes is not None:
            page_size = db.execute("PRAGMA page_size").fetchone()[0]
            db.execute(f"PRAGMA max_page_count={max(2, int(max_db_bytes) // page_size)}")
        db.executescript(SCHEMA)
        top = db.execute("SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'outbox'").fetchone()[0]
        if top < min_row_id:
            db.execute("BEGIN IMMEDIATE")
            db.execute("DELETE FROM sqlite_sequence WHERE name = 'outbox'")
            db.execute("INSERT INTO sqlite_sequence (name, seq) VALUES ('outbox', ?)", (min_row_id,))
            db.execute("COMMIT")
        count = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        st = os.stat(path)
    except BaseException:
        db.close()
        raise
    return db, count, max(top, min_row_id), (st.st_dev, st.st_ino)


def trim_wal(db: sqlite3.Connection, path: Path, limit_bytes: int) -> None:
    """Checkpoint once the ``-wal`` file passes ``limit_bytes``, so it stops growing there; truncate it only past
    four times the limit (an outage grew it: a truncated log must grow again, which costs later commits).

    Called after deliveries and between loop steps, never from ``put``. After the checkpoint, one small write
    restarts the log from its start: with ``synchronous=FULL`` that first commit also syncs the log's new header,
    and it is better paid here than by the next fall's ``put``.
    """
    try:
        size = os.path.getsize(f"{path}-wal")
    except OSError:
        return
    if size <= limit_bytes:
        return
    checkpoint(db, path, "TRUNCATE" if size > 4 * limit_bytes else "PASSIVE")
    try:
        touch_log(db)
    except STORAGE_ERRORS as exc:
        log.warning("outbox %s: could not restart the log (%s)", path, exc)


def touch_log(db: sqlite3.Connection) -> None:
    """The smallest write SQLite has (a ``user_version`` bump): restarts the log after a checkpoint, and shows
    a disk takes writes again (opening and reading work on a full or read-only disk)."""
    version = db.execute("PRAGMA user_version").fetchone()[0]
    db.execute(f"PRAGMA user_version = {(int(version) + 1) % 2**31}")


def insert_row(db: sqlite3.Connection, row: "OutboxRow", row_id: Optional[int] = None) -> int:
    """Insert ``row`` as ``row_id`` (``None``: the next free id; a held row's own negative id is never kept);
    returns the row id it got."""
    cur = db.execute("INSERT INTO outbox (row_id, kind, event_id, event_type, fall_class, payload) "
                     "VALUES (?, ?, ?, ?, ?, ?)",
                     (row_id, row.kind, row.event_id, row.event_type, int(row.fall_class), row.payload))
    return int(cur.lastrowid)


def is_full(exc: BaseException) -> bool:
    """True for "no room" (SQLITE_FULL, ENOSPC), as opposed to a disk that refuses or fails."""
    return (getattr(exc, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL
            or getattr(exc, "errno", None) == errno.ENOSPC)


def checkpoint(db: sqlite3.Connection, path: Path, mode: str = "PASSIVE") -> None:
    """Copy the log into the database. A failure loses nothing (the rows stay in the log) and is not a storage
    fault: the next write tries again."""
    try:
        db.execute(f"PRAGMA wal_checkpoint({mode})")
    except STORAGE_ERRORS as exc:
        log.warning("outbox %s: checkpoint failed (%s); will retry", path, exc)


def storage_fix(error: str) -> str:
    """What a person can do about a storage error, from SQLite's or the OS's words."""
    text = error.lower()
    if "full" in text or "no space" in text:
        return "free space on that disk (or give the state directory a larger one)"
    if "readonly" in text or "read-only" in text:
        return ("the file system went read-only, the usual way an SD card fails: check 'dmesg', run fsck or "
                "replace the card")
    if "i/o" in text:
        return "the storage reports I/O errors: check 'dmesg' and replace the SD card"
    return "check that [paths] state_dir exists and is writable by the service user"
