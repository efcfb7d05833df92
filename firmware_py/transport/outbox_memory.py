"""Where the outbox keeps rows while the disk refuses them: a bounded queue in memory, alarms kept first.

The outbox (``outbox.py``) holds rows here whenever SQLite fails (a full card, a read-only remount, I/O
errors, the state directory gone) and moves them back, in order, when the disk works again. Held rows have
negative row ids, so an acknowledgement can never be mistaken for a row on disk. The bound drops rows by the
same rule as the disk (``outbox_policy.make_room``).
"""
from __future__ import annotations

from collections import deque
from typing import Deque, Iterable, List, Optional

from .outbox_policy import DropCounts, OutboxRow, RowClass, make_room


class HeldRows:
    """Rows held in memory, oldest first, at most ``max_rows`` (rows kept first may go past it).

    ``dropped`` counts what the bound removed.
    """

    def __init__(self, max_rows: int = 1000) -> None:
        if max_rows < 1:
            raise ValueError(f"max_rows = {max_rows} is not allowed; use 1 or more")
        self.max_rows = int(max_rows)
        self.dropped = DropCounts()
        self._rows: Deque[OutboxRow] = deque()
        self._next_id = -1

    def __len__(self) -> int:
        return len(self._rows)

    def __bool__(self) -> bool:
        return bool(self._rows)

    def add(self, row: OutboxRow, first: bool = False) -> Optional[int]:
        """Hold ``row`` (at the front with ``first``: rows rescued from an older file); returns its new
        negative id, or ``None`` when the bound dropped it."""
        if len(self._rows) >= self.max_rows:
            room = make_room(row, self._oldest)
            if room.victim is not None:
                self._rows.remove(room.victim)
                self.dropped.count(room.victim.kind)
            if not room.admit:
                self.dropped.count(row.kind)
                return None
        held = row.with_id(self._next_id)
        self._next_id -= 1
        if first:
            self._rows.appendleft(held)
        else:
            self._rows.append(held)
        return held.row_id

    def _oldest(self, rows: RowClass) -> Optional[OutboxRow]:
        return next((r for r in self._rows if RowClass.of(r) == rows), None)

    def rows(self, limit: Optional[int] = None) -> List[OutboxRow]:
        """Up to ``limit`` rows, oldest first."""
        rows = list(self._rows)
        return rows if limit is None else rows[:max(0, limit)]

    def remove(self, row_ids: Iterable[int]) -> None:
        gone = set(row_ids)
        if gone:
            self._rows = deque(r for r in self._rows if r.row_id not in gone)

    def count_alarms(self) -> int:
        return sum(1 for r in self._rows if r.kept_first)
