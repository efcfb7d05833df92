"""Battery and power flags on virtual time: the PowerMonitor with the real INA219 driver on the emulated
INA219 and battery, a throttled-flags file the test writes, and the daemon's clean end at a critical charge."""
from __future__ import annotations

from firmware_py.config import Config, PathsSettings
from firmware_py.daemon.settings import DaemonSettings, EmulatorSettings
from firmware_py.daemon.wiring import build_daemon
from firmware_py.events import BATTERY_LOW, POWER_FAULT, SENSOR_FAULT, SHUTTING_DOWN
from firmware_py.transport.mqtt import MqttSettings
from firmware_py.daemon.power import PowerEmulatorSettings, PowerMonitor, PowerSettings
from hal.emulated import EmulatedI2CBus, FaultPlan
from hal.emulated_gauges import EmulatedBattery, EmulatedIna219
from hal.ina219 import Ina219
from hal.throttle import FileThrottleSource

ADDRESS = 0x43


def monitor_on(clock, battery=None, throttle=None, faults=None, overflow_windows_s=(), power_off=None, **settings):
    chip = EmulatedIna219(clock, battery or EmulatedBattery(), faults=faults, overflow_windows_s=overflow_windows_s)
    bus = EmulatedI2CBus({ADDRESS: chip})
    settings.setdefault("gauge", "ina219")
    settings.setdefault("check_interval_s", 10.0)
    return PowerMonitor(lambda: Ina219(bus, ADDRESS, clock=clock), throttle, clock, PowerSettings(**settings),
                        power_off=power_off)


def run(monitor, clock, seconds):
    events = []
    end_s = clock.monotonic() + seconds
    while clock.monotonic() < end_s:
        events += monitor.step()
        clock.advance(max(0.0, min(monitor.next_due_s(), end_s) - clock.monotonic()) or 0.01)
    return events


def test_battery_low_is_raised_once_when_the_charge_falls_past_low_percent(fake_clock):
    monitor = monitor_on(fake_clock, EmulatedBattery(start_percent=30.0, drain_percent_per_s=0.1))
    events = run(monitor, fake_clock, 200.0)  # 30 % -> 10 %
    lows = [e for e in events if e.type == BATTERY_LOW]
    assert len(lows) == 1
    assert lows[0].features["battery_percent"] <= 20.0 and lows[0].features["low_percent"] == 20.0
    assert 10.0 <= monitor.telemetry()["battery_percent"] <= 12.0
    assert monitor.telemetry()["battery_charging"] is False


def test_no_battery_low_while_the_charger_is_on(fake_clock):
    monitor = monitor_on(fake_clock, EmulatedBattery(start_percent=15.0, charging_windows_s=[(0, 1000)]))
    assert not [e for e in run(monitor, fake_clock, 100.0) if e.type == BATTERY_LOW]
    assert monitor.telemetry()["battery_charging"] is True


def test_critical_charge_in_two_readings_means_shutting_down_and_a_stop_after_the_grace(fake_clock):
    powered_off = []
    monitor = monitor_on(fake_clock, EmulatedBattery(start_percent=4.0), power_off=lambda: powered_off.append(1))
    events = run(monitor, fake_clock, 4.0)
    assert not [e for e in events if e.type == SHUTTING_DOWN]  # one reading could be a load spike
    events = run(monitor, fake_clock, 2.0)
    (shutdown,) = [e for e in events if e.type == SHUTTING_DOWN]
    assert shutdown.severity == "critical" and shutdown.features["reason"] == "battery_critical"
    assert "shutting down" in monitor.status_text()
    assert not monitor.stop_due
    run(monitor, fake_clock, 5.0)
    assert monitor.stop_due
    monitor.close()
    assert powered_off == []  # poweroff is false by default


def test_poweroff_runs_only_after_a_critical_stop_when_configured(fake_clock):
    powered_off = []
    monitor = monitor_on(fake_clock, EmulatedBattery(start_percent=50.0), power_off=lambda: powered_off.append(1),
                         poweroff=True)
    run(monitor, fake_clock, 30.0)
    monitor.close()
    assert powered_off == []
    monitor = monitor_on(fake_clock, EmulatedBattery(start_percent=3.0), power_off=lambda: powered_off.append(1),
                         poweroff=True)
    run(monitor, fake_clock, 12.0)
    monitor.close()
    assert powered_off == [1]


def test_a_vanished_gauge_is_one_fault_then_one_recovery_with_backoff_between(fake_clock):
    monitor = monitor_on(fake_clock, faults=FaultPlan(vanish_windows_s=[(15, 100)]))
    events = run(monitor, fake_clock, 200.0)
    faults = [e for e in events if e.type == SENSOR_FAULT]
    assert [e.features["state"] for e in faults] == ["lost", "recovered"]
    assert faults[0].features["sensor"] == "battery_gauge" and faults[0].features["error_type"] == "GaugeBusError"
    assert faults[1].severity == "info"


