"""The outbox's SQLite file: opening it with our settings (and the schema of older versions brought up to
date), the rows on it, keeping its log small, and naming storage errors."""
from __future__ import annotations

import errno
import logging
import os
import sqlite3
from pathlib import Path
from typing import Iterable, List, Optional, Tuple

from .outbox_policy import OutboxRow, RowClass

log = logging.getLogger(__name__)

#: what SQLite and the OS raise when the disk misbehaves (a closed connection is a ProgrammingError)
STORAGE_ERRORS = (sqlite3.Error, OSError)

SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    row_id     INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a late ack can only match its own row
    kind       TEXT    NOT NULL,                   -- 'event' or 'telemetry'
    event_id   TEXT,
    event_type TEXT,
    kept_first INTEGER NOT NULL DEFAULT 0,         -- 1: never pushed out by the bound (outbox_policy)
    payload    TEXT    NOT NULL                    -- the JSON exactly as it will be published
);
"""
COLUMNS = "row_id, kind, payload, event_id, event_type"

#: column names of earlier versions -> today's (same values): renamed in place when an old file is opened
RENAMED_COLUMNS = {"fall_class": "kept_first"}


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
        migrate(db)
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


def migrate(db: sqlite3.Connection) -> None:
    """Bring a file written by an earlier version up to today's schema, keeping its rows (one transaction)."""
    have = {row[1] for row in db.execute("PRAGMA table_info(outbox)")}
    renames = [(old, new) for old, new in RENAMED_COLUMNS.items() if old in have and new not in have]
    if not renames:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        for old, new in renames:
            db.execute(f"ALTER TABLE outbox RENAME COLUMN {old} TO {new}")
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
    log.info("outbox: schema of an earlier version updated (%s)", ", ".join(f"{o} -> {n}" for o, n in renames))


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


def insert_row(db: sqlite3.Connection, row: OutboxRow, row_id: Optional[int] = None) -> int:
    """Insert ``row`` as ``row_id`` (``None``: the next free id; a held row's own negative id is never kept);
    returns the row id it got."""
    cur = db.execute("INSERT INTO outbox (row_id, kind, event_id, event_type, kept_first, payload) "
                     "VALUES (?, ?, ?, ?, ?, ?)",
                     (row_id, row.kind, row.event_id, row.event_type, int(row.kept_first), row.payload))
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


class OutboxFile:
    """One open connection to the outbox file: the rows on it, how many, the highest row id handed out, and
    which file it opened (to notice it being removed). Every method may raise ``STORAGE_ERRORS``.

    ``min_row_id``: ids handed out before (by an older file, since removed); new ids stay above it.
    """

    def __init__(self, path: Path, max_db_bytes: Optional[int], min_row_id: int = 0) -> None:
        self.path = path
        self.db, self.count, self.max_row_id, self.identity = open_database(path, max_db_bytes, min_row_id)

    def was_replaced(self) -> bool:
        """The file is gone, or another file stands at its path (the state directory was re-created)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return True
        except OSError:
            return False  # unreadable now: the next write says what is wrong
        return (st.st_dev, st.st_ino) != self.identity

    def take_writes(self, acked: Iterable[int]) -> None:
        """Show the disk takes writes (opening and reading work on a full or read-only disk), deleting the
        acknowledged rows a failing disk refused to delete before. Closes the connection if it cannot."""
        try:
            self.db.execute("BEGIN IMMEDIATE")
            touch_log(self.db)  # a write even with nothing to delete: only a commit shows the disk takes writes
            ids = [(i,) for i in acked]
            if ids:
                self.db.executemany("DELETE FROM outbox WHERE row_id = ?", ids)
            self.db.execute("COMMIT")
            self.count = self.db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        except STORAGE_ERRORS:
            self.db.close()
            raise

    def oldest(self, rows: RowClass) -> Optional[int]:
        """The row id of the oldest row of that class (for ``outbox_policy.make_room``)."""
        found = self.db.execute("SELECT row_id FROM outbox WHERE kind = ? AND kept_first = ? ORDER BY row_id "
                                "LIMIT 1", (rows.kind, int(rows.kept_first))).fetchone()
        return None if found is None else int(found[0])

    def commit_rows(self, pairs: List[Tuple[Optional[int], OutboxRow]]) -> None:
        """Insert each row as the row id paired with it (``None``: the next free one), in one commit."""
        self.db.execute("BEGIN IMMEDIATE")
        top = max(insert_row(self.db, row, row_id) for row_id, row in pairs)
        self.db.execute("COMMIT")
        self.count += len(pairs)
        self.max_row_id = max(self.max_row_id, top)

    def delete(self, row_ids: List[int]) -> None:
        """Delete delivered rows (unknown ids are ignored), in one commit."""
        self.db.execute("BEGIN IMMEDIATE")
        deleted = self.db.executemany("DELETE FROM outbox WHERE row_id = ?", [(i,) for i in row_ids]).rowcount
        self.db.execute("COMMIT")
        self.count -= deleted

    def rows(self, after_row_id: int = 0, limit: int = -1) -> List[OutboxRow]:
        """Up to ``limit`` rows (-1: all) with row ids above ``after_row_id``, oldest first."""
        return [OutboxRow(*r) for r in self.db.execute(
            f"SELECT {COLUMNS} FROM outbox WHERE row_id > ? ORDER BY row_id LIMIT ?", (after_row_id, limit))]

    def rollback_and_recount(self) -> None:
        """After a failed write: end the transaction, count the rows again. Never raises (the caller reports
        the first error; the next retry recounts)."""
        try:
            if self.db.in_transaction:  # SQLite has already rolled back after SQLITE_FULL
                self.db.execute("ROLLBACK")
            self.count = self.db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        except STORAGE_ERRORS:
            pass

    def trim_wal(self, limit_bytes: int) -> None:
        trim_wal(self.db, self.path, limit_bytes)

    def close(self, checkpoint_first: bool = False) -> None:
        """Close the connection (never raises); with ``checkpoint_first``, copy the log into the database
        and truncate it before."""
        if checkpoint_first:
            try:
                self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except STORAGE_ERRORS as exc:
                log.warning("outbox %s: checkpoint at close failed (%s)", self.path, exc)
        try:
            self.db.close()
        except STORAGE_ERRORS:
            pass
