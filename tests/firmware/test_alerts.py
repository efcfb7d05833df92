"""What the wearer hears and what the carer is told, on gpiozero MockFactory pins and virtual time.

MockPin timestamps use real time, so timings are taken from the virtual clock: ``Timeline`` samples the buzzer
pin after every call the test drives and records (virtual seconds since the start, state) on each change; the
pin's own recorded ``states`` must show the same sequence of values.
"""
from __future__ import annotations

from typing import List, Tuple

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmware_py.alerting.alerts import AlertManager, AlertSettings, PatternSettings
from firmware_py.events import (CANCELLED, FALL, HELP_NEEDED, LOSS_OF_BALANCE, RECOVERED, SOS, STUMBLE,
                                Event)
from hal.gpio import GpioSettings, build_gpio

TICK_S = 0.05


class Timeline:
    """(virtual s since start, buzzer state) at each change, sampled after every handle/tick."""

    def __init__(self, pin, clock) -> None:
        self.pin, self.clock = pin, clock
        self.t0 = clock.monotonic()
        self.changes: List[Tuple[float, bool]] = [(0.0, bool(pin.state))]

    def sample(self) -> None:
        state = bool(self.pin.state)
        if state != self.changes[-1][1]:
            self.changes.append((round(self.clock.monotonic() - self.t0, 3), state))

    @property
    def rising_edges(self) -> int:
        return sum(1 for _, state in self.changes[1:] if state)

    def on_durations_s(self) -> List[float]:
        return [round(t_off - t_on, 3) for (t_on, s_on), (t_off, _) in zip(self.changes, self.changes[1:]) if s_on]

    def matches_pin_record(self) -> bool:
        return [bool(s.state) for s in self.pin.states] == [state for _, state in self.changes]


class Rig:
    """Gpio on mock pins + AlertManager on the fake clock + a timeline of the buzzer pin."""

    def __init__(self, factory, clock, settings: AlertSettings = AlertSettings()) -> None:
        self.factory, self.clock, self.settings = factory, clock, settings
        self.gpio = build_gpio(settings.gpio, pin_factory=factory, clock=clock)
        self.alerts = AlertManager(self.gpio, clock, settings)
        self.buzzer_pin = factory.pin(settings.buzzer_pin)
        self.button_pin = factory.pin(settings.button_pin)
        self.timeline = Timeline(self.buzzer_pin, clock)

    def handle(self, event_type: str, **features) -> List[Event]:
        now = self.clock.monotonic()
        out = self.alerts.handle(Event(event_type, t_onset_s=now - 0.2, t_detect_s=now, features=features))
        self.timeline.sample()
        return out

    def run(self, seconds: float) -> List[Event]:
        raised: List[Event] = []
        for _ in range(int(round(seconds / TICK_S))):
            self.clock.advance(TICK_S)
            raised += self.alerts.tick()
            self.timeline.sample()
        return raised

    def tick(self) -> List[Event]:
        raised = self.alerts.tick()
        self.timeline.sample()
        return raised

    def press(self) -> List[Event]:
        self.button_pin.drive_low()  # the callback runs right here (MockFactory is synchronous)
        return self.tick()

    def release(self) -> List[Event]:
        self.button_pin.drive_high()
        return self.tick()

    @property
    def buzzer_is_on(self) -> bool:
        return bool(self.buzzer_pin.state)

    def close(self) -> None:
        self.alerts.close()
        self.gpio.close()


@pytest.fixture
def rig(mock_factory, fake_clock):
    r = Rig(mock_factory, fake_clock)
    yield r
    r.close()


def types(events: List[Event]) -> List[str]:
    return [e.type for e in events]


# ---- what each event sounds like -----------------------------------------------------------------------------
def test_stumble_is_one_short_chirp_when_handled(rig):
    assert types(rig.handle(STUMBLE)) == [STUMBLE]
    assert rig.buzzer_is_on  # inside handle(), before any tick
    rig.run(5.0)
    assert rig.timeline.changes == [(0.0, False), (0.0, True), (0.15, False)]
    assert rig.timeline.matches_pin_record()