def test_one_bad_reading_is_skipped_but_three_in_a_row_are_a_fault(fake_clock):
    monitor = monitor_on(fake_clock, overflow_windows_s=[(0, 1)])
    assert not [e for e in run(monitor, fake_clock, 30.0) if e.type == SENSOR_FAULT]
    monitor = monitor_on(fake_clock, overflow_windows_s=[(0, 1000)], retry_initial_s=1.0)
    faults = [e for e in run(monitor, fake_clock, 30.0) if e.type == SENSOR_FAULT]
    assert len(faults) == 1 and faults[0].features["error_type"] == "GaugeReadingError"
    assert monitor.status_text() == "battery gauge fault"


def test_under_voltage_is_a_power_fault_now_and_since_boot_and_both_flags_reach_telemetry(fake_clock, tmp_path):
    flags_file = tmp_path / "get_throttled"
    flags_file.write_text("50000\n")  # under-voltage and throttling have occurred since boot, not now
    monitor = PowerMonitor(None, FileThrottleSource(str(flags_file)), fake_clock, PowerSettings())
    (since_boot,) = run(monitor, fake_clock, 1.0)
    assert since_boot.type == POWER_FAULT and since_boot.features["under_voltage"] == "since_boot"
    assert monitor.telemetry() == {"power_under_voltage": False, "power_throttled": False}
    flags_file.write_text("throttled=0x50005\n")  # vcgencmd's form: under-voltage and throttled now
    (now,) = run(monitor, fake_clock, 6.0)
    assert now.features["under_voltage"] == "now" and "5.1 V" in now.features["fix"]
    assert monitor.telemetry() == {"power_under_voltage": True, "power_throttled": True}
    assert run(monitor, fake_clock, 60.0) == []  # still under-voltage: said once


def test_an_under_voltage_dip_between_two_reads_is_still_a_power_fault(fake_clock, tmp_path):
    flags_file = tmp_path / "get_throttled"
    flags_file.write_text("0\n")
    monitor = PowerMonitor(None, FileThrottleSource(str(flags_file)), fake_clock, PowerSettings())
    assert run(monitor, fake_clock, 1.0) == []
    flags_file.write_text("10000\n")  # it came and went: only the since-boot bit tells
    (dip,) = run(monitor, fake_clock, 6.0)
    assert dip.type == POWER_FAULT and dip.features["under_voltage"] == "between_checks"


def test_nothing_configured_and_no_flags_is_not_an_error(fake_clock):
    monitor = PowerMonitor(None, None, fake_clock, PowerSettings())
    assert monitor.step() == [] and monitor.telemetry() == {} and monitor.status_text() is None


def test_the_daemon_sounds_the_shutdown_pattern_says_so_and_stops_when_the_battery_is_critical(
        daemons, state_dir, fake_clock, mock_factory):
    config = Config(daemon=DaemonSettings(driver="emulated", telemetry_interval_s=0,
                                          emulator=EmulatorSettings(scenario="still")),
                    power=PowerSettings(gauge="ina219", check_interval_s=10.0,
                                        emulator=PowerEmulatorSettings(start_percent=7.0, drain_percent_per_min=6.0)),
                    paths=PathsSettings(state_dir=str(state_dir)), mqtt=MqttSettings(device_id="test"))
    daemon = build_daemon(config, fake_clock, pin_factory=mock_factory, with_broker=False, environ={})
    daemons.append(daemon)
    daemon.start()
    recorded, buzzer_on_at_shutdown = [], None
    while not daemon.stop_requested.is_set() and fake_clock.monotonic() < 1100.0:
        events = daemon.step()
        recorded += events
        if any(e.type == SHUTTING_DOWN for e in events):
            buzzer_on_at_shutdown = daemon.alerts.alarm.is_on
            assert "shutting down" in daemon.status_text()
        fake_clock.advance(max(0.0, daemon.next_wake_s() - fake_clock.monotonic()))
    types = [e.type for e in recorded]
    assert types.count(BATTERY_LOW) == 1 and types.count(SHUTTING_DOWN) == 1
    assert buzzer_on_at_shutdown is True
    assert daemon.stop_requested.is_set()
    assert daemon.outbox.depth() >= 2  # no broker here: both kept in the outbox


def test_the_max17048_gauge_feeds_the_same_events_and_telemetry(daemons, state_dir, fake_clock, mock_factory):
    config = Config(daemon=DaemonSettings(driver="emulated", telemetry_interval_s=0,
                                          emulator=EmulatorSettings(scenario="still")),
                    power=PowerSettings(gauge="max17048", check_interval_s=10.0,
                                        emulator=PowerEmulatorSettings(start_percent=18.0)),
                    paths=PathsSettings(state_dir=str(state_dir)), mqtt=MqttSettings(device_id="test"))
    daemon = build_daemon(config, fake_clock, pin_factory=mock_factory, with_broker=False, environ={})
    daemons.append(daemon)
    daemon.start()
    recorded = []
    while fake_clock.monotonic() < 1001.0:
        recorded += daemon.step()
        fake_clock.advance(max(0.0, daemon.next_wake_s() - fake_clock.monotonic()))
    assert [e.type for e in recorded] == [BATTERY_LOW]
    telemetry = daemon.telemetry(fake_clock.monotonic())
    assert telemetry["battery_percent"] == 18 and telemetry["battery_charging"] is False
    assert "battery 18 %" in daemon.status_text()
