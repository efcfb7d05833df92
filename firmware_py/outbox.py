"""Store and forward: every event is on disk before anything touches the network.

The outbox is an SQLite database in WAL mode. ``put`` commits (and, with ``synchronous=FULL``, fsyncs the
write-ahead log) before it returns, so an event that ``put`` accepted survives a crash or a power cut. The
publisher reads ``pending`` rows in order and calls ``mark_delivered`` only for rows the broker acknowledged
(PUBACK), so delivery is at least once and subscribers dedupe by the event ``id``.

Why ``synchronous=FULL`` and not ``NORMAL``: in WAL mode, ``NORMAL`` keeps the database consistent but does
not fsync the log on each commit, so a power cut can roll back the last few committed transactions — exactly
the fall that just happened. ``FULL`` fsyncs the log on every commit. Events are rare (a few per walk) and
telemetry only lands here while the broker is unreachable, so the cost (one fsync per event, a few ms on an SD
card; see ``bench/mqtt.py``) is paid where it matters.

Bounds: at most ``max_rows`` rows. When full, the oldest telemetry goes first, then the oldest event that is not
fall-class; fall-class events (``firmware_py.events.FALL_CLASS``) and ``cancelled`` are never dropped, even past
the bound: a carer who is told of a fall must also be told that the wearer pressed "I'm OK".

A full disk (``database or disk is full``) loses nothing already stored: the new row is kept in memory, in
order, reported in ``last_error`` and retried every ``retry_interval_s`` on the clock. Rows held in memory have
negative row ids and are still returned by ``pending`` so they can be published; they are lost only if the
process dies before the disk has room again.

Only the main thread touches an ``Outbox`` (SQLite connections are not shared across threads here).
"""
from __future__ import annotations

import json
import logging
import sqlite3
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Deque, Dict, Iterable, List, Optional, Union

from hal.clock import Clock
from .events import CANCELLED, FALL_CLASS, Event


#: event types a full outbox keeps even past its bound: falls, and the cancel that answers one
KEPT_PAST_THE_BOUND = FALL_CLASS | {CANCELLED}

log = logging.getLogger(__name__)

EVENT, TELEMETRY = "event", "telemetry"

