"""The wearer's state for carers: what the events so far add up to, published retained on
``<prefix>/<device>/state`` so a subscriber that (re)connects sees it at once.

Events are moments; a carer's dashboard, Home Assistant's binary sensors and an automation that starts after
a restart need a *state*. This module folds the event stream into one, with no I/O of its own beyond an atomic
JSON file in the state dir (so a restarted daemon says the same as before)::

    ok ──stumble──▶ stumble ──(hold_s without events)──▶ ok
    ok ──loss_of_balance / fall──▶ alarm ──help_needed──▶ help_needed
    any ──sos──▶ sos        alarm (loss of balance) ──recovered──▶ ok        any ──cancelled──▶ ok

A lower state never replaces a higher one (a stumble while lying on the floor leaves ``help_needed``). A
loss-of-balance alarm ends with ``recovered`` or, if neither a fall nor a recovery follows, like a stumble
after ``hold_s``. A fall, help_needed and sos end only with ``cancelled``: the state follows the
``AlertManager``, which keeps a fall's cancel window running after ``recovered`` and raises help_needed at its
end unless the button is pressed (``urgency.ENDED_BY_RECOVERED``), so the carer never sees ``ok`` for a
fall that will still call for help. Other events (``sensor_fault``, ``session_summary`` and any type added
later) leave the state as it is and only show as ``last_event``.
"""
from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, Optional

from .urgency import CALLS_FOR_HELP, ENDED_BY_RECOVERED, SELF_ENDING
from ..atomic_file import write_atomically
from ..events import CANCELLED, FALL, HELP_NEEDED, LOSS_OF_BALANCE, RECOVERED, SOS, STUMBLE, Event, iso_utc

log = logging.getLogger(__name__)

OK, STUMBLING, ALARM = "ok", "stumble", "alarm"
#: every state, lowest first (the alarms' order, ``urgency``, with sos above help_needed: the wearer asked)
STATES = (OK, STUMBLING, ALARM, HELP_NEEDED, SOS)
_RANK = {state: n for n, state in enumerate(STATES)}
#: what an event moves the state to (if that is not lower than the current one); a state set by a self-ending
#: alarm (``urgency.SELF_ENDING``) ends on its own after ``hold_s`` without another event
STATE_FOR_EVENT = {STUMBLE: STUMBLING, LOSS_OF_BALANCE: ALARM, FALL: ALARM, HELP_NEEDED: HELP_NEEDED, SOS: SOS}
STATE_SCHEMA_VERSION = 1
#: the state across restarts, in the state dir
STATE_FILE = "wearer_state.json"




@dataclass
class WearerState:
    """A snapshot of the state (the JSON on the ``state`` topic, also the file in the state dir).

    Attributes
    ----------
    state : str
        One of ``STATES``.
    since : str or None
        ISO 8601 time the state began (the onset of the event that set it).
    cause : str or None
        The event type that set the state (``fall`` or ``loss_of_balance`` for ``alarm``).
    fall : bool
        A fall not yet cancelled (Home Assistant's "Fall detected"); getting up does not end it.
    help_needed : bool
        ``help_needed`` or ``sos`` (Home Assistant's "Help needed").
    last_event : dict or None
        ``type``, ``id``, ``severity``, ``time`` of the last event of any type.
    """

    state: str = OK
    since: Optional[str] = None
    cause: Optional[str] = None
    fall: bool = False
    help_needed: bool = False
    last_event: Optional[Dict[str, Any]] = None
    since_wall_s: Optional[float] = field(default=None, repr=False)

    def to_dict(self, device: str) -> Dict[str, Any]:
        body = asdict(self)
        body.pop("since_wall_s")
        body.update(schema=STATE_SCHEMA_VERSION, device=device)
        return body

    def to_json(self, device: str) -> str:
        return json.dumps(self.to_dict(device), separators=(",", ":"), sort_keys=True)