def test_loss_of_balance_beeps_fast_at_once_when_handled(rig):
    rig.handle(LOSS_OF_BALANCE)
    assert rig.buzzer_is_on
    rig.run(5.0)
    changes = rig.timeline.changes
    assert changes[1] == (0.0, True)
    assert rig.timeline.rising_edges == 15  # 5 beeps a second for 3 s
    assert set(rig.timeline.on_durations_s()) == {0.1}
    assert changes[-1] == (2.9, False) and not rig.buzzer_is_on
    assert rig.timeline.matches_pin_record()


def test_fall_alarm_is_continuous_when_nobody_cancels(rig):
    rig.handle(FALL)
    rig.run(29.9)
    assert rig.timeline.changes == [(0.0, False), (0.0, True)]
    assert rig.buzzer_is_on


def test_help_needed_pattern_is_three_beeps_and_a_pause_when_raised(rig):
    rig.handle(HELP_NEEDED)
    rig.run(3.2)
    # 3 beeps of 0.2 s with 0.1 s gaps, 1 s pause, again: unlike the steady fall tone or 5 Hz beeping
    assert rig.timeline.changes == [(0.0, False), (0.0, True), (0.2, False), (0.3, True), (0.5, False),
                                    (0.6, True), (0.8, False), (1.8, True), (2.0, False), (2.1, True),
                                    (2.3, False), (2.4, True), (2.6, False)]
    assert rig.timeline.matches_pin_record()


def test_recovered_stops_the_loss_of_balance_beeping_when_the_wearer_catches_themselves(rig):
    rig.handle(LOSS_OF_BALANCE)
    rig.run(0.5)
    assert types(rig.handle(RECOVERED)) == [RECOVERED]
    assert not rig.buzzer_is_on
    rig.run(3.0)
    assert rig.timeline.rising_edges == 3


# ---- the button ---------------------------------------------------------------------------------------------
def test_button_silences_a_fall_alarm_within_one_tick_when_pressed(rig):
    fall = rig.handle(FALL)[0]
    rig.run(5.0)
    assert rig.press() == []
    assert not rig.buzzer_is_on
    cancelled = rig.release()
    assert types(cancelled) == [CANCELLED]
    assert cancelled[0].features["cancelled_type"] == FALL
    assert cancelled[0].features["cancelled_id"] == fall.id
    assert cancelled[0].features["source"] == "button"
    assert rig.run(60.0) == []  # cancelled: no escalation
    assert not rig.buzzer_is_on
    assert rig.timeline.changes == [(0.0, False), (0.0, True), (5.0, False)]


def test_fall_escalates_to_exactly_one_help_needed_when_not_cancelled_in_30_s(rig):
    fall = rig.handle(FALL)[0]
    assert rig.run(29.95) == []
    raised = rig.run(0.05)
    assert types(raised) == [HELP_NEEDED]
    assert raised[0].features["fall_id"] == fall.id
    assert raised[0].t_detect_s == pytest.approx(rig.clock.monotonic())
    assert rig.run(60.0) == []
    # the detector's stillness check reporting the same fall later is not a second help_needed
    assert rig.handle(HELP_NEEDED) == []
    assert rig.alerts.state()["alarm"] == HELP_NEEDED


def test_window_does_not_raise_a_second_help_needed_when_the_detector_raised_it_first(rig):
    rig.handle(FALL)
    rig.run(12.0)
    assert types(rig.handle(HELP_NEEDED)) == [HELP_NEEDED]
    assert rig.run(60.0) == []


def test_detector_help_needed_is_dropped_when_help_was_raised_and_then_cancelled(rig):
    rig.handle(FALL)
    assert types(rig.run(30.0)) == [HELP_NEEDED]
    rig.press()
    assert types(rig.release()) == [CANCELLED]
    assert rig.handle(HELP_NEEDED) == []


