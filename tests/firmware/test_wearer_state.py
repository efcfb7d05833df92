"""The wearer's state carers see: events folded into ok / stumble / alarm / help_needed / sos, kept across
restarts in the state dir."""
from __future__ import annotations

import json
import logging
from typing import List

from firmware_py.events import (CANCELLED, FALL, HELP_NEEDED, LOSS_OF_BALANCE, RECOVERED, SENSOR_FAULT, SOS,
                                STUMBLE, Event)
from firmware_py.wearer_state import STATE_FILE, StateTracker

T0 = 1_800_000_000.0


def ev(kind: str, at_s: float = 0.0) -> Event:
    return Event(kind, t_onset_s=at_s, t_detect_s=at_s, wall_time=T0 + at_s)


class Sink:
    def __init__(self) -> None:
        self.sent: List[dict] = []

    def __call__(self, payload: str) -> None:
        self.sent.append(json.loads(payload))

    @property
    def last(self) -> dict:
        return self.sent[-1]


def tracker(tmp_path=None, **kw):
    sink = Sink()
    path = tmp_path / STATE_FILE if tmp_path is not None else None
    return StateTracker("walker-1", path, sink, **kw), sink


def test_fall_then_help_needed_turns_both_flags_on_and_cancel_turns_them_off():
    t, sink = tracker()
    assert sink.last["state"] == "ok" and sink.last["device"] == "walker-1"
    t.on_event(ev(FALL, 1))
    assert (sink.last["state"], sink.last["fall"], sink.last["help_needed"]) == ("alarm", True, False)
    t.on_event(ev(HELP_NEEDED, 31))
    assert (sink.last["state"], sink.last["fall"], sink.last["help_needed"]) == ("help_needed", True, True)
    assert sink.last["since"].startswith("2027-01-15T08:00:31")
    t.on_event(ev(CANCELLED, 40))
    assert (sink.last["state"], sink.last["fall"], sink.last["help_needed"]) == ("ok", False, False)
    assert sink.last["last_event"]["type"] == CANCELLED


def test_a_stumble_while_help_is_needed_does_not_lower_the_state():
    t, sink = tracker()
    t.on_event(ev(FALL))
    t.on_event(ev(HELP_NEEDED, 30))
    t.on_event(ev(STUMBLE, 35))
    t.on_event(ev(SENSOR_FAULT, 36))
    assert sink.last["state"] == "help_needed" and sink.last["last_event"]["type"] == SENSOR_FAULT


def test_stumble_and_an_unconfirmed_loss_of_balance_end_after_hold_but_a_fall_does_not():
    t, sink = tracker(hold_s=60)
    t.on_event(ev(STUMBLE, 0))
    assert not t.tick(T0 + 59) and sink.last["state"] == "stumble"
    assert t.tick(T0 + 60) and sink.last["state"] == "ok"
    t.on_event(ev(LOSS_OF_BALANCE, 100))
    t.on_event(ev(FALL, 100.5))  # the loss of balance became a fall: it no longer ends by itself
    assert not t.tick(T0 + 1000) and sink.last["state"] == "alarm" and sink.last["cause"] == FALL


def test_recovered_ends_a_fall_but_not_an_sos_the_wearer_asked_for():
    t, sink = tracker()
    t.on_event(ev(FALL))
    t.on_event(ev(RECOVERED, 5))
    assert sink.last["state"] == "ok"
    t.on_event(ev(SOS, 10))
    t.on_event(ev(RECOVERED, 15))
    assert (sink.last["state"], sink.last["help_needed"]) == ("sos", True)
    assert t.clear(T0 + 20) and sink.last["state"] == "ok"
    assert not t.clear(T0 + 21)


def test_state_survives_a_restart_through_the_state_dir(tmp_path):
    t, _ = tracker(tmp_path)
    t.on_event(ev(FALL))
    t.on_event(ev(HELP_NEEDED, 30))
    again, sink = tracker(tmp_path)  # a new process: the first thing it publishes is the old state
    assert (sink.sent[0]["state"], sink.sent[0]["fall"], sink.sent[0]["help_needed"]) == ("help_needed", True, True)


def test_a_broken_state_file_starts_from_ok_instead_of_stopping(tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="firmware_py")  # the demo's test turns it down for the session
    (tmp_path / STATE_FILE).write_text("{not json")
    t, sink = tracker(tmp_path)
    assert sink.last["state"] == "ok"
    assert "cannot be read" in caplog.text
