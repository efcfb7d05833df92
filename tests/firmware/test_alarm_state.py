"""Alarms survive a restart: a fall's cancel window, help_needed and SOS are saved atomically and taken up again
with their original ids, the window measured on wall time across the downtime (monotonic clocks restart)."""
from __future__ import annotations

import json

import pytest

from firmware_py.alerting.alerts import AlertSettings
from firmware_py.daemon.alarm_state import AlarmStateFile
from firmware_py.events import CANCELLED, FALL, HELP_NEEDED, SOS
from hal.clock import FakeClock
from tests.firmware.test_alerts import Rig


class Wall:
    def __init__(self, now: float = 1.7e9) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Run:
    """One daemon run's alert manager and state file, on its own monotonic clock; the wall clock is shared."""

    def __init__(self, state_dir, wall: Wall, mono_start_s: float) -> None:
        from gpiozero.pins.mock import MockFactory

        self.factory = MockFactory()
        self.clock = FakeClock(mono_start_s)
        self.wall = wall
        self.rig = Rig(self.factory, self.clock, AlertSettings(cancel_window_s=30.0))
        self.file = AlarmStateFile(state_dir, self.clock, wall)

    def resume(self):
        return self.rig.alerts.resume(self.file.load())

    def run(self, seconds: float):
        raised = []
        for _ in range(int(round(seconds / 0.05))):
            self.clock.advance(0.05)
            self.wall.now += 0.05
            raised += self.rig.alerts.tick()
            self.file.save_if_changed(self.rig.alerts.pending_alarms())
        return raised

    def handle(self, kind: str):
        out = self.rig.handle(kind)
        self.file.save_if_changed(self.rig.alerts.pending_alarms())
        return out

    def kill(self) -> None:  # what SIGKILL leaves: the file as last saved, nothing else
        self.rig.close()
        self.factory.close()


@pytest.fixture
def wall():
    return Wall()


def test_a_restart_in_the_cancel_window_keeps_the_fall_and_its_deadline_on_wall_time(state_dir, wall):
    first = Run(state_dir, wall, mono_start_s=5000.0)
    fall = first.handle(FALL)[0]
    first.run(20.0)  # 10 s of the window left
    first.kill()
    wall.now += 4.0  # 4 s down; the new process's monotonic clock starts somewhere else entirely
    second = Run(state_dir, wall, mono_start_s=12.0)
    resumed = second.resume()
    assert [e.id for e in resumed] == [fall.id]
    assert second.rig.buzzer_is_on and second.rig.alerts.state()["alarm"] == FALL
    assert second.rig.alerts.state()["cancel_in_s"] == pytest.approx(6.0, abs=0.1)
    assert second.run(5.9) == []
    [help_needed] = second.run(0.2)
    assert help_needed.type == HELP_NEEDED and help_needed.features["fall_id"] == fall.id
    second.kill()


def test_a_window_that_ran_out_while_the_daemon_was_down_escalates_at_once(state_dir, wall):
    first = Run(state_dir, wall, mono_start_s=100.0)
    fall = first.handle(FALL)[0]
    first.run(10.0)
    first.kill()
    wall.now += 60.0
    second = Run(state_dir, wall, mono_start_s=3.0)
    second.resume()
    [help_needed] = second.run(0.05)
    assert help_needed.features["fall_id"] == fall.id
    second.kill()


def test_alarms_saved_long_before_a_start_are_stale_and_stay_silent(state_dir, wall):
    # a device that died mid-alarm and is switched on again the next day must not sound that fall
    first = Run(state_dir, wall, mono_start_s=100.0)
    first.handle(FALL)
    first.run(10.0)
    first.kill()
    wall.now += 24 * 3600.0
    second = Run(state_dir, wall, mono_start_s=3.0)
    assert second.resume() == []
    assert not second.rig.buzzer_is_on and second.rig.alerts.state()["alarm"] is None
    assert second.run(60.0) == []
    second.kill()


def test_a_sounding_help_needed_sounds_again_with_its_id_and_is_not_raised_twice(state_dir, wall):
    first = Run(state_dir, wall, mono_start_s=100.0)
    fall = first.handle(FALL)[0]
    [help_needed] = first.run(30.05)
    first.kill()
    wall.now += 2.0
    second = Run(state_dir, wall, mono_start_s=7.0)
    resumed = second.resume()
    assert [e.id for e in resumed] == [fall.id, help_needed.id]
    assert second.rig.alerts.state()["alarm"] == HELP_NEEDED and second.rig.buzzer_is_on
    assert second.run(60.0) == []  # not a second help_needed for that fall
    assert second.rig.handle(HELP_NEEDED) == []  # nor from the detector
    second.rig.press()
    [cancelled] = second.rig.release()
    assert cancelled.type == CANCELLED and cancelled.features["cancelled_id"] == help_needed.id
    second.file.save_if_changed(second.rig.alerts.pending_alarms())
    assert not (state_dir / "alarms.json").exists()  # nothing left to resume
    second.kill()