def test_long_press_raises_sos_while_still_held_when_held_for_long_press_s(rig):
    rig.press()
    assert rig.run(2.95) == []
    raised = rig.run(0.05)
    assert types(raised) == [SOS]
    assert raised[0].features["held_s"] == pytest.approx(3.0)
    assert rig.buzzer_is_on  # Morse SOS starts at once
    assert rig.release() == []  # a long press is not also a cancel
    rig.run(5.0)
    durations = rig.timeline.on_durations_s()
    assert durations[:9] == [0.15, 0.15, 0.15, 0.45, 0.45, 0.45, 0.15, 0.15, 0.15]


def test_long_press_during_a_fall_alarm_is_sos_not_cancelled_when_held(rig):
    rig.handle(FALL)
    rig.run(2.0)
    rig.press()
    assert not rig.buzzer_is_on
    raised = rig.run(3.0)
    assert types(raised) == [SOS]
    assert rig.release() == []
    assert rig.buzzer_is_on


def test_short_press_raises_nothing_when_no_alarm_is_sounding(rig):
    rig.press()
    rig.run(0.3)
    assert rig.release() == []
    assert rig.timeline.rising_edges == 0


def test_mqtt_cancel_stops_the_alarm_and_the_window_when_a_fall_sounds(rig):
    rig.handle(FALL)
    rig.run(1.0)
    cancelled = rig.alerts.cancel("mqtt")
    assert types(cancelled) == [CANCELLED] and cancelled[0].features["source"] == "mqtt"
    rig.timeline.sample()
    assert not rig.buzzer_is_on
    assert rig.run(40.0) == []
    assert rig.alerts.cancel("mqtt") == []


def test_fall_is_cancelled_once_when_mqtt_cancels_while_the_button_is_held(rig):
    rig.handle(FALL)
    rig.press()
    assert types(rig.alerts.cancel("mqtt")) == [CANCELLED]
    assert rig.release() == []


# ---- priorities, storms, mute --------------------------------------------------------------------------------
def test_fall_alarm_is_not_swallowed_when_a_stumble_chirp_is_playing(rig):
    rig.handle(STUMBLE)
    rig.run(0.05)
    assert types(rig.handle(FALL)) == [FALL]
    rig.run(10.0)
    assert rig.buzzer_is_on
    assert rig.timeline.changes == [(0.0, False), (0.0, True)]  # the chirp's end never cut the fall tone


def test_stumble_does_not_interrupt_a_fall_alarm_when_it_arrives_later(rig):
    rig.handle(FALL)
    rig.run(1.0)
    assert types(rig.handle(STUMBLE)) == [STUMBLE]
    rig.run(1.0)
    assert rig.timeline.changes == [(0.0, False), (0.0, True)]
    assert rig.alerts.state()["alarm"] == FALL


def test_loss_of_balance_then_fall_switches_to_the_continuous_alarm_when_the_fall_follows(rig):
    rig.handle(LOSS_OF_BALANCE)
    rig.run(0.65)
    rig.handle(FALL)
    assert rig.buzzer_is_on
    rig.run(5.0)
    assert rig.buzzer_is_on
    assert [change for change in rig.timeline.changes if change[0] >= 0.65] == []  # no gap from then on


def test_event_storm_does_not_buzz_endlessly_when_100_stumbles_arrive_in_10_s(rig):
    returned = []
    for _ in range(100):
        returned += rig.handle(STUMBLE)
        rig.run(0.1)
    assert len(returned) == 100  # the carer still gets every one
    assert rig.timeline.rising_edges <= 4  # cooldown 3 s: chirps at 0, 3, 6, 9 s at most
    rig.run(10.0)
    assert not rig.buzzer_is_on
    assert rig.alerts.state()["suppressed_alarms"] >= 96


