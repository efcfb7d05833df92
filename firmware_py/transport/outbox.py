"""Store and forward: every event goes to disk before anything touches the network, unless the disk refuses.

The outbox is an SQLite database in WAL mode. ``put`` commits (and, with ``synchronous=FULL``, fsyncs the
write-ahead log) before it returns, so an event that ``put`` stored survives a crash or a power cut. The
publisher reads ``pending`` rows in order and calls ``mark_delivered`` only for rows the broker acknowledged
(PUBACK), so delivery is at least once and subscribers dedupe by the event ``id``.

Why ``synchronous=FULL`` and not ``NORMAL``: in WAL mode, ``NORMAL`` keeps the database consistent but does
not fsync the log on each commit, so a power cut can roll back the last few committed transactions — exactly
the fall that just happened. ``FULL`` fsyncs the log on every commit. Events are rare (a few per walk) and
telemetry only lands here while the broker is unreachable, so the cost is paid where it matters.

Bounds: at most ``max_rows`` rows. When full, the oldest telemetry goes first, then the oldest event that is not
fall-class; fall-class events and ``cancelled`` are never dropped, even past the bound. The ``-wal`` file is
checkpointed whenever it passes ``wal_limit_bytes`` (the next commit then writes the log from its start, so the
file stops growing there) and truncated when an outage has grown it past four times that, so the outbox's files
stay bounded on a small card with the broker up (deleted rows' pages are reused).

**The disk is never on the alarm path.** Any SQLite or OS error (a full card, ``disk I/O error``, a read-only
remount, ``unable to open``, the state directory deleted) puts the outbox in *storage fault*: new rows are held
in memory (``outbox_memory.HeldRows``: bounded, alarms kept first), rows already on disk are still read when
the disk lets us, acknowledgements the disk refuses are remembered and applied later, and the disk is retried
on the clock with backoff (``retry_interval_s`` doubling to ``retry_max_s``). Each retry opens a fresh
connection (re-creating the state directory if it is gone) and applies the remembered acknowledgements. Then
the held alarms go to disk first, each in its own commit (a card with room for a few rows must take the fall
even when the telemetry held beside it does not fit), then the rows older than them into row ids kept free
below the alarms (delivery order is kept); an older row with no room is dropped and counted. The disk counts as
working once the alarms are on it; the newer rows follow in batches, and those with no room yet stay held
(bounded, in order, new rows behind them) and are retried later. ``take_notices()`` hands the daemon one
``lost`` notice when a fault begins and one ``recovered`` when the disk works again (it publishes them as
``storage_fault`` events).
A state directory removed while running is noticed by ``tick()`` (the database file is gone or is another
file): the rows still readable through the open, deleted file are rescued into memory first, then written to
the re-created file. Rows held in memory are lost only if the process dies before the disk works again.

Only the main thread touches an ``Outbox`` (SQLite connections are not shared across threads here).
"""
from __future__ import annotations

import json
import logging
import os
import sqlite3
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple, Union

from hal.clock import Clock
from ..events import Event
from .outbox_memory import EVENT, KEPT_PAST_THE_BOUND, TELEMETRY, HeldRows, OutboxRow
from .outbox_sqlite import (COLUMNS, STORAGE_ERRORS, insert_row, is_full, open_database, storage_fix, touch_log,
                            trim_wal)

__all__ = ["Outbox", "OutboxRow", "EVENT", "TELEMETRY", "KEPT_PAST_THE_BOUND", "storage_fix"]

log = logging.getLogger(__name__)

#: rows a commit when held rows go back to disk: one fsync per batch, and a full card still takes a part
MOVE_BATCH_ROWS = 32