# about 2 pages per write: checkpoint every few hundred writes, after a delivery when the broker is up
_CHECKPOINT_AFTER_WRITES = 200
_CHECKPOINT_AFTER_PUTS = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    row_id     INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a late ack can only match its own row
    kind       TEXT    NOT NULL,                   -- 'event' or 'telemetry'
    event_id   TEXT,
    event_type TEXT,
    fall_class INTEGER NOT NULL DEFAULT 0,
    payload    TEXT    NOT NULL                    -- the JSON exactly as it will be published
);
"""


@dataclass(frozen=True)
class OutboxRow:
    """One stored message. ``row_id`` < 0 means held in memory because the disk was full."""

    row_id: int
    kind: str
    payload: str
    event_id: Optional[str] = None
    event_type: Optional[str] = None

    @property
    def fall_class(self) -> bool:
        """Never dropped from a full outbox (the column keeps its first name)."""
        return self.event_type in KEPT_PAST_THE_BOUND


class Outbox:
    """SQLite store-and-forward queue for events (and telemetry while offline).

    Parameters
    ----------
    path : str or Path
        The database file (its directory must exist). ``-wal`` and ``-shm`` files sit beside it.
    clock : Clock
        Paces the retries after a full disk.
    max_rows : int
        Bound on stored rows; fall-class events are kept even past it.
    max_db_bytes : int or None
        Optional cap on the database size (SQLite ``max_page_count``); reaching it behaves like a full disk.
    retry_interval_s : float
        How often rows held in memory after a full disk are retried.

    Example
    -------
    >>> box = Outbox(tmp / "outbox.sqlite3", MonotonicClock())
    >>> row_id = box.put(event, "walker-1")
    >>> [r.row_id for r in box.pending(10)] == [row_id]
    True
    """

    def __init__(self, path: Union[str, Path], clock: Clock, max_rows: int = 10000,
                 max_db_bytes: Optional[int] = None, retry_interval_s: float = 1.0) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows = {max_rows} is not allowed; use 1 or more")
        self.path = Path(path)
        self.clock = clock
        self.max_rows = int(max_rows)
        self.retry_interval_s = float(retry_interval_s)
        self.dropped_telemetry = 0
        self.dropped_events = 0
        self.last_error: Optional[str] = None
        self._writes_since_checkpoint = 0
        self._unsaved: Deque[OutboxRow] = deque()
        self._next_unsaved_id = -1
        self._next_retry_s = 0.0
        try:
            self._db = sqlite3.connect(str(self.path), isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            # Checkpoints (copying the log into the database: more writes and fsyncs) are run by us after
            # deliveries, not by SQLite inside whichever commit crosses 1000 pages — that could be a fall's put().
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            if max_db_bytes is not None:
                page_size = self._db.execute("PRAGMA page_size").fetchone()[0]
                self._db.execute(f"PRAGMA max_page_count={max(2, int(max_db_bytes) // page_size)}")
            self._db.executescript(_SCHEMA)
            self._count = self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        except sqlite3.Error as exc:
            raise OSError(f"cannot open the outbox {self.path}: {exc}; check that the state directory exists "
                          f"and is writable") from exc

    # ---- writing -----------------------------------------------------------------------------------------
    def put(self, event: Event, device: str) -> Optional[int]:
        """Store ``event`` durably; returns its row id (negative if held in memory after a full disk).

        ``None`` only for a non-fall event arriving when the outbox is full of fall-class events (it is the
        oldest non-fall event then, and the bound says it goes)."""
        row = OutboxRow(0, EVENT, event.to_json(device), event.id, event.type)
        return self._store(row)

    def put_telemetry(self, payload: Dict[str, Any]) -> Optional[int]:
        """Store a telemetry reading (while offline); returns its row id, or ``None`` if it was dropped."""
        row = OutboxRow(0, TELEMETRY, json.dumps(payload, separators=(",", ":"), sort_keys=True))
        return self._store(row)

    def _store(self, row: OutboxRow) -> Optional[int]:
        self._retry_unsaved()
        if self._unsaved:  # keep order: nothing may overtake rows still waiting for disk space
            return self._hold(row)
        try:
            return self._insert(row)
        except sqlite3.OperationalError as exc:
            if "full" not in str(exc):
                raise
            self._report_full(exc)
            return self._hold(row)

    def _insert(self, row: OutboxRow) -> Optional[int]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            if self._count >= self.max_rows and not self._make_room(row):
                self._db.execute("ROLLBACK")
                return None
            cur = self._db.execute(
                "INSERT INTO outbox (kind, event_id, event_type, fall_class, payload) VALUES (?, ?, ?, ?, ?)",
                (row.kind, row.event_id, row.event_type, int(row.fall_class), row.payload))
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            self._count = self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]
            raise
        self._count += 1
        self._writes_since_checkpoint += 1
        if self._writes_since_checkpoint >= _CHECKPOINT_AFTER_PUTS:  # a long outage: nothing is being delivered
            self._checkpoint()
        return int(cur.lastrowid)

    def _rollback(self) -> None:
        if self._db.in_transaction:  # SQLite has already rolled back after some errors, e.g. SQLITE_FULL
            self._db.execute("ROLLBACK")

    def _make_room(self, incoming: OutboxRow) -> bool:
        """Drop one row by the policy, inside the caller's transaction; False means drop ``incoming``."""
        victim = self._db.execute(
            "SELECT row_id, kind FROM outbox WHERE kind = ? ORDER BY row_id LIMIT 1", (TELEMETRY,)).fetchone()
        if victim is None and incoming.kind == TELEMETRY:
            self.dropped_telemetry += 1
            log.warning("outbox full (%d rows of events): dropped the new telemetry reading", self._count)
            return False
        if victim is None:
            victim = self._db.execute(
                "SELECT row_id, kind FROM outbox WHERE kind = ? AND fall_class = 0 ORDER BY row_id LIMIT 1",
                (EVENT,)).fetchone()
        if victim is None:
            if incoming.fall_class:
                log.warning("outbox holds %d fall-class events (bound %d): keeping this %s beyond the bound",
                            self._count, self.max_rows, incoming.event_type)
                return True
            self.dropped_events += 1
            log.warning("outbox full of fall-class events: dropped the new %s event %s",
                        incoming.event_type, incoming.event_id)
            return False
        self._db.execute("DELETE FROM outbox WHERE row_id = ?", (victim[0],))
        self._count -= 1
        if victim[1] == TELEMETRY:
            self.dropped_telemetry += 1
        else:
            self.dropped_events += 1
            log.warning("outbox full (%d rows): dropped the oldest non-fall event (row %d)",
                        self.max_rows, victim[0])
        return True

    # ---- a full disk -------------------------------------------------------------------------------------
    def _hold(self, row: OutboxRow) -> int:
        held = OutboxRow(self._next_unsaved_id, row.kind, row.payload, row.event_id, row.event_type)
        self._next_unsaved_id -= 1
        self._unsaved.append(held)
        return held.row_id

    def _report_full(self, exc: Exception) -> None:
        self.last_error = (f"outbox {self.path}: {exc}; new rows are kept in memory only ({len(self._unsaved) + 1} "
                           f"so far) and retried every {self.retry_interval_s:g} s; free space on that disk")
        log.error("%s", self.last_error)
        self._next_retry_s = self.clock.monotonic() + self.retry_interval_s

    def _retry_unsaved(self) -> None:
        if not self._unsaved or self.clock.monotonic() < self._next_retry_s:
            return
        while self._unsaved:
            row = self._unsaved[0]
            try:
                self._insert(row)
            except sqlite3.OperationalError as exc:
                if "full" not in str(exc):
                    raise
                self._report_full(exc)
                return
            self._unsaved.popleft()
        self.last_error = None
        log.warning("outbox %s: disk has room again; rows held in memory are stored", self.path)

    # ---- reading and acknowledging -----------------------------------------------------------------------
    def pending(self, limit: int = 100, after_row_id: int = 0) -> List[OutboxRow]:
        """Up to ``limit`` undelivered rows, oldest first, with row ids above ``after_row_id``.

        Rows held in memory after a full disk come last (they are the newest).
        """
        self._retry_unsaved()
        rows = [OutboxRow(*r) for r in self._db.execute(
            "SELECT row_id, kind, payload, event_id, event_type FROM outbox WHERE row_id > ? "
            "ORDER BY row_id LIMIT ?", (after_row_id, limit))]
        if len(rows) < limit:
            rows += list(self._unsaved)[: limit - len(rows)]
        return rows

    def mark_delivered(self, row_ids: Iterable[int]) -> None:
        """Forget rows the broker acknowledged. Unknown ids (already dropped or delivered) are ignored."""
        ids = list(row_ids)
        held = {i for i in ids if i < 0}
        if held:
            self._unsaved = deque(r for r in self._unsaved if r.row_id not in held)
        stored = [(i,) for i in ids if i > 0]
        if not stored:
            return
        self._db.execute("BEGIN IMMEDIATE")
        try:
            deleted = self._db.executemany("DELETE FROM outbox WHERE row_id = ?", stored).rowcount
            self._db.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise
        self._count -= deleted
        self._writes_since_checkpoint += 1
        if self._writes_since_checkpoint >= _CHECKPOINT_AFTER_WRITES:
            self._checkpoint()

    def _checkpoint(self) -> None:
        # PASSIVE never waits for readers (there are none but us). Keeps the -wal file from growing; a failure
        # (e.g. a full disk) loses nothing, the rows stay in the log.
        try:
            self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
        except sqlite3.OperationalError as exc:
            log.warning("outbox %s: checkpoint failed (%s); will retry", self.path, exc)
        self._writes_since_checkpoint = 0

    def depth(self) -> int:
        """Rows waiting for delivery, including any held in memory."""
        return self._count + len(self._unsaved)

    def close(self) -> None:
        """Close the database. Idempotent. Rows held in memory are reported, since they are now lost."""
        if self._db is None:
            return
        if self._unsaved:
            log.error("outbox %s closed with %d rows not on disk (the disk was full): they are lost",
                      self.path, len(self._unsaved))
        self._checkpoint()
        self._db.close()
        self._db = None  # type: ignore[assignment]

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