def test_rate_limit_caps_stumble_chirps_when_they_keep_coming_all_minute(rig):
    for _ in range(60):
        rig.handle(STUMBLE)
        rig.run(1.0)
    assert rig.timeline.rising_edges == 6  # rate_limit_alarms per 60 s


def test_mute_silences_stumbles_but_not_falls_when_muted_by_default(rig):
    rig.alerts.mute(10)
    assert types(rig.handle(STUMBLE)) == [STUMBLE]
    rig.run(5.0)
    assert rig.timeline.rising_edges == 0
    rig.handle(FALL)
    assert rig.buzzer_is_on


def test_mute_silences_falls_but_still_escalates_when_mute_falls_is_set(mock_factory, fake_clock):
    rig = Rig(mock_factory, fake_clock, AlertSettings(mute_falls=True))
    try:
        rig.alerts.mute(10)
        rig.handle(FALL)
        assert not rig.buzzer_is_on
        assert types(rig.run(30.0)) == [HELP_NEEDED]
        assert rig.timeline.rising_edges == 0
    finally:
        rig.close()


def test_mute_ends_when_its_minutes_are_over(rig):
    rig.alerts.mute(1)
    rig.run(60.0)
    rig.handle(STUMBLE)
    assert rig.buzzer_is_on


@pytest.mark.parametrize("minutes", [-1, 0, 121, "ten"])
def test_mute_is_refused_with_the_allowed_range_when_minutes_are_out_of_range(rig, minutes):
    with pytest.raises(ValueError, match=r"mute minutes = .* use 1 to 120"):
        rig.alerts.mute(minutes)


def test_test_alarm_plays_two_beeps_and_yields_to_a_real_fall_when_one_happens(rig):
    assert rig.alerts.test_alarm()
    rig.timeline.sample()
    rig.run(2.0)
    assert rig.timeline.on_durations_s() == [0.5, 0.5]
    rig.alerts.test_alarm()
    rig.run(0.2)
    rig.handle(FALL)
    rig.run(2.0)
    assert rig.buzzer_is_on and rig.alerts.state()["alarm"] == FALL


def test_status_led_is_lit_while_a_fall_is_open_when_an_led_is_configured(mock_factory, fake_clock):
    rig = Rig(mock_factory, fake_clock, AlertSettings(led_pin=22))
    try:
        led = mock_factory.pin(22)
        rig.handle(FALL)
        assert led.state
        rig.press()
        rig.release()
        assert not led.state
    finally:
        rig.close()


def test_close_turns_the_buzzer_off_when_an_alarm_sounds(rig):
    rig.handle(FALL)
    rig.alerts.close()
    rig.alerts.close()
    assert not rig.buzzer_is_on
    assert types(rig.handle(FALL)) == [FALL]  # still recorded, silently
    assert not rig.buzzer_is_on


def test_every_fall_turns_the_buzzer_on_inside_handle_when_falls_follow_cancels(rig):
    # what bench/mqtt.py times (event -> buzzer pin high): the first edge is set before handle returns
    for _ in range(20):
        now = rig.clock.monotonic()
        rig.alerts.handle(Event(FALL, t_onset_s=now, t_detect_s=now))
        assert rig.buzzer_is_on
        rig.alerts.cancel("test")
        assert not rig.buzzer_is_on


# ---- settings ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("changes, message", [
    # the wiring is checked by hal.gpio_settings (tests/hal/test_gpio.py); its messages reach [alerts] as they are
    ({"button_pin": 17}, r"button_pin = 17 is already buzzer_pin; each device needs its own pin"),
    ({"cancel_window_s": 0}, r"cancel_window_s = 0 is not allowed; use 1 to 600"),
    ({"help_dedupe_s": 10.0}, r"help_dedupe_s = 10.0 is not allowed; use cancel_window_s \(30\) to 3600"),
    ({"long_press_s": 0.1}, r"long_press_s = 0.1 is not allowed; use 0.5 to 30"),
    ({"rate_limit_alarms": 0}, r"rate_limit_alarms = 0 is not allowed; use a count >= 1"),
    ({"stumble": PatternSettings(((0.2, 0.0),), 0)}, r"stumble.repeat = 0 would buzz until cancelled"),
])
def test_settings_name_the_field_and_what_is_allowed_when_a_value_is_wrong(changes, message):
    with pytest.raises(ValueError, match=message):
        AlertSettings(**changes)


