"""The loop wakes only when there is work (``firmware_py.daemon.wakeup``), on virtual time: one FIFO read per
detection frame while the wearer moves, fewer at rest, never a FIFO more than half full, and buzzer edges on
time. The loop is driven as ``run()`` drives it: step, then sleep until ``next_wake_s()``."""
from __future__ import annotations

import math

import pytest

from firmware_py.config import Config, PathsSettings
from firmware_py.daemon.settings import DaemonSettings, EmulatorSettings
from firmware_py.daemon.wiring import build_daemon
from firmware_py.events import LOSS_OF_BALANCE, Event
from firmware_py.transport.mqtt import MqttSettings
from hal.mpu6050 import SensorSettings


def make_daemon(daemons, state_dir, clock, pins, scenario, rate_hz=200, **daemon):
    config = Config(sensor=SensorSettings(sample_rate_hz=rate_hz),
                    daemon=DaemonSettings(driver="emulated", telemetry_interval_s=0,
                                          emulator=EmulatorSettings(scenario=scenario), **daemon),
                    paths=PathsSettings(state_dir=str(state_dir)), mqtt=MqttSettings(device_id="test"))
    daemon = build_daemon(config, clock, pin_factory=pins, with_broker=False, environ={})
    daemons.append(daemon)
    daemon.start()
    return daemon


def run_as_run_does(daemon, clock, seconds):
    """``Daemon.run()``'s loop on virtual time; returns the wake times."""
    wakes = []
    end_s = clock.monotonic() + seconds
    while clock.monotonic() < end_s:
        daemon.step()
        wake_s = daemon.next_wake_s()
        assert wake_s > clock.monotonic(), "the loop would spin: the next wake is not in the future"
        clock.advance(max(0.0, wake_s - clock.monotonic()))
        wakes.append(clock.monotonic())
    return wakes


def test_one_read_per_frame_and_events_wait_only_milliseconds_when_the_wearer_walks(
        daemons, state_dir, fake_clock, mock_factory):
    daemon = make_daemon(daemons, state_dir, fake_clock, mock_factory, "backward_walk")
    run_as_run_does(daemon, fake_clock, 5.0)
    reads_before = daemon.wakeup.reads
    run_as_run_does(daemon, fake_clock, 20.0)
    reads_per_s = (daemon.wakeup.reads - reads_before) / 20.0
    assert 19 <= reads_per_s <= 21  # one per 50 ms frame, not more
    timing = daemon.timing.summary()
    assert timing["frames_timed"] > 450
    # every frame's last sample (the one that could complete an event) is read within a sample period
    # and the margin, not up to a whole poll interval later
    assert timing["sample_to_event_p99_ms"] <= 10.0
    assert daemon.counters.lost_total == 0
    assert not daemon.wakeup.is_resting


def test_reads_slow_down_without_losing_samples_and_come_back_at_once_when_the_wearer_rests_then_moves(
        daemons, state_dir, fake_clock, mock_factory):
    daemon = make_daemon(daemons, state_dir, fake_clock, mock_factory, "still")
    run_as_run_does(daemon, fake_clock, 5.0)
    assert daemon.wakeup.is_resting
    reads_before = daemon.wakeup.reads
    run_as_run_does(daemon, fake_clock, 20.0)
    assert (daemon.wakeup.reads - reads_before) / 20.0 <= 6  # ~every 0.2 s instead of every 50 ms
    assert daemon.counters.lost_total == 0


def test_resting_reads_can_be_turned_off(daemons, state_dir, fake_clock, mock_factory):
    daemon = make_daemon(daemons, state_dir, fake_clock, mock_factory, "still", resting_poll_s=0)
    run_as_run_does(daemon, fake_clock, 5.0)
    assert not daemon.wakeup.is_resting
    reads_before = daemon.wakeup.reads
    run_as_run_does(daemon, fake_clock, 5.0)
    assert (daemon.wakeup.reads - reads_before) / 5.0 >= 19


def test_the_fifo_is_never_left_more_than_half_full_when_the_chip_samples_at_1khz(
        daemons, state_dir, fake_clock, mock_factory):
    daemon = make_daemon(daemons, state_dir, fake_clock, mock_factory, "still", rate_hz=1000)
    wakes = run_as_run_does(daemon, fake_clock, 10.0)
    gaps = [b - a for a, b in zip(wakes, wakes[1:])]
    assert max(gaps) <= daemon.wakeup.fifo_safe_s + 0.002  # 42 samples of 85: 42 ms at 1 kHz
    assert daemon.counters.lost_total == 0


