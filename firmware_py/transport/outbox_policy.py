"""The outbox's rows and what a full outbox drops: one rule, for the rows on disk and the rows held in memory.

When a store is at its bound, the oldest telemetry goes first, then the oldest event that is not kept first;
events kept first (falls, help_needed, SOS, and the ``cancelled`` that answers them) are never pushed out, so
one arriving when only they are left is kept past the bound. A row pushes out only rows of its own class or a
lower one: telemetry never pushes out an event, and an event never pushes out an alarm. Alarms are few, and a
carer told of a fall must also hear that the wearer pressed "I'm OK".

``make_room`` is the rule; each store only answers "which is your oldest row of this class?" (SQL on disk,
a scan of the deque in memory).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, Optional, TypeVar

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
    def kept_first(self) -> bool:
        """Never pushed out of a full outbox (kept past the bound if need be)."""
        return self.event_type in KEPT_PAST_THE_BOUND

    def with_id(self, row_id: int) -> "OutboxRow":
        return OutboxRow(row_id, self.kind, self.payload, self.event_id, self.event_type)


@dataclass(frozen=True)
class RowClass:
    """Rows the bound treats alike: a kind, and whether they are kept first."""

    kind: str
    kept_first: bool

    @staticmethod
    def of(row: OutboxRow) -> "RowClass":
        return RowClass(row.kind, row.kept_first)


#: what the bound pushes out, first to last; rows kept first are not in it
DROP_ORDER = (RowClass(TELEMETRY, False), RowClass(EVENT, False))

Victim = TypeVar("Victim")


@dataclass(frozen=True)
class Room(Generic[Victim]):
    """The rule's answer for a row arriving at a full store."""

    admit: bool  #: the arriving row goes in (after ``victim``, if any, is dropped)
    victim: Optional[Victim] = None  #: the stored row to drop for it, as the store named it
    victim_kind: Optional[str] = None  #: ``EVENT`` or ``TELEMETRY``, for the store's drop counts


def make_room(incoming: OutboxRow, oldest: Callable[[RowClass], Optional[Victim]]) -> Room[Victim]:
    """Which row a full store drops for ``incoming``; ``oldest(rows)`` is the store's oldest row of that class
    (``None`` when it has none)."""
    own = RowClass.of(incoming)
    for rows in DROP_ORDER:
        victim = oldest(rows)
        if victim is not None:
            return Room(True, victim, rows.kind)
        if rows == own:
            return Room(False)  # only rows it may not push out are left: the newcomer is the one dropped
    return Room(True)  # kept first, among rows kept first only: it stays past the bound


@dataclass
class DropCounts:
    """Rows the bound (or a card with no room) removed, by kind."""

    telemetry: int = 0
    events: int = 0

    def count(self, kind: str) -> None:
        if kind == TELEMETRY:
            self.telemetry += 1
        else:
            self.events += 1
