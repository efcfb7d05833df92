"""The wearer's state carers see: events folded into ok / stumble / alarm / help_needed / sos, kept across
restarts in the state dir."""
from __future__ import annotations

import json
from typing import List

import pytest

from firmware_py.alerting.alerts import AlertManager, AlertSettings
from firmware_py.events import (CANCELLED, FALL, HELP_NEEDED, LOSS_OF_BALANCE, RECOVERED, SENSOR_FAULT, SOS,
                                STUMBLE, Event)
from firmware_py.alerting.urgency import PRIORITY
from firmware_py.alerting.wearer_state import STATE_FILE, STATE_FOR_EVENT, StateTracker
from hal.gpio import build_gpio

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


@pytest.mark.parametrize("first", list(STATE_FOR_EVENT))
def test_a_less_urgent_alarm_never_lowers_the_state_when_it_follows_a_more_urgent_one(first):
    # the states keep the alarms' order (urgency.PRIORITY): what pre-empts on the buzzer is not lower here
    for then in [kind for kind in STATE_FOR_EVENT if PRIORITY[kind] < PRIORITY[first]]:
        t, sink = tracker()
        t.on_event(ev(first, 1))
        t.on_event(ev(then, 2))
        assert sink.last["state"] == STATE_FOR_EVENT[first], (first, then)


def test_the_carers_terminal_ranks_a_retained_state_as_the_event_that_set_it():
    from firmware_py.commands.alerts import Fleet

    fleet = Fleet()

    def rank(topic: str, body: bytes) -> int:
        return fleet.handle(topic, body, True, "now")[0][0]

    for kind, state in STATE_FOR_EVENT.items():
        state_rank = rank("retrowalk/w1/state", json.dumps({"state": state}).encode())
        event_ranks = [rank("retrowalk/w1/event", ev(other).to_json("w1").encode())
                       for other, other_state in STATE_FOR_EVENT.items() if other_state == state]
        assert state_rank == max(event_ranks), (kind, state)
    assert rank("retrowalk/w1/state", b'{"state": "sos"}') \
        == rank("retrowalk/w1/state", b'{"state": "help_needed"}')


def test_recovered_ends_a_loss_of_balance_but_not_a_fall_help_or_an_sos():
    t, sink = tracker()
    t.on_event(ev(LOSS_OF_BALANCE))
    t.on_event(ev(RECOVERED, 2))
    assert sink.last["state"] == "ok"
    t.on_event(ev(FALL, 5))
    t.on_event(ev(RECOVERED, 10))  # up again, the fall not cancelled: its window still runs
    assert (sink.last["state"], sink.last["fall"], sink.last["last_event"]["type"]) == ("alarm", True, RECOVERED)
    t.on_event(ev(HELP_NEEDED, 35))
    t.on_event(ev(RECOVERED, 40))
    assert (sink.last["state"], sink.last["help_needed"]) == ("help_needed", True)
    t.on_event(ev(SOS, 50))
    t.on_event(ev(RECOVERED, 55))
    assert (sink.last["state"], sink.last["help_needed"]) == ("sos", True)
    assert t.clear(T0 + 60) and sink.last["state"] == "ok"
    assert not t.clear(T0 + 61)


@pytest.fixture
def alerts_and_tracker(fake_clock, mock_factory):
    """An AlertManager (on mock pins) and a StateTracker wired as the daemon wires them: every event either
    returns is folded into the state."""
    clock = fake_clock
    settings = AlertSettings(cancel_window_s=30.0)
    gpio = build_gpio(settings.gpio, pin_factory=mock_factory, clock=clock)
    alerts = AlertManager(gpio, clock, settings)
    t, sink = tracker()

    def record(events):
        for event in events:
            t.on_event(event)

    def happen(kind):
        now = clock.monotonic()
        record(alerts.handle(Event(kind, t_onset_s=now, t_detect_s=now, wall_time=T0 + now)))

    def run(seconds):
        for _ in range(int(round(seconds / 0.05))):
            clock.advance(0.05)
            record(alerts.tick())

    yield alerts, sink, happen, run, record
    alerts.close()
    gpio.close()


def test_getting_up_after_a_fall_without_the_button_keeps_the_alarm_state_until_help_is_called(alerts_and_tracker):
    alerts, sink, happen, run, record = alerts_and_tracker
    happen(FALL)
    run(5.0)
    happen(RECOVERED)  # up and walking, nobody pressed "I'm OK"
    assert alerts.state()["cancel_in_s"] is not None  # help_needed will still come ...
    assert (sink.last["state"], sink.last["fall"]) == ("alarm", True)  # ... so the carer is not told "ok"
    run(26.0)
    assert sink.last["state"] == "help_needed" and sink.last["last_event"]["type"] == HELP_NEEDED
    states = [p["state"] for p in sink.sent]
    assert "ok" not in states[states.index("alarm"):]  # never ok -> help_needed for the same fall


def test_recovered_from_a_loss_of_balance_is_ok_for_the_carer_and_nothing_follows(alerts_and_tracker):
    alerts, sink, happen, run, record = alerts_and_tracker
    happen(LOSS_OF_BALANCE)
    run(0.5)
    happen(RECOVERED)
    assert sink.last["state"] == "ok" and not alerts.state()["fall_open"] and not alerts.alarm.is_on
    run(60.0)
    assert sink.last["state"] == "ok"


def test_a_cancel_after_getting_up_closes_the_fall_for_the_carer_and_the_window_alike(alerts_and_tracker):
    alerts, sink, happen, run, record = alerts_and_tracker
    happen(FALL)
    run(3.0)
    happen(RECOVERED)
    record(alerts.cancel("button"))
    assert sink.last["state"] == "ok" and not alerts.state()["fall_open"]
    run(60.0)
    assert sink.last["state"] == "ok"  # no help_needed came
