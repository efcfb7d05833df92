"""The outbox's storage fault: rows held in memory while the disk refuses them, the disk retried with backoff,
and the way back (alarms first, delivery order kept).

Any SQLite or OS error (a full card, ``disk I/O error``, a read-only remount, ``unable to open``, the state
directory deleted) puts the outbox in *storage fault*: new rows are held in memory (``outbox_memory.HeldRows``:
bounded, alarms kept first), rows already on disk are still read when the disk lets us, acknowledgements the
disk refuses are remembered and applied later, and the disk is retried on the clock with backoff
(``retry_interval_s`` doubling to ``retry_max_s``). Each retry opens a fresh connection (re-creating the state
directory if it is gone) and applies the remembered acknowledgements. Then the held alarms go to disk first,
each in its own commit (a card with room for a few rows must take the fall even when the telemetry held beside
it does not fit), then the rows older than them into row ids kept free below the alarms (delivery order is
kept); an older row with no room is dropped and counted. The disk counts as working once the alarms are on it;
the newer rows follow in batches, and those with no room yet stay held (bounded, in order, new rows behind them)
and are retried later. ``take_notices()`` hands the daemon one ``lost`` notice when a fault begins and one
``recovered`` when the disk works again (it publishes them as ``storage_fault`` events).

A state directory removed while running is noticed by ``tick()`` (the database file is gone or is another
file): the rows still readable through the open, deleted file are rescued into memory first, then written to
the re-created file. Rows held in memory are lost only if the process dies before the disk works again.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

from hal.clock import Clock
from .outbox_memory import HeldRows
from .outbox_policy import DropCounts, OutboxRow
from .outbox_sqlite import STORAGE_ERRORS, OutboxFile, is_full, storage_fix

log = logging.getLogger(__name__)

#: rows a commit when held rows go back to disk: one fsync per batch, and a full card still takes a part
MOVE_BATCH_ROWS = 32


class StorageFallback:
    """Where the outbox's rows are: its file while the disk works, memory while it refuses, and the way back.

    ``file`` is the open file (``None`` while none would open), ``held`` the rows in memory, ``acked_unsaved``
    the delivered rows the disk would not let us delete yet. ``Outbox`` (the queue) decides per call which to
    use; this object owns the fault: when it began, the retries, moving rows back, the notices.
    """

    def __init__(self, path: Path, clock: Clock, max_rows: int, max_db_bytes: Optional[int],
                 retry_interval_s: float, retry_max_s: float, wal_limit_bytes: int, dropped: DropCounts) -> None:
        self.path = path
        self.clock = clock
        self.max_db_bytes = max_db_bytes
        self.retry_interval_s = float(retry_interval_s)
        self.retry_max_s = max(float(retry_max_s), self.retry_interval_s)
        self.wal_limit_bytes = int(wal_limit_bytes)
        self.dropped = dropped
        self.held = HeldRows(max_rows)
        self.acked_unsaved: Set[int] = set()
        self.last_error: Optional[str] = None  # the current storage fault, in words; None while the disk works
        self.file: Optional[OutboxFile] = None
        self.next_retry_s = 0.0  # when the disk is tried again (during a fault), or held rows moved (after one)
        self._notices: List[Dict[str, Any]] = []
        self._moved = 0  # held rows moved to disk since the fault began (told in the 'recovered' notice)
        self._retry_delay_s = self.retry_interval_s
        self._next_check_s = 0.0
        self._top_row_id = 0  # the highest row id handed out by a file since closed
        try:
            self.file = OutboxFile(self.path, max_db_bytes)
        except STORAGE_ERRORS as exc:
            self.fault("opening", exc)

    @property
    def top_row_id(self) -> int:
        """The highest row id ever handed out (a new file starts above it)."""
        return self.file.max_row_id if self.file is not None else self._top_row_id

    def fault(self, what: str, exc: BaseException) -> None:
        """The disk failed doing ``what``: hold rows in memory from now on, retry later, say so once."""
        now = self.clock.monotonic()
        error = f"{what} failed: {exc}"
        fix = storage_fix(str(exc))
        if self.last_error is None:
            self._retry_delay_s = self.retry_interval_s
            self._moved = 0
            self.last_error = (f"outbox {self.path}: {error}; events are kept in memory only (alarms first, "
                               f"{len(self.held)} held so far) and the disk is retried from "
                               f"{self.retry_interval_s:g} s up to every {self.retry_max_s:g} s; {fix}")
            log.error("storage fault: %s", self.last_error)
            self._notices.append({"state": "lost", "path": str(self.path.parent), "error": error[:300],
                                  "fix": fix})
        self.next_retry_s = now + self._retry_delay_s

    def take_notices(self) -> List[Dict[str, Any]]:
        """Storage faults begun and ended since the last call (``features`` for ``storage_fault`` events)."""
        notices, self._notices = self._notices, []
        return notices

    def tick(self, now: float) -> None:
        """Notice a removed state directory and keep the log bounded (both once a second); retry the disk when due."""
        checking = self.last_error is None and now >= self._next_check_s
        if checking:
            self._next_check_s = now + 1.0
            if self.file is None or self.file.was_replaced():
                self._rescue_rows()
                self.fault("writing", OSError(f"the state directory {self.path.parent} or its outbox was "
                                              f"removed while running; re-creating it"))
                self.next_retry_s = now  # re-create at once
        self.retry_if_due(now)
        if checking:
            # between steps, off the put path (a long outage grows the log here); once a second like the check
            # above: its stat() on each of the loop's 20 wakes a second cost more than the log grows in one
            self.trim_wal()

    def _rescue_rows(self) -> None:
        """Rows in a file that was deleted under us are still readable through our connection: keep them."""
        if self.file is None:
            return
        try:
            rows = self.file.rows()[::-1]
        except STORAGE_ERRORS as exc:
            log.error("outbox %s: could not read the removed file's rows (%s)", self.path, exc)
            rows = []
        for row in rows:  # newest first, each to the front: oldest ends up first
            if row.row_id not in self.acked_unsaved:
                self.held.add(row, first=True)
        self.acked_unsaved.clear()
        self._close_file()
        if rows:
            log.warning("outbox %s was removed: %d undelivered rows rescued into memory", self.path, len(rows))

    def retry_if_due(self, now: float) -> None:
        """Retry the disk (during a fault) or move the rows still held in memory (after one), when due."""
        if now < self.next_retry_s or (self.last_error is None and not self.held):
            return
        if self.last_error is not None and not self._reopen():
            return
        file = self.file
        assert file is not None
        dropped: List[OutboxRow] = []
        try:
            rest = self._move_alarms(file, dropped)
        except STORAGE_ERRORS as exc:
            file.rollback_and_recount()
            self._say_dropped(dropped)
            if self.last_error is None:
                self.fault("storing an alarm", exc)
            else:
                self._retry_failed(exc)  # still a fault; the alarms moved so far are on disk
            return
        self._say_dropped(dropped)
        recovered = self.last_error is not None
        self.last_error = None  # the alarms are on disk: what is newer may wait in memory for room
        try:
            self._move(file, [(None, row) for row in rest])
        except STORAGE_ERRORS as exc:
            file.rollback_and_recount()
            if is_full(exc):
                self._retry_failed(exc)  # no room for the rest yet: it waits in memory, in order
            else:
                self.fault("moving rows held in memory to disk", exc)
        if recovered:
            notice: Dict[str, Any] = {"state": "recovered", "path": str(self.path.parent),
                                      "moved_to_disk": self._moved}
            if self.held:
                notice["held_in_memory"] = len(self.held)
            if dropped:
                notice["dropped"] = len(dropped)
            self._notices.append(notice)
            log.warning("storage recovered: outbox %s is writable again; %d rows held in memory are on disk%s",
                        self.path, self._moved, f", {len(self.held)} wait in memory for room" if self.held else "")
        elif not self.held:
            log.info("outbox %s: the rows held in memory for want of room are all on disk", self.path)
        self.trim_wal()

    def trim_wal(self) -> None:
        """Keep the ``-wal`` file bounded (while the disk works; never from ``put``: it is on the alarm's way)."""
        if self.last_error is None and self.file is not None:
            self.file.trim_wal(self.wal_limit_bytes)

    def _reopen(self) -> bool:
        """A fresh connection that has taken one write (and the acknowledgements the old one refused)."""
        if self.file is not None and self.file.was_replaced():
            self._rescue_rows()  # removed during the fault (e.g. to free space): keep what the old file held
        try:
            file = OutboxFile(self.path, self.max_db_bytes, self.top_row_id)
            file.take_writes(self.acked_unsaved)
        except STORAGE_ERRORS as exc:
            self._retry_failed(exc)
            return False
        self._close_file()
        self.file = file
        self.acked_unsaved.clear()
        return True

    def _move_alarms(self, file: OutboxFile, dropped: List[OutboxRow]) -> List[OutboxRow]:
        """Move the held alarms to disk first, each in its own commit, then the rows older than them into the
        row ids kept free below each, so delivery order stays that of the events (an alarm never overtakes the
        ``recovered`` before it). An older row the card has no room for is dropped into ``dropped``: the alarms
        are on disk already and must not wait behind it. Returns the rows newer than the last alarm; raises
        (after placing the older rows) when an alarm finds no room."""
        held = self.held.rows()
        slots = list(enumerate(held, start=file.max_row_id + 1))
        error: Optional[BaseException] = None
        last = -1
        for k, (slot, row) in enumerate(slots):
            if row.kept_first:
                try:
                    self._commit(file, [(slot, row)])
                except STORAGE_ERRORS as exc:
                    file.rollback_and_recount()
                    error = exc
                    break
                last = k
        # before anything reads the table: the publisher's cursor must find no gap below an alarm it has sent
        self._move(file, [(slot, row) for slot, row in slots[:last + 1] if not row.kept_first], dropped)
        if error is not None:
            raise error
        return held[last + 1:]

    def _move(self, file: OutboxFile, pairs: List[Tuple[Optional[int], OutboxRow]],
              dropped: Optional[List[OutboxRow]] = None, batch: int = MOVE_BATCH_ROWS) -> None:
        """Move held rows to disk in order, ``batch`` a commit (into the row id paired with each, or the next
        free one). A batch with no room is tried again row by row, so what fits gets on disk; then a row with
        no room is dropped into ``dropped``, or (without it) raises and stays held with those after it."""
        while pairs:
            chunk, pairs = pairs[:batch], pairs[batch:]
            try:
                self._commit(file, chunk)
            except STORAGE_ERRORS as exc:
                if not is_full(exc) or (len(chunk) == 1 and dropped is None):
                    raise
                file.rollback_and_recount()
                if len(chunk) > 1:
                    pairs, batch = chunk + pairs, 1
                    continue
                row = chunk[0][1]
                self.held.remove([row.row_id])
                self.dropped.count(row.kind)
                dropped.append(row)

    def _commit(self, file: OutboxFile, pairs: List[Tuple[Optional[int], OutboxRow]]) -> None:
        file.commit_rows(pairs)
        self.held.remove(row.row_id for _, row in pairs)
        self._moved += len(pairs)

    def _say_dropped(self, dropped: List[OutboxRow]) -> None:
        if dropped:
            types = sorted({r.event_type or r.kind for r in dropped})
            log.warning("outbox %s: no room on disk for %d rows held in memory that are older than an alarm "
                        "(%s): dropped them, so the alarm is on disk and still goes out after what preceded it",
                        self.path, len(dropped), ", ".join(types))

    def _retry_failed(self, exc: BaseException) -> None:
        self._retry_delay_s = min(self._retry_delay_s * 2, self.retry_max_s)
        self.next_retry_s = self.clock.monotonic() + self._retry_delay_s
        log.info("outbox %s: disk still refused (%s); next try in %g s", self.path, exc, self._retry_delay_s)

    def _close_file(self, checkpoint_first: bool = False) -> None:
        file, self.file = self.file, None
        if file is not None:
            self._top_row_id = max(self._top_row_id, file.max_row_id)
            file.close(checkpoint_first)

    def close(self) -> None:
        """Close the file (the log checkpointed first while the disk works). Rows still held are reported,
        since they are now lost."""
        if self.held:
            log.error("outbox %s closed with %d rows not on disk (%d of them alarms): the disk refused them, "
                      "they are lost", self.path, len(self.held), self.held.count_alarms())
        self._close_file(checkpoint_first=self.last_error is None)
