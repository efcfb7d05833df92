"""Where the outbox keeps rows while the disk refuses them: a bounded queue in memory, alarms kept first.

The outbox (``outbox.py``) holds rows here whenever SQLite fails (a full card, a read-only remount, I/O
errors, the state directory gone) and moves them back, in order, when the disk works again. Held rows have
negative row ids, so an acknowledgement can never be mistaken for a row on disk.

The bound follows the disk's policy: the oldest telemetry goes first, then the oldest event that is not
fall-class; falls, help_needed, SOS and the ``cancelled`` that answers them are kept even past the bound (they
are few, and a carer told of a fall must also hear the wearer pressed "I'm OK").
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Deque, Iterable, List, Optional

from ..events import CANCELLED, FALL_CLASS

#: event types a full outbox keeps even past its bound: falls, and the cancel that answers one
KEPT_PAST_THE_BOUND = FALL_CLASS | {CANCELLED}

EVENT, TELEMETRY = "event", "telemetry"


@dataclass(frozen=True)
class OutboxRow:
    """One stored message. ``row_id`` < 0 means held in memory because the disk refused it."""

    row_id: int
    kind: str
    payload: str
    event_id: Optional[str] = None
    event_type: Optional[str] = None

    @property
    def fall_class(self) -> bool:
        """Never dropped from a full outbox (the column keeps its first name)."""
        return self.event_type in KEPT_PAST_THE_BOUND

    def with_id(self, row_id: int) -> "OutboxRow":
        return OutboxRow(row_id, self.kind, self.payload, self.event_id, self.event_type)


class HeldRows:
    """Rows held in memory, oldest first, at most ``max_rows`` (kept alarms may go past it).

    ``dropped_telemetry`` / ``dropped_events`` count what the bound removed.
    """

    def __init__(self, max_rows: int = 1000) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows = {max_rows} is not allowed; use 1 or more")
        self.max_rows = int(max_rows)
        self.dropped_telemetry = 0
        self.dropped_events = 0
        self._rows: Deque[OutboxRow] = deque()
        self._next_id = -1

    def __len__(self) -> int:
        return len(self._rows)

    def __bool__(self) -> bool:
        return bool(self._rows)

    def add(self, row: OutboxRow, first: bool = False) -> Optional[int]:
        """Hold ``row`` (at the front with ``first``: rows rescued from an older file); returns its new
        negative id, or ``None`` when the bound dropped it."""
        if len(self._rows) >= self.max_rows and not self._make_room(row):
            return None
        held = row.with_id(self._next_id)
        self._next_id -= 1
        if first:
            self._rows.appendleft(held)
        else:
            self._rows.append(held)
        return held.row_id

    def _make_room(self, incoming: OutboxRow) -> bool:
        """Drop one row by the policy; False means drop ``incoming`` instead."""
        victim = next((r for r in self._rows if r.kind == TELEMETRY), None)
        if victim is None and incoming.kind == TELEMETRY:
            self.dropped_telemetry += 1
            return False
        if victim is None:
            victim = next((r for r in self._rows if not r.fall_class), None)
        if victim is None:
            if incoming.fall_class:
                return True  # kept past the bound
            self.dropped_events += 1
            return False
        self._rows.remove(victim)
        if victim.kind == TELEMETRY:
            self.dropped_telemetry += 1
        else:
            self.dropped_events += 1
        return True

    def rows(self, limit: Optional[int] = None) -> List[OutboxRow]:
        """Up to ``limit`` rows, oldest first."""
        rows = list(self._rows)
        return rows if limit is None else rows[:max(0, limit)]

    def first(self) -> OutboxRow:
        return self._rows[0]

    def pop_first(self) -> OutboxRow:
        return self._rows.popleft()

    def remove(self, row_ids: Iterable[int]) -> None:
        gone = set(row_ids)
        if gone:
            self._rows = deque(r for r in self._rows if r.row_id not in gone)

    def count_alarms(self) -> int:
        return sum(1 for r in self._rows if r.fall_class)