class StateTracker:
    """Folds events into a ``WearerState``, keeps it in ``path`` and hands each change to ``publish``.

    Parameters
    ----------
    device_id : str
    path : Path or None
        JSON file for the state across restarts (written atomically); ``None`` keeps it in memory only.
    publish : callable
        Called with the state's JSON whenever it changes, and once at start (the publisher keeps it and
        re-sends it retained on every connect).
    hold_s : float
        How long a stumble or an unconfirmed loss-of-balance state lasts without another event.

    Example
    -------
    >>> tracker = StateTracker("walker-1", None, publish=print)
    >>> tracker.on_event(fall_event)     # prints {"state":"alarm","fall":true,...}
    """

    def __init__(self, device_id: str, path: Optional[Path], publish: Callable[[str], None],
                 hold_s: float = 60.0) -> None:
        self.device_id = device_id
        self.path = path
        self.hold_s = hold_s
        self._publish = publish
        self.state = self._load()
        self._publish(self.state.to_json(device_id))

    def on_event(self, event: Event) -> None:
        """Apply one recorded event (every event changes ``last_event``); saves and publishes the result."""
        wall_s = event.wall_time
        s = self.state
        s.last_event = {"type": event.type, "id": event.id, "severity": event.severity,
                        "time": iso_utc(wall_s) if wall_s is not None else None}
        target = STATE_FOR_EVENT.get(event.type)
        if target is not None:
            # higher wins; the same state is renewed only while it would end by itself (a second stumble)
            if _RANK[target] > _RANK[s.state] or (target == s.state and s.cause in SELF_ENDING):
                self._enter(target, event.type, wall_s)
            # flags follow the event even when the state stays higher (a fall during an SOS is still a fall)
            s.fall = s.fall or event.type == FALL
            s.help_needed = s.help_needed or event.type in CALLS_FOR_HELP
        elif event.type == CANCELLED or (event.type == RECOVERED and s.cause in ENDED_BY_RECOVERED):
            # a recovery closes only what it closes in AlertManager: a fall's window still runs to help_needed
            self._enter(OK, None, wall_s)
        self._changed()

    def tick(self, now_wall_s: float) -> bool:
        """End a stumble or an unconfirmed loss-of-balance state after ``hold_s``; True if it ended."""
        s = self.state
        if (s.cause in SELF_ENDING and s.since_wall_s is not None
                and now_wall_s - s.since_wall_s >= self.hold_s):
            self._enter(OK, None, now_wall_s)
            self._changed()
            return True
        return False

    def clear(self, now_wall_s: float) -> bool:
        """Back to ``ok`` (a cancel with nothing sounding, e.g. after a restart); True if it was not ok."""
        if self.state.state == OK:
            return False
        self._enter(OK, None, now_wall_s)
        self._changed()
        return True

    def _enter(self, state: str, cause: Optional[str], wall_s: Optional[float]) -> None:
        s = self.state
        s.state, s.cause, s.since_wall_s = state, cause, wall_s
        s.since = iso_utc(wall_s) if wall_s is not None else None
        if state == OK:
            s.fall = s.help_needed = False

    def _changed(self) -> None:
        self._save()
        self._publish(self.state.to_json(self.device_id))

    def _load(self) -> WearerState:
        if self.path is None:
            return WearerState()
        try:
            # read, not exists() first: on a failing card stat() raises EIO too, and that must not stop the monitor
            body = json.loads(self.path.read_text(encoding="utf-8"))
            state = WearerState(**{k: body[k] for k in ("state", "since", "cause", "fall", "help_needed",
                                                          "last_event", "since_wall_s") if k in body})
            if state.state not in _RANK:
                raise ValueError(f"unknown state {state.state!r}")
            return state
        except FileNotFoundError:
            return WearerState()
        except (OSError, ValueError, TypeError) as exc:
            # an unreadable file must not stop the monitor; the carer then sees "ok" until the next event
            log.warning("wearer state: %s cannot be read (%s); starting from ok", self.path, exc)
            return WearerState()

    def _save(self) -> None:
        if self.path is None:
            return
        body = dict(self.state.to_dict(self.device_id), since_wall_s=self.state.since_wall_s)
        try:
            write_atomically(self.path, json.dumps(body, sort_keys=True))
        except OSError as exc:  # a full or read-only disk: the state still goes out over MQTT
            log.warning("wearer state: cannot save %s (%s); it is published but not kept across a restart",
                        self.path, exc)