def test_the_wiring_keys_reach_hal_gpio_as_they_are_when_alert_settings_are_made():
    settings = AlertSettings(buzzer_pin=5, button_pin=6, led_pin=22, buzzer_kind="passive", tone_hz=3000.0,
                             button_bounce_s=0.05)
    assert settings.gpio == GpioSettings(buzzer_pin=5, button_pin=6, led_pin=22, buzzer_kind="passive",
                                         tone_hz=3000.0, button_bounce_s=0.05)
    assert AlertSettings().gpio == GpioSettings()


@pytest.mark.parametrize("steps, repeat, message", [
    ([[0.01, 0.1]], 1, r"steps_s\[0\] on_s = 0.01 is not allowed; use at least 0.05 s"),
    ([[0.2, 0.02]], 1, r"steps_s\[0\] off_s = 0.02 is not allowed"),
    ([], 1, r"steps_s = \[\] is empty"),
    ([[0.2, 0.1]], -1, r"repeat = -1 is not allowed"),
    (["beep"], 1, r"steps_s = \['beep'\] is not a list of \[on_s, off_s\] pairs"),
])
def test_pattern_names_the_bad_step_when_a_pattern_is_wrong(steps, repeat, message):
    with pytest.raises(ValueError, match=message):
        PatternSettings(steps, repeat)


def test_pattern_keeps_the_event_default_for_a_key_left_out_when_partly_configured():
    settings = AlertSettings(sos={"repeat": 2}, fall=PatternSettings(steps_s=[[0.8, 0.2]]))
    assert settings.sos.steps_s == AlertSettings().sos.steps_s and settings.sos.repeat == 2
    assert settings.fall == PatternSettings(((0.8, 0.2),), 0)  # still until cancelled
    with pytest.raises(ValueError, match=r"loss_of_balance.repeat = 0 would buzz until cancelled"):
        AlertSettings(loss_of_balance={"repeat": 0})


def test_patterns_from_toml_lists_become_the_same_settings_when_loaded():
    from_toml = AlertSettings(fall={"steps_s": [[1.0, 0.0]], "repeat": 0})
    assert from_toml == AlertSettings()
    assert PatternSettings([[0.2, 0.1]], 2).steps_s == ((0.2, 0.1),)


# ---- any sequence ----------------------------------------------------------------------------------------------
OPS = st.one_of(
    st.sampled_from([STUMBLE, LOSS_OF_BALANCE, FALL, HELP_NEEDED, RECOVERED, "press", "release", "cancel",
                     "mute", "test"]),
    st.floats(min_value=0.05, max_value=4.0),  # let time pass, ticking every 50 ms
)
#: short windows, so that a few seconds of virtual time reach escalation, long presses and cooldowns
QUICK = AlertSettings(cancel_window_s=2.0, help_dedupe_s=5.0, long_press_s=1.0, cooldown_s=0.5,
                      rate_limit_alarms=3, rate_limit_window_s=5.0)