def test_an_sos_sounds_again_after_a_restart(state_dir, wall):
    first = Run(state_dir, wall, mono_start_s=100.0)
    first.rig.press()
    [sos] = first.run(3.0)
    first.rig.release()
    first.run(1.0)
    assert first.rig.alerts.state()["alarm"] == SOS
    first.kill()
    second = Run(state_dir, wall, mono_start_s=1.0)
    assert [e.id for e in second.resume()] == [sos.id]
    assert second.rig.alerts.state()["alarm"] == SOS and second.rig.buzzer_is_on
    second.kill()


def test_the_saved_events_carry_wall_time_even_when_the_alert_manager_raised_them(state_dir, wall):
    first = Run(state_dir, wall, mono_start_s=100.0)
    first.handle(FALL)
    first.run(30.05)
    saved = json.loads((state_dir / "alarms.json").read_text())
    help_event = saved["pending"]["incidents"][0]["help"]
    assert help_event["time"] is not None and help_event["type"] == HELP_NEEDED
    first.kill()


def test_a_wall_clock_behind_the_save_restarts_the_window_from_the_fall(state_dir, wall):
    first = Run(state_dir, wall, mono_start_s=100.0)
    first.handle(FALL)
    first.run(20.0)
    first.kill()
    wall.now -= 3600.0  # a Pi without a real-time clock, before NTP
    second = Run(state_dir, wall, mono_start_s=1.0)
    second.resume()
    # the file was last written at the fall: with no trustworthy clock, the window runs again from there
    assert second.rig.alerts.state()["cancel_in_s"] == pytest.approx(30.0, abs=0.1)
    second.kill()


def test_an_unreadable_file_is_ignored_and_an_unwritable_one_never_raises(state_dir, wall, caplog):
    (state_dir / "alarms.json").write_text("{not json")
    run = Run(state_dir, wall, mono_start_s=1.0)
    assert run.file.load() == {}
    assert "not a pending-alarm file" in caplog.text
    (state_dir / "alarms.json").unlink()
    (state_dir / "alarms.json").mkdir()  # the rename cannot replace a directory: the write fails
    run.handle(FALL)
    run.run(1.0)
    assert "kept in memory only" in caplog.text and caplog.text.count("cannot save the pending alarms") == 1
    assert run.rig.alerts.state()["alarm"] == FALL
    run.kill()


def test_whatever_happened_a_resumed_manager_sounds_and_escalates_as_the_first_would(state_dir, wall):
    # a few orders of events, presses and time; the restarted manager (same clock, no downtime) must hold
    # the same alarm and raise the same help_needed for the same falls
    from firmware_py.events import LOSS_OF_BALANCE, STUMBLE

    scripts = [
        [FALL, 1.0, FALL, 0.5],
        [FALL, 31.0],
        [FALL, 31.0, "press", "release", 10.0, FALL],
        [LOSS_OF_BALANCE, FALL, 5.0, STUMBLE],
        ["press", 3.1, "release", FALL, 1.0],
    ]
    for script in scripts:
        first = Run(state_dir, wall, mono_start_s=50.0)
        for op in script:
            if isinstance(op, float):
                first.run(op)
            elif op == "press":
                first.rig.press()
            elif op == "release":
                first.rig.release()
            else:
                first.handle(op)
        second = Run(state_dir, wall, mono_start_s=50.0)
        second.clock.advance(first.clock.monotonic() - 50.0)
        second.resume()
        before, after = first.rig.alerts.state(), second.rig.alerts.state()
        assert after["alarm"] == before["alarm"] and after["cancel_in_s"] == before["cancel_in_s"], script
        helps_first = [e.features["fall_id"] for e in first.run(40.0) if e.type == HELP_NEEDED]
        helps_second = [e.features["fall_id"] for e in second.run(40.0) if e.type == HELP_NEEDED]
        assert helps_second == helps_first, script
        first.kill()
        second.kill()
        (state_dir / "alarms.json").unlink(missing_ok=True)
