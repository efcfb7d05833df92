"""Delivering the outbox over the MQTT connection: which rows go out, and which the broker has.

The outbox is the source of truth; paho's queue is only transport. Paho keeps unacknowledged QoS 1 messages in
memory (lost on restart, unbounded unless limited), so at most ``max_inflight`` rows are handed to it at a
time, ``mid -> row id`` is recorded in the main thread right after ``publish()`` returns, and a row is deleted
from the outbox only when its PUBACK comes back. No paho here: the ``Publisher`` (``mqtt``) owns the
connection and passes its ``send``.
"""
from __future__ import annotations

import logging
import math
from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

from hal.clock import Clock
from ..errors import RetrowalkError
from .outbox import TELEMETRY, Outbox, OutboxRow
from .topics import Topics

log = logging.getLogger(__name__)

#: with nothing changed, the outbox is still looked at this often for rows to send
PENDING_RECHECK_S = 1.0


class SendRefused(RetrowalkError):
    """The MQTT client would not take a message (its words say why); the row stays in the outbox."""


#: ``send(topic, payload)`` hands a QoS 1 message to the client and returns its mid, or raises SendRefused
Send = Callable[[str, str], int]


class OutboxDelivery:
    """Hands outbox rows to the connection in order, at most ``max_inflight`` unacknowledged, and deletes each
    on its PUBACK. Main thread only.

    ``delivered`` counts rows the broker acknowledged.
    """

    def __init__(self, outbox: Outbox, topics: Topics, max_inflight: int, clock: Clock) -> None:
        self.outbox = outbox
        self.topics = topics
        self.max_inflight = max_inflight
        self.clock = clock
        self.delivered = 0
        self._inflight: Dict[int, int] = {}  # mid -> outbox row id
        self._inflight_held: Set[int] = set()  # row ids < 0 (held in memory by a full disk) handed to paho
        self._last_sent_row = 0
        # what the outbox and paho held after the last look for rows to send (see step)
        self._pending_seen: Optional[Tuple[int, int]] = None
        self._pending_recheck_s = -math.inf

    @property
    def inflight(self) -> int:
        """Rows handed to the connection and not acknowledged yet."""
        return len(self._inflight)

    def acknowledged(self, mids: Iterable[int]) -> Tuple[int, List[int]]:
        """PUBACKs arrived: their rows leave the outbox. Returns the rows removed, and the mids that were not
        outbox rows (the publisher's own retained messages)."""
        rows: List[int] = []
        others: List[int] = []
        for mid in mids:
            row_id = self._inflight.pop(mid, None)
            if row_id is None:
                others.append(mid)
            else:
                rows.append(row_id)
                self._inflight_held.discard(row_id)
        if rows:
            self.outbox.mark_delivered(rows)
            self.delivered += len(rows)
        return len(rows), others

    def step(self, connected: bool, send: Send) -> None:
        """Hand more rows to ``send`` while connected. The outbox is queried when rows came or went, or paho's
        window moved, else once a second (that also gives a disk that has room again its retry): a query on
        every loop wake cost more CPU than the detection (bench/daemon.py)."""
        if not connected:
            self._pending_seen = None
            return
        now_s = self.clock.monotonic()
        seen = (self.outbox.depth(), len(self._inflight))
        if seen != self._pending_seen or now_s >= self._pending_recheck_s:
            self._send_pending(send)
            self._pending_seen = (self.outbox.depth(), len(self._inflight))
            self._pending_recheck_s = now_s + PENDING_RECHECK_S

    def _send_pending(self, send: Send) -> None:
        room = self.max_inflight - len(self._inflight)
        if room <= 0:
            return
        for row in self.outbox.pending(room + len(self._inflight_held), after_row_id=self._last_sent_row):
            if row.row_id in self._inflight_held:
                continue
            if room <= 0 or not self._send_row(row, send):
                break
            room -= 1

    def _send_row(self, row: OutboxRow, send: Send) -> bool:
        topic = self.topics.telemetry if row.kind == TELEMETRY else self.topics.event
        try:
            mid = send(topic, row.payload)
        except SendRefused as exc:
            log.warning("MQTT: publishing outbox row %d failed (%s); it stays in the outbox", row.row_id, exc)
            return False
        self._inflight[mid] = row.row_id
        if row.row_id > 0:
            self._last_sent_row = row.row_id
        else:
            self._inflight_held.add(row.row_id)
        return True