@settings(max_examples=200, deadline=None)
@given(st.lists(OPS, max_size=40))
def test_invariants_hold_when_events_presses_and_time_come_in_any_order(ops):
    from gpiozero.pins.mock import MockFactory

    from hal.clock import FakeClock

    factory, clock = MockFactory(), FakeClock()
    rig = Rig(factory, clock, QUICK)
    escalated_falls: List[str] = []
    try:
        for op in ops:
            if isinstance(op, float):
                raised = rig.run(op)
            elif op == "press":
                raised = rig.press() if rig.button_pin.state else []
            elif op == "release":
                raised = rig.release() if not rig.button_pin.state else []
            elif op == "cancel":
                raised = rig.alerts.cancel("mqtt")
            elif op == "mute":
                rig.alerts.mute(1)
                raised = []
            elif op == "test":
                rig.alerts.test_alarm()
                raised = []
            else:
                out = rig.handle(op)
                assert types(out) == [op] or (op == HELP_NEEDED and out == [])  # [] only for a duplicate
                if op == FALL:  # never silent, whatever was sounding before (falls are not muted)
                    assert rig.alerts.state()["alarm"] in (FALL, HELP_NEEDED, SOS)
                raised = []
            escalated_falls += [e.features["fall_id"] for e in raised if e.type == HELP_NEEDED]
            assert set(types(raised)) <= {CANCELLED, HELP_NEEDED, SOS}
            if rig.alerts.state()["alarm"] is None:
                assert not rig.buzzer_is_on  # no sound without an alarm behind it
        assert len(escalated_falls) == len(set(escalated_falls))  # one help_needed per fall
        rig.alerts.close()
        assert not rig.buzzer_is_on
    finally:
        rig.close()
        factory.close()


# ---- every fall its own window (issue 10) ----------------------------------------------------------------------

def test_a_second_fall_gets_its_own_cancel_window_and_help_when_it_follows_an_escalated_fall(rig):
    first = rig.handle(FALL)[0]
    assert [e.features["fall_id"] for e in rig.run(30.0)] == [first.id]
    rig.handle(RECOVERED)  # up again, the help alarm still sounding (nobody pressed)
    rig.run(40.0)
    second = rig.handle(FALL)[0]  # 70 s after the first: inside help_dedupe_s (120 s)
    assert rig.alerts.state()["cancel_in_s"] == pytest.approx(30.0)
    assert rig.run(29.9) == []
    raised = rig.run(0.15)
    assert types(raised) == [HELP_NEEDED] and raised[0].features["fall_id"] == second.id
    assert rig.alerts.state()["alarm"] == HELP_NEEDED


def test_a_second_fall_inside_the_first_ones_window_escalates_each_fall_once(rig):
    first = rig.handle(FALL)[0]
    rig.run(10.0)
    second = rig.handle(FALL)[0]
    first_help = rig.run(20.0)
    assert [e.features["fall_id"] for e in first_help] == [first.id]  # the first fall's window is not reset
    assert [e.features["fall_id"] for e in rig.run(10.0)] == [second.id]
    assert rig.run(60.0) == []


def test_the_detectors_help_for_a_second_fall_is_not_dropped_when_the_first_fall_escalated(rig):
    rig.handle(FALL)
    rig.run(30.0)
    rig.run(40.0)
    rig.handle(FALL)
    rig.run(5.0)
    assert types(rig.handle(HELP_NEEDED, still_s=30.0)) == [HELP_NEEDED]
    assert rig.run(60.0) == []  # and the window does not raise a second one for that fall


def test_one_cancel_cancels_every_open_fall_when_two_are_pending(rig):
    first = rig.handle(FALL)[0]
    rig.run(5.0)
    second = rig.handle(FALL)[0]
    [cancelled] = rig.alerts.cancel("mqtt")
    assert cancelled.features["cancelled_id"] == first.id  # the alarm that was sounding
    assert set(cancelled.features["cancelled_ids"]) == {first.id, second.id}
    assert rig.run(60.0) == []


def test_a_remote_cancel_stops_help_needed_and_names_it_when_help_sounds(rig):
    # decided in issue 10 (docs/mqtt.md): the carer at the wearer's side can stop the help alarm remotely
    rig.handle(FALL)
    [help_needed] = rig.run(30.0)
    [cancelled] = rig.alerts.cancel("mqtt")
    assert cancelled.features == {"source": "mqtt", "cancelled_type": HELP_NEEDED, "cancelled_id": help_needed.id}
    assert not rig.buzzer_is_on and rig.run(60.0) == []
