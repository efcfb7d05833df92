"""Store and forward: every event goes to disk before anything touches the network, unless the disk refuses.

The outbox is an SQLite database in WAL mode. ``put`` commits (and, with ``synchronous=FULL``, fsyncs the
write-ahead log) before it returns, so an event that ``put`` stored survives a crash or a power cut. The
publisher reads ``pending`` rows in order and calls ``mark_delivered`` only for rows the broker acknowledged
(PUBACK), so delivery is at least once and subscribers dedupe by the event ``id``.

Why ``synchronous=FULL`` and not ``NORMAL``: in WAL mode, ``NORMAL`` keeps the database consistent but does
not fsync the log on each commit, so a power cut can roll back the last few committed transactions — exactly
the fall that just happened. ``FULL`` fsyncs the log on every commit. Events are rare (a few per walk) and
telemetry only lands here while the broker is unreachable, so the cost is paid where it matters.

Bounds: at most ``max_rows`` rows; what a full outbox drops is ``outbox_policy`` (telemetry first, then events
that are not kept first; falls, help_needed, SOS and ``cancelled`` are never dropped, even past the bound). The
``-wal`` file is checkpointed whenever it passes ``wal_limit_bytes`` (the next commit then writes the log from
its start, so the file stops growing there) and truncated when an outage has grown it past four times that, so
the outbox's files stay bounded on a small card with the broker up (deleted rows' pages are reused).

**The disk is never on the alarm path.** Any storage error puts the outbox in *storage fault*: rows are held in
memory, the disk is retried with backoff, and the rows go back to it, alarms first, when it works
(``outbox_fallback``). This module is the queue: where each call's rows go, and what is read back.

Only the main thread touches an ``Outbox`` (SQLite connections are not shared across threads here).
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Dict, Iterable, List, Optional, Union

from hal.clock import Clock
from ..events import Event
from .outbox_fallback import StorageFallback
from .outbox_policy import EVENT, KEPT_PAST_THE_BOUND, TELEMETRY, DropCounts, OutboxRow, make_room
from .outbox_sqlite import STORAGE_ERRORS, OutboxFile, insert_row, storage_fix

__all__ = ["Outbox", "OutboxRow", "EVENT", "TELEMETRY", "KEPT_PAST_THE_BOUND", "storage_fix"]

log = logging.getLogger(__name__)


class Outbox:
    """SQLite store-and-forward queue for events (and telemetry while offline), with a memory fallback.

    Parameters
    ----------
    path : str or Path
        The database file; its directory is created when missing. ``-wal`` and ``-shm`` files sit beside it.
    clock : Clock
        Paces the disk retries during a storage fault, and the check that the state directory still exists.
    max_rows : int
        Bound on stored rows (on disk, and separately in memory); events kept first go even past it.
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
        self._dropped = DropCounts()
        self._closed = False
        self._storage = StorageFallback(self.path, clock, self.max_rows, max_db_bytes, retry_interval_s,
                                        retry_max_s, wal_limit_bytes, self._dropped)

    # ---- a storage fault ---------------------------------------------------------------------------------
    @property
    def last_error(self) -> Optional[str]:
        """The current storage fault, in words; ``None`` while the disk works."""
        return self._storage.last_error

    @property
    def is_degraded(self) -> bool:
        """True while the disk refuses us (rows are held in memory). Once the held alarms are back on disk it
        is False, though rows the card had no room for may still wait in memory (``held_in_memory``)."""
        return self.last_error is not None

    def take_notices(self) -> List[Dict[str, Any]]:
        """Storage faults begun and ended since the last call (``features`` for ``storage_fault`` events)."""
        return self._storage.take_notices()

    def tick(self) -> None:
        """Called every loop step: retries the disk when due, notices a removed state directory, keeps the
        ``-wal`` file bounded."""
        if not self._closed:
            self._storage.tick(self.clock.monotonic())

    # ---- writing -----------------------------------------------------------------------------------------
    def put(self, event: Event, device: str) -> Optional[int]:
        """Store ``event``; returns its row id (negative if held in memory during a storage fault).

        ``None`` only for an event not kept first arriving when the outbox is full of events kept first (it is
        the oldest droppable event then, and the bound says it goes)."""
        row = OutboxRow(0, EVENT, event.to_json(device), event.id, event.type)
        return self._store(row)

    def put_telemetry(self, payload: Dict[str, Any]) -> Optional[int]:
        """Store a telemetry reading (while offline); returns its row id, or ``None`` if it was dropped."""
        row = OutboxRow(0, TELEMETRY, json.dumps(payload, separators=(",", ":"), sort_keys=True))
        return self._store(row)

    def _store(self, row: OutboxRow) -> Optional[int]:
        storage = self._storage
        now = self.clock.monotonic()
        storage.retry_if_due(now)
        if storage.last_error is not None or storage.file is None:  # keep order: nothing overtakes held rows
            return storage.held.add(row)
        if storage.held:  # rows waiting for room on disk: this one queues behind them, an alarm moves them now
            held_id = storage.held.add(row)
            if row.kept_first:
                storage.next_retry_s = now
                storage.retry_if_due(now)
                if held_id is not None and not any(r.row_id == held_id for r in storage.held.rows()):
                    return storage.top_row_id  # on disk: the last alarm moved gets the highest id
            return held_id
        try:
            return self._insert(storage.file, row)
        except STORAGE_ERRORS as exc:
            storage.fault("storing a message", exc)
            return storage.held.add(row)

    def _insert(self, file: OutboxFile, row: OutboxRow) -> Optional[int]:
        file.db.execute("BEGIN IMMEDIATE")
        try:
            if file.count >= self.max_rows and not self._make_room(file, row):
                file.db.execute("ROLLBACK")
                return None
            row_id = insert_row(file.db, row)
            file.db.execute("COMMIT")
        except BaseException:
            file.rollback_and_recount()
            raise
        file.count += 1
        file.max_row_id = max(file.max_row_id, row_id)
        return row_id  # no checkpoint here: put() is on the alarm's way to the carer

    def _make_room(self, file: OutboxFile, incoming: OutboxRow) -> bool:
        """Drop one row by the policy, inside the caller's transaction; False means drop ``incoming``."""
        room = make_room(incoming, file.oldest)
        if room.victim is not None:
            file.db.execute("DELETE FROM outbox WHERE row_id = ?", (room.victim,))
            file.count -= 1
            self._dropped.count(room.victim_kind)
            if room.victim_kind == EVENT:
                log.warning("outbox full (%d rows): dropped the oldest non-fall event (row %d)",
                            self.max_rows, room.victim)
        elif not room.admit:
            self._dropped.count(incoming.kind)
            if incoming.kind == TELEMETRY:
                log.warning("outbox full (%d rows of events): dropped the new telemetry reading", file.count)
            else:
                log.warning("outbox full of fall-class events: dropped the new %s event %s",
                            incoming.event_type, incoming.event_id)
        else:
            log.warning("outbox holds %d fall-class events (bound %d): keeping this %s beyond the bound",
                        file.count, self.max_rows, incoming.event_type)
        return room.admit

    # ---- reading and acknowledging -----------------------------------------------------------------------
    def pending(self, limit: int = 100, after_row_id: int = 0) -> List[OutboxRow]:
        """Up to ``limit`` undelivered rows, oldest first, with row ids above ``after_row_id``.

        Rows held in memory come last (they are the newest). During a storage fault the rows on disk are
        still returned while the disk can be read.
        """
        storage = self._storage
        storage.retry_if_due(self.clock.monotonic())
        rows: List[OutboxRow] = []
        if storage.file is not None:
            try:
                rows = storage.file.rows(after_row_id, limit + len(storage.acked_unsaved))
            except STORAGE_ERRORS as exc:
                storage.fault("reading", exc)
            rows = [r for r in rows if r.row_id not in storage.acked_unsaved][:limit]
        if len(rows) < limit:
            rows += storage.held.rows(limit - len(rows))
        return rows

    def mark_delivered(self, row_ids: Iterable[int]) -> None:
        """Forget rows the broker acknowledged. Unknown ids (already dropped or delivered) are ignored.

        Never raises: an acknowledgement the disk refuses is remembered and applied when the disk works."""
        storage = self._storage
        ids = list(row_ids)
        storage.held.remove(i for i in ids if i < 0)
        stored = [i for i in ids if i > 0 and i not in storage.acked_unsaved]
        if not stored:
            return
        if storage.last_error is not None or storage.file is None:
            storage.acked_unsaved.update(stored)
            return
        try:
            storage.file.delete(stored)
        except STORAGE_ERRORS as exc:
            storage.file.rollback_and_recount()
            storage.acked_unsaved.update(stored)
            storage.fault("removing delivered messages", exc)
            return
        if storage.held:  # rows held for want of room: the room just freed may take them
            storage.next_retry_s = min(storage.next_retry_s, self.clock.monotonic())
        storage.trim_wal()

    # ---- figures and lifecycle ---------------------------------------------------------------------------
    @property
    def dropped_telemetry(self) -> int:
        return self._dropped.telemetry + self._storage.held.dropped.telemetry

    @property
    def dropped_events(self) -> int:
        return self._dropped.events + self._storage.held.dropped.events

    @property
    def held_in_memory(self) -> int:
        """Rows only in memory now (lost if the process dies before the disk works again)."""
        return len(self._storage.held)

    def depth(self) -> int:
        """Rows waiting for delivery, including any held in memory."""
        storage = self._storage
        on_disk = storage.file.count if storage.file is not None else 0
        return max(0, on_disk - len(storage.acked_unsaved)) + len(storage.held)

    def close(self) -> None:
        """Close the database. Idempotent. Rows held in memory are reported, since they are now lost."""
        if self._closed:
            return
        self._closed = True
        self._storage.close()

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