class Outbox:
    """SQLite store-and-forward queue for events (and telemetry while offline), with a memory fallback.

    Parameters
    ----------
    path : str or Path
        The database file; its directory is created when missing. ``-wal`` and ``-shm`` files sit beside it.
    clock : Clock
        Paces the disk retries during a storage fault, and the check that the state directory still exists.
    max_rows : int
        Bound on stored rows (on disk, and separately in memory); fall-class events are kept even past it.
    max_db_bytes : int or None
        Optional cap on the database size (SQLite ``max_page_count``); reaching it behaves like a full disk.
    retry_interval_s, retry_max_s : float
        The first disk retry after a fault, doubling up to the maximum.
    wal_limit_bytes : int
        The log is checkpointed after a write that leaves the ``-wal`` file larger than this.

    Example
    -------
    >>> box = Outbox(tmp / "outbox.sqlite3", MonotonicClock())
    >>> row_id = box.put(event, "walker-1")
    >>> [r.row_id for r in box.pending(10)] == [row_id]
    True
    """

    def __init__(self, path: Union[str, Path], clock: Clock, max_rows: int = 10000,
                 max_db_bytes: Optional[int] = None, retry_interval_s: float = 1.0, retry_max_s: float = 60.0,
                 wal_limit_bytes: int = 64 * 1024) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows = {max_rows} is not allowed; use 1 or more")
        self.path = Path(path)
        self.clock = clock
        self.max_rows = int(max_rows)
        self.max_db_bytes = max_db_bytes
        self.retry_interval_s = float(retry_interval_s)
        self.retry_max_s = max(float(retry_max_s), self.retry_interval_s)
        self.wal_limit_bytes = int(wal_limit_bytes)
        self._dropped_telemetry = 0
        self._dropped_events = 0
        self.last_error: Optional[str] = None  # the current storage fault, in words; None while the disk works
        self._held = HeldRows(self.max_rows)
        self._acked_unsaved: Set[int] = set()  # delivered rows the disk would not let us delete yet
        self._notices: List[Dict[str, Any]] = []
        self._moved = 0  # held rows moved to disk since the fault began (told in the 'recovered' notice)
        self._retry_delay_s = self.retry_interval_s
        self._next_retry_s = 0.0
        self._next_check_s = 0.0
        self._max_row_id = 0
        self._count = 0
        self._identity: Optional[Tuple[int, int]] = None
        self._closed = False
        self._db: Optional[sqlite3.Connection] = None
        try:
            self._db, self._count, self._max_row_id, self._identity = open_database(self.path, max_db_bytes)
        except STORAGE_ERRORS as exc:
            self._fault("opening", exc)

    # ---- a storage fault ---------------------------------------------------------------------------------
    @property
    def is_degraded(self) -> bool:
        """True while the disk refuses us (rows are held in memory). Once the held alarms are back on disk it
        is False, though rows the card had no room for may still wait in memory (``held_in_memory``)."""
        return self.last_error is not None

    def _fault(self, what: str, exc: BaseException) -> None:
        """The disk failed doing ``what``: hold rows in memory from now on, retry later, say so once."""
        now = self.clock.monotonic()
        error = f"{what} failed: {exc}"
        fix = storage_fix(str(exc))
        if self.last_error is None:
            self._retry_delay_s = self.retry_interval_s
            self._moved = 0
            self.last_error = (f"outbox {self.path}: {error}; events are kept in memory only (alarms first, "
                               f"{len(self._held)} held so far) and the disk is retried from "
                               f"{self.retry_interval_s:g} s up to every {self.retry_max_s:g} s; {fix}")
            log.error("storage fault: %s", self.last_error)
            self._notices.append({"state": "lost", "path": str(self.path.parent), "error": error[:300],
                                  "fix": fix})
        self._next_retry_s = now + self._retry_delay_s

    def take_notices(self) -> List[Dict[str, Any]]:
        """Storage faults begun and ended since the last call (``features`` for ``storage_fault`` events)."""
        notices, self._notices = self._notices, []
        return notices

    def tick(self) -> None:
        """Called every loop step: retries the disk when due, notices a removed state directory, keeps the
        ``-wal`` file bounded."""
        if self._closed:
            return
        now = self.clock.monotonic()
        if self.last_error is None and now >= self._next_check_s:
            self._next_check_s = now + 1.0
            if self._file_was_replaced():
                self._rescue_rows()
                self._fault("writing", OSError(f"the state directory {self.path.parent} or its outbox was "
                                               f"removed while running; re-creating it"))
                self._next_retry_s = now  # re-create at once
        self._retry_if_due(now)
        if self.last_error is None:
            self._trim_wal()  # between steps, off the put path (a long outage grows the log here)

    def _file_was_replaced(self) -> bool:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return True
        except OSError:
            return False  # unreadable now: the next write says what is wrong
        return (st.st_dev, st.st_ino) != self._identity

    def _rescue_rows(self) -> None:
        """Rows in a file that was deleted under us are still readable through our connection: keep them."""
        if self._db is None:
            return
        try:
            rows = [OutboxRow(*r) for r in self._db.execute(f"SELECT {COLUMNS} FROM outbox ORDER BY row_id DESC")]
        except STORAGE_ERRORS as exc:
            log.error("outbox %s: could not read the removed file's rows (%s)", self.path, exc)
            rows = []
        for row in rows:  # newest first, each to the front: oldest ends up first
            if row.row_id not in self._acked_unsaved:
                self._held.add(row, first=True)
        self._acked_unsaved.clear()
        self._close_db()
        self._count = 0
        if rows:
            log.warning("outbox %s was removed: %d undelivered rows rescued into memory", self.path, len(rows))

    def _retry_if_due(self, now: float) -> None:
        """Retry the disk (during a fault) or move the rows still held in memory (after one), when due."""
        if now < self._next_retry_s or (self.last_error is None and not self._held):
            return
        if self.last_error is not None and not self._reopen():
            return
        dropped: List[OutboxRow] = []
        try:
            rest = self._move_alarms(dropped)
        except STORAGE_ERRORS as exc:
            self._rollback_and_recount()
            self._say_dropped(dropped)
            if self.last_error is None:
                self._fault("storing an alarm", exc)
            else:
                self._retry_failed(exc)  # still a fault; the alarms moved so far are on disk
            return
        self._say_dropped(dropped)
        recovered = self.last_error is not None
        self.last_error = None  # the alarms are on disk: what is newer may wait in memory for room
        try:
            self._move([(None, row) for row in rest])
        except STORAGE_ERRORS as exc:
            self._rollback_and_recount()
            if is_full(exc):
                self._retry_failed(exc)  # no room for the rest yet: it waits in memory, in order
            else:
                self._fault("moving rows held in memory to disk", exc)
        if recovered:
            notice: Dict[str, Any] = {"state": "recovered", "path": str(self.path.parent),
                                      "moved_to_disk": self._moved}
            if self._held:
                notice["held_in_memory"] = len(self._held)
            if dropped:
                notice["dropped"] = len(dropped)
            self._notices.append(notice)
            log.warning("storage recovered: outbox %s is writable again; %d rows held in memory are on disk%s",
                        self.path, self._moved, f", {len(self._held)} wait in memory for room" if self._held else "")
        elif not self._held:
            log.info("outbox %s: the rows held in memory for want of room are all on disk", self.path)
        if self.last_error is None:
            self._trim_wal()

    def _reopen(self) -> bool:
        """A fresh connection that has taken one write (and the acknowledgements the old one refused)."""
        if self._db is not None and self._file_was_replaced():
            self._rescue_rows()  # removed during the fault (e.g. to free space): keep what the old file held
        try:
            db, count, top, identity = open_database(self.path, self.max_db_bytes, self._max_row_id)
        except STORAGE_ERRORS as exc:
            self._retry_failed(exc)
            return False
        try:
            db.execute("BEGIN IMMEDIATE")
            touch_log(db)  # a write even with nothing to delete: only a commit shows the disk takes writes
            if self._acked_unsaved:
                db.executemany("DELETE FROM outbox WHERE row_id = ?", [(i,) for i in self._acked_unsaved])
            db.execute("COMMIT")
            count = db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        except STORAGE_ERRORS as exc:
            db.close()
            self._retry_failed(exc)
            return False
        self._close_db()
        self._db, self._count, self._identity = db, count, identity
        self._max_row_id = max(self._max_row_id, top)
        self._acked_unsaved.clear()
        return True

    def _move_alarms(self, dropped: List[OutboxRow]) -> List[OutboxRow]:
        """Move the held alarms to disk first, each in its own commit, then the rows older than them into the
        row ids kept free below each, so delivery order stays that of the events (an alarm never overtakes the
        ``recovered`` before it). An older row the card has no room for is dropped into ``dropped``: the alarms
        are on disk already and must not wait behind it. Returns the rows newer than the last alarm; raises
        (after placing the older rows) when an alarm finds no room."""
        held = self._held.rows()
        slots = list(enumerate(held, start=self._max_row_id + 1))
        error: Optional[BaseException] = None
        last = -1
        for k, (slot, row) in enumerate(slots):
            if row.fall_class:
                try:
                    self._commit_rows([(slot, row)])
                except STORAGE_ERRORS as exc:
                    self._rollback_and_recount()
                    error = exc
                    break
                last = k
        # before anything reads the table: the publisher's cursor must find no gap below an alarm it has sent
        self._move([(slot, row) for slot, row in slots[:last + 1] if not row.fall_class], dropped)
        if error is not None:
            raise error
        return held[last + 1:]

    def _move(self, pairs: List[Tuple[Optional[int], OutboxRow]], dropped: Optional[List[OutboxRow]] = None,
              batch: int = MOVE_BATCH_ROWS) -> None:
        """Move held rows to disk in order, ``batch`` a commit (into the row id paired with each, or the next
        free one). A batch with no room is tried again row by row, so what fits gets on disk; then a row with
        no room is dropped into ``dropped``, or (without it) raises and stays held with those after it."""
        while pairs:
            chunk, pairs = pairs[:batch], pairs[batch:]
            try:
                self._commit_rows(chunk)
            except STORAGE_ERRORS as exc:
                if not is_full(exc) or (len(chunk) == 1 and dropped is None):
                    raise
                self._rollback_and_recount()
                if len(chunk) > 1:
                    pairs, batch = chunk + pairs, 1
                    continue
                row = chunk[0][1]
                self._held.remove([row.row_id])
                if row.kind == TELEMETRY:
                    self._dropped_telemetry += 1
                else:
                    self._dropped_events += 1
                dropped.append(row)

    def _commit_rows(self, pairs: List[Tuple[Optional[int], OutboxRow]]) -> None:
        db = self._db
        assert db is not None
        db.execute("BEGIN IMMEDIATE")
        top = max(insert_row(db, row, row_id) for row_id, row in pairs)
        db.execute("COMMIT")
        self._held.remove(row.row_id for _, row in pairs)
        self._count += len(pairs)
        self._moved += len(pairs)
        self._max_row_id = max(self._max_row_id, top)

    def _say_dropped(self, dropped: List[OutboxRow]) -> None:
        if dropped:
            types = sorted({r.event_type or r.kind for r in dropped})
            log.warning("outbox %s: no room on disk for %d rows held in memory that are older than an alarm "
                        "(%s): dropped them, so the alarm is on disk and still goes out after what preceded it",
                        self.path, len(dropped), ", ".join(types))

    def _retry_failed(self, exc: BaseException) -> None:
        self._retry_delay_s = min(self._retry_delay_s * 2, self.retry_max_s)
        self._next_retry_s = self.clock.monotonic() + self._retry_delay_s
        log.info("outbox %s: disk still refused (%s); next try in %g s", self.path, exc, self._retry_delay_s)

    def _close_db(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            try:
                db.close()
            except STORAGE_ERRORS:
                pass

    # ---- writing -----------------------------------------------------------------------------------------
    def put(self, event: Event, device: str) -> Optional[int]:
        """Store ``event``; returns its row id (negative if held in memory during a storage fault).

        ``None`` only for a non-fall event arriving when the outbox is full of fall-class events (it is the
        oldest non-fall event then, and the bound says it goes)."""
        row = OutboxRow(0, EVENT, event.to_json(device), event.id, event.type)
        return self._store(row)

    def put_telemetry(self, payload: Dict[str, Any]) -> Optional[int]:
        """Store a telemetry reading (while offline); returns its row id, or ``None`` if it was dropped."""
        row = OutboxRow(0, TELEMETRY, json.dumps(payload, separators=(",", ":"), sort_keys=True))
        return self._store(row)

    def _store(self, row: OutboxRow) -> Optional[int]:
        now = self.clock.monotonic()
        self._retry_if_due(now)
        if self.last_error is not None or self._db is None:  # keep order: nothing overtakes held rows
            return self._held.add(row)
        if self._held:  # rows waiting for room on disk: this one queues behind them, an alarm moves them now
            held_id = self._held.add(row)
            if row.fall_class:
                self._next_retry_s = now
                self._retry_if_due(now)
                if held_id is not None and not any(r.row_id == held_id for r in self._held.rows()):
                    return self._max_row_id  # on disk: the last alarm moved gets the highest id
            return held_id
        try:
            return self._insert(row)
        except STORAGE_ERRORS as exc:
            self._fault("storing a message", exc)
            return self._held.add(row)

    def _insert(self, row: OutboxRow) -> Optional[int]:
        db = self._db
        assert db is not None
        db.execute("BEGIN IMMEDIATE")
        try:
            if self._count >= self.max_rows and not self._make_room(row):
                db.execute("ROLLBACK")
                return None
            row_id = insert_row(db, row)
            db.execute("COMMIT")
        except BaseException:
            self._rollback_and_recount()
            raise
        self._count += 1
        self._max_row_id = max(self._max_row_id, row_id)
        return row_id  # no checkpoint here: put() is on the alarm's way to the carer

    def _rollback_and_recount(self) -> None:
        try:
            if self._db is not None and self._db.in_transaction:  # SQLite has already rolled back after SQLITE_FULL
                self._db.execute("ROLLBACK")
            if self._db is not None:
                self._count = self._db.execute("SELECT count(*) FROM outbox").fetchone()[0]
        except STORAGE_ERRORS:
            pass  # the caller reports the first error; the next retry recounts

    def _make_room(self, incoming: OutboxRow) -> bool:
        """Drop one row by the policy, inside the caller's transaction; False means drop ``incoming``."""
        db = self._db
        assert db is not None
        victim = db.execute(
            "SELECT row_id, kind FROM outbox WHERE kind = ? ORDER BY row_id LIMIT 1", (TELEMETRY,)).fetchone()
        if victim is None and incoming.kind == TELEMETRY:
            self._dropped_telemetry += 1
            log.warning("outbox full (%d rows of events): dropped the new telemetry reading", self._count)
            return False
        if victim is None:
            victim = db.execute(
                "SELECT row_id, kind FROM outbox WHERE kind = ? AND fall_class = 0 ORDER BY row_id LIMIT 1",
                (EVENT,)).fetchone()
        if victim is None:
            if incoming.fall_class:
                log.warning("outbox holds %d fall-class events (bound %d): keeping this %s beyond the bound",
                            self._count, self.max_rows, incoming.event_type)
                return True
            self._dropped_events += 1
            log.warning("outbox full of fall-class events: dropped the new %s event %s",
                        incoming.event_type, incoming.event_id)
            return False
        db.execute("DELETE FROM outbox WHERE row_id = ?", (victim[0],))
        self._count -= 1
        if victim[1] == TELEMETRY:
            self._dropped_telemetry += 1
        else:
            self._dropped_events += 1
            log.warning("outbox full (%d rows): dropped the oldest non-fall event (row %d)",
                        self.max_rows, victim[0])
        return True

    def _trim_wal(self) -> None:
        if self._db is not None:
            trim_wal(self._db, self.path, self.wal_limit_bytes)

    # ---- reading and acknowledging -----------------------------------------------------------------------
    def pending(self, limit: int = 100, after_row_id: int = 0) -> List[OutboxRow]:
        """Up to ``limit`` undelivered rows, oldest first, with row ids above ``after_row_id``.

        Rows held in memory come last (they are the newest). During a storage fault the rows on disk are
        still returned while the disk can be read.
        """
        self._retry_if_due(self.clock.monotonic())
        rows: List[OutboxRow] = []
        if self._db is not None:
            try:
                rows = [OutboxRow(*r) for r in self._db.execute(
                    f"SELECT {COLUMNS} FROM outbox WHERE row_id > ? ORDER BY row_id LIMIT ?",
                    (after_row_id, limit + len(self._acked_unsaved)))]
            except STORAGE_ERRORS as exc:
                self._fault("reading", exc)
            rows = [r for r in rows if r.row_id not in self._acked_unsaved][:limit]
        if len(rows) < limit:
            rows += self._held.rows(limit - len(rows))
        return rows

    def mark_delivered(self, row_ids: Iterable[int]) -> None:
        """Forget rows the broker acknowledged. Unknown ids (already dropped or delivered) are ignored.

        Never raises: an acknowledgement the disk refuses is remembered and applied when the disk works."""
        ids = list(row_ids)
        self._held.remove(i for i in ids if i < 0)
        stored = [i for i in ids if i > 0 and i not in self._acked_unsaved]
        if not stored:
            return
        if self.last_error is not None or self._db is None:
            self._acked_unsaved.update(stored)
            return
        db = self._db
        try:
            db.execute("BEGIN IMMEDIATE")
            deleted = db.executemany("DELETE FROM outbox WHERE row_id = ?", [(i,) for i in stored]).rowcount
            db.execute("COMMIT")
        except STORAGE_ERRORS as exc:
            self._rollback_and_recount()
            self._acked_unsaved.update(stored)
            self._fault("removing delivered messages", exc)
            return
        self._count -= deleted
        if self._held:  # rows held for want of room: the room just freed may take them
            self._next_retry_s = min(self._next_retry_s, self.clock.monotonic())
        self._trim_wal()

    # ---- figures and lifecycle ---------------------------------------------------------------------------
    @property
    def dropped_telemetry(self) -> int:
        return self._dropped_telemetry + self._held.dropped_telemetry

    @property
    def dropped_events(self) -> int:
        return self._dropped_events + self._held.dropped_events

    @property
    def held_in_memory(self) -> int:
        """Rows only in memory now (lost if the process dies before the disk works again)."""
        return len(self._held)

    def depth(self) -> int:
        """Rows waiting for delivery, including any held in memory."""
        return max(0, self._count - len(self._acked_unsaved)) + len(self._held)

    def close(self) -> None:
        """Close the database. Idempotent. Rows held in memory are reported, since they are now lost."""
        if self._closed:
            return
        self._closed = True
        if self._held:
            log.error("outbox %s closed with %d rows not on disk (%d of them alarms): the disk refused them, "
                      "they are lost", self.path, len(self._held), self._held.count_alarms())
        if self._db is not None and self.last_error is None:
            try:
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except STORAGE_ERRORS as exc:
                log.warning("outbox %s: checkpoint at close failed (%s)", self.path, exc)
        self._close_db()

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