def test_the_loop_wakes_at_each_buzzer_edge_when_a_pattern_plays(daemons, state_dir, fake_clock, mock_factory):
    daemon = make_daemon(daemons, state_dir, fake_clock, mock_factory, "still")
    run_as_run_does(daemon, fake_clock, 5.0)  # resting: reads every ~0.2 s
    now = fake_clock.monotonic()
    daemon.alerts.handle(Event(LOSS_OF_BALANCE, t_onset_s=now, t_detect_s=now))  # 0.1 s on, 0.1 s off
    edges = []
    is_on = daemon.alerts.alarm.is_on
    for _ in range(200):
        daemon.step()
        if daemon.alerts.alarm.is_on != is_on:
            is_on = daemon.alerts.alarm.is_on
            edges.append(round(fake_clock.monotonic() - now, 4))
        fake_clock.advance(max(0.0, daemon.next_wake_s() - fake_clock.monotonic()))
        if fake_clock.monotonic() - now > 3.5:
            break
    # every edge exactly on the pattern's 0.1 s grid, not on a read's schedule
    assert len(edges) == 29  # 15 beeps: off at 0.1, on at 0.2, ..., the last off at 2.9
    assert all(math.isclose(t, 0.1 * (i + 1), abs_tol=1e-6) for i, t in enumerate(edges))


def test_resting_poll_outside_its_range_is_refused_with_the_allowed_values():
    with pytest.raises(ValueError, match="resting_poll_s = 2.0 is not allowed; use 0 \\(off\\)"):
        DaemonSettings(resting_poll_s=2.0)


@pytest.mark.parametrize("direction", ["backward", "forward"])
def test_a_fall_from_standing_still_is_announced_within_milliseconds_even_with_resting_reads(
        daemons, state_dir, fake_clock, mock_factory, direction):
    """Synthetic: 10 s standing still (resting reads), then a fall. The first block that moves ends the
    resting reads before the frame that completes the event, so the event waits milliseconds, not 0.2 s."""
    from firmware_py.evaluation import scenarios
    from hal.emulated import ArrayMotion

    trace = scenarios.fall_from_standing(direction, seed=0, stand_s=10.0, lie_s=5.0)
    waits_ms = {}
    config = Config(daemon=DaemonSettings(driver="emulated", telemetry_interval_s=0),
                    paths=PathsSettings(state_dir=str(state_dir)), mqtt=MqttSettings(device_id="test"))
    daemon = build_daemon(config, fake_clock, pin_factory=mock_factory, with_broker=False, environ={},
                          motion=ArrayMotion(trace.t_s, trace.accel_g, trace.gyro_dps, loop=False),
                          on_event=lambda e: waits_ms.setdefault(e.type,
                                                                 1000 * (fake_clock.monotonic() - e.t_detect_s)))
    daemons.append(daemon)
    daemon.start()
    run_as_run_does(daemon, fake_clock, 9.0)
    assert daemon.wakeup.is_resting
    run_as_run_does(daemon, fake_clock, 8.0)
    assert "fall" in waits_ms
    assert all(wait_ms <= 10.0 for kind, wait_ms in waits_ms.items() if kind in ("loss_of_balance", "fall"))


def test_the_loop_never_spins_after_a_fall_whose_help_was_called_when_its_windows_have_passed(
        daemons, state_dir, fake_clock, mock_factory):
    from firmware_py.events import FALL

    daemon = make_daemon(daemons, state_dir, fake_clock, mock_factory, "still")
    run_as_run_does(daemon, fake_clock, 3.0)
    now = fake_clock.monotonic()
    daemon._record(Event(FALL, t_onset_s=now, t_detect_s=now))  # nobody cancels: help_needed after 30 s
    run_as_run_does(daemon, fake_clock, 40.0)
    assert daemon.alerts.state()["help_raised"]
    reads_before = daemon.wakeup.reads
    run_as_run_does(daemon, fake_clock, 150.0)  # past help_dedupe_s (120 s); asserts every wake is ahead
    assert (daemon.wakeup.reads - reads_before) / 150.0 <= 25  # one per frame and the pattern's edges


def test_a_block_is_still_only_when_both_the_acceleration_magnitude_and_every_gyro_axis_barely_vary():
    import numpy as np

    from firmware_py.daemon.wakeup import STILL_ACCEL_SPREAD_G, STILL_GYRO_SPREAD_DPS, is_still
    from hal.types import SampleBlock

    def block(accel_z, gyro_x):
        n = len(accel_z)
        accel = np.column_stack([np.zeros(n), np.zeros(n), accel_z])
        gyro = np.column_stack([gyro_x, np.full(n, 30.0), np.zeros(n)])  # a constant bias does not count
        return SampleBlock(np.arange(n) * 0.005, accel, gyro)

    lying = [1.0, 1.01, 0.99, 1.0]
    assert is_still(block(lying, [0.0, 1.0, -1.0, 0.0]))
    assert not is_still(block([1.0, 1.0 + 1.01 * STILL_ACCEL_SPREAD_G, 1.0, 1.0], [0.0] * 4))
    assert not is_still(block([-1.0, -1.0 - 1.01 * STILL_ACCEL_SPREAD_G, -1.0, -1.0], [0.0] * 4))  # |a|, not a
    assert not is_still(block(lying, [0.0, 1.01 * STILL_GYRO_SPREAD_DPS, 0.0, 0.0]))
    assert not is_still(block([1.0, float("nan"), 1.0, 1.0], [0.0] * 4))
    assert not is_still(block(lying, [0.0, float("nan"), 0.0, 0.0]))
    assert not is_still(block([1.0], [0.0]))  # one sample says nothing about movement
