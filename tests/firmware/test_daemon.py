"""The daemon's loop in-process: ``Daemon.step()`` on virtual time, the real driver over the emulated chip,
gpiozero mock pins, an outbox in tmp, sd_notify on a socket the test binds, and (for commands) a real broker."""
from __future__ import annotations

import json
import queue
import socket
import time

import numpy as np
import pytest

from firmware_py.detection.calibration import Calibration
from firmware_py.config import Config, PathsSettings
from firmware_py.daemon.calibration_file import load_calibration, save_calibration
from firmware_py.daemon.sensor_link import SensorLink
from firmware_py.daemon.settings import DaemonSettings, EmulatorSettings
from firmware_py.daemon.wiring import build_daemon, build_sensor_opener
from firmware_py.events import SENSOR_FAULT
from firmware_py.transport.mqtt import Follower, MqttSettings
from hal.emulated import ArrayMotion
from tests.conftest import daemons  # noqa: F401 (the fixture lives in conftest; modules import it from here)

PERIOD_S = 0.05


def make_config(state_dir, mqtt=None, **emulator) -> Config:
    emulator.setdefault("scenario", "still")
    return Config(daemon=DaemonSettings(driver="emulated", telemetry_interval_s=0,
                                        emulator=EmulatorSettings(**emulator)),
                  paths=PathsSettings(state_dir=str(state_dir)),
                  mqtt=mqtt if mqtt is not None else MqttSettings(device_id="test"))


@pytest.fixture
def notify(tmp_path):
    """A datagram socket standing in for systemd's; ``read()`` returns what arrived so far."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)

    class Notify:
        environ = {"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "2000000"}

        @staticmethod
        def read():
            messages = []
            while True:
                try:
                    messages.append(sock.recv(4096).decode())
                except BlockingIOError:
                    return messages

    yield Notify
    sock.close()


def start(daemons, config, clock, pins, **kwargs):
    daemon = build_daemon(config, clock, pin_factory=pins, with_broker=kwargs.pop("with_broker", False),
                          environ=kwargs.pop("environ", {}), **kwargs)
    daemons.append(daemon)
    daemon.start()
    return daemon


def run_for(daemon, clock, seconds):
    events = []
    for _ in range(int(round(seconds / PERIOD_S))):
        clock.advance(PERIOD_S)
        events += daemon.step()
    return events


def test_buzzer_sounds_in_the_same_step_and_the_fall_is_queued_when_a_fall_is_detected(
        daemons, fake_clock, mock_factory, state_dir):
    from firmware_py.evaluation.scenarios import backward_fall

    scenario = backward_fall(seed=3)
    motion = ArrayMotion(scenario.t_s, scenario.accel_g, scenario.gyro_dps)
    # as 'retrowalk calibrate' leaves it: the emulated chip sits upright, its axes the body's
    save_calibration(state_dir, Calibration(gyro_bias_dps=(0.0, 0.0, 0.0), body_from_sensor=np.eye(3)))
    config = make_config(state_dir)
    daemon = start(daemons, config, fake_clock, mock_factory, motion=motion)
    buzzer_pin = mock_factory.pin(config.alerts.buzzer_pin)
    fall_step = None
    for _ in range(int((scenario.t_s[-1] + 2) / PERIOD_S)):
        fake_clock.advance(PERIOD_S)
        recorded = daemon.step()
        if any(e.type == "fall" for e in recorded):
            fall_step = recorded
            break
    assert fall_step is not None, "the synthetic fall was not detected"
    assert buzzer_pin.state, "the buzzer pin is not high in the step that detected the fall"
    fall = next(e for e in fall_step if e.type == "fall")
    queued = [json.loads(row.payload) for row in daemon.outbox.pending(100)]
    assert fall.id in [q["id"] for q in queued]
    # wall time of the onset: now, minus how long ago (in sample time) the fall began
    assert fall.wall_time == pytest.approx(time.time() - (fake_clock.monotonic() - fall.t_onset_s), abs=1.0)


def test_watchdog_pings_stop_while_the_sensor_gives_no_samples_when_its_data_freezes(
        daemons, fake_clock, mock_factory, state_dir, notify):
    config = make_config(state_dir, freeze_windows_s=[[3.0, 8.0]])
    daemon = start(daemons, config, fake_clock, mock_factory, environ=notify.environ)
    assert "READY=1" in notify.read()
    run_for(daemon, fake_clock, 2.5)
    assert notify.read().count("WATCHDOG=1") >= 4  # every 0.5 s while samples flow
    run_for(daemon, fake_clock, 1.0)  # into the freeze
    notify.read()
    run_for(daemon, fake_clock, 4.0)  # frozen
    during = notify.read()
    assert "WATCHDOG=1" not in during
    assert any(m.startswith("STATUS=sensor fault") for m in during)
    run_for(daemon, fake_clock, 4.0)  # the chip samples again; the next re-open finds it
    assert "WATCHDOG=1" in notify.read()


def test_one_sensor_fault_then_one_recovery_without_restart_when_the_sensor_vanishes_and_returns(
        daemons, fake_clock, mock_factory, state_dir):
    config = make_config(state_dir, vanish_windows_s=[[2.0, 9.0]])
    daemon = start(daemons, config, fake_clock, mock_factory)
    events = run_for(daemon, fake_clock, 14.0)
    faults = [e for e in events if e.type == SENSOR_FAULT]
    assert [e.features["state"] for e in faults] == ["lost", "recovered"]
    lost, recovered = faults
    assert lost.severity == "warning" and recovered.severity == "info"
    assert 6.5 < recovered.features["outage_s"] < 9.0  # back within the backoff after the window ends
    assert recovered.features["attempts"] >= 3  # re-opened several times, announced once
    before = daemon.counters.samples_total
    run_for(daemon, fake_clock, 1.0)
    assert daemon.counters.samples_total - before >= 190  # sampling again at ~200 Hz
    queued_types = [json.loads(r.payload)["type"] for r in daemon.outbox.pending(100)]
    assert queued_types.count(SENSOR_FAULT) == 2


def test_daemon_starts_and_reports_a_fault_when_the_sensor_is_missing_at_start(
        daemons, fake_clock, mock_factory, state_dir, notify):
    config = make_config(state_dir, vanish_windows_s=[[0.0, 3.0]])
    daemon = start(daemons, config, fake_clock, mock_factory, environ=notify.environ)
    messages = notify.read()
    assert "READY=1" in messages
    assert any(m.startswith("STATUS=sensor fault") for m in messages)
    events = run_for(daemon, fake_clock, 6.0)
    assert [e.features["state"] for e in events if e.type == SENSOR_FAULT] == ["recovered"]
    queued = [json.loads(r.payload) for r in daemon.outbox.pending(100)]
    assert [q["features"]["state"] for q in queued if q["type"] == SENSOR_FAULT] == ["lost", "recovered"]


def test_one_fault_is_announced_across_a_watchdog_restart_when_the_sensor_stays_away(
        daemons, fake_clock, mock_factory, state_dir):
    # systemd restarts a daemon whose sensor is gone (no samples, no watchdog pings); the carer must see
    # one "lost" for the outage and one "recovered", not a "lost" per restart
    config = make_config(state_dir, vanish_windows_s=[[1.0, 1000.0]])
    first = start(daemons, config, fake_clock, mock_factory)
    lost = [e for e in run_for(first, fake_clock, 5.0) if e.type == SENSOR_FAULT]
    assert [e.features["state"] for e in lost] == ["lost"]
    first.close()

    restarted_config = make_config(state_dir, vanish_windows_s=[[0.0, 3.0]])  # a new chip, back at 3 s
    second = start(daemons, restarted_config, fake_clock, mock_factory)
    events = run_for(second, fake_clock, 8.0)
    assert [e.features["state"] for e in events if e.type == SENSOR_FAULT] == ["recovered"]
    queued = [json.loads(r.payload) for r in second.outbox.pending(100)]
    assert [q["features"]["state"] for q in queued if q["type"] == SENSOR_FAULT] == ["lost", "recovered"]
    assert not (state_dir / "sensor_fault.json").exists()


def test_sensor_link_backs_off_exponentially_when_the_sensor_stays_away(fake_clock, state_dir):
    config = make_config(state_dir, vanish_windows_s=[[1.0, 1000.0]])
    link = SensorLink(build_sensor_opener(config, fake_clock), fake_clock, config.daemon)
    opens = []
    for _ in range(int(100 / PERIOD_S)):
        fake_clock.advance(PERIOD_S)
        before = link.attempts
        link.read()
        if link.attempts > before:
            opens.append(fake_clock.monotonic())
    gaps = np.diff(opens[1:])  # opens[0] is the first open, before the chip vanished
    assert len(opens) <= 10  # 0.5, 1, 2, 4, 8, 16, 30, 30 s apart, not one per loop step
    assert all(later >= earlier for earlier, later in zip(gaps, gaps[1:]))
    assert gaps[0] == pytest.approx(2 * config.daemon.sensor_retry_initial_s, abs=2 * PERIOD_S)
    assert gaps[-1] == pytest.approx(config.daemon.sensor_retry_max_s, abs=2 * PERIOD_S)
    link.close()


def test_telemetry_reports_the_achieved_rate_and_no_losses_when_sampling_normally(
        daemons, fake_clock, mock_factory, state_dir):
    daemon = start(daemons, make_config(state_dir, scenario="backward_walk"), fake_clock, mock_factory)
    run_for(daemon, fake_clock, 10.0)
    telemetry = daemon.telemetry(fake_clock.monotonic())
    assert telemetry["sample_rate_hz"] == pytest.approx(200, rel=0.03)
    assert telemetry["lost_samples"] == 0
    assert telemetry["sensor"] == "ok"
    assert "sampling 200 Hz" in telemetry["status"]
    assert telemetry["temp_c"] == pytest.approx(25.0, abs=1.0)
    # never calibrated: detection runs on gravity alone and says so (10 s of walking is too little for a heading)
    assert telemetry["mounting"] == "gravity only" and telemetry["status"].endswith("mounting gravity only")


def test_shutdown_silences_the_buzzer_and_says_stopping_when_closed_during_an_alarm(
        daemons, fake_clock, mock_factory, state_dir, notify):
    config = make_config(state_dir)
    daemon = start(daemons, config, fake_clock, mock_factory, environ=notify.environ)
    assert daemon.alerts.test_alarm()
    daemon.step()
    assert mock_factory.pin(config.alerts.buzzer_pin).state
    daemon.close()
    assert not mock_factory.pin(config.alerts.buzzer_pin).state
    assert "STOPPING=1" in notify.read()


# ---- MQTT commands, against a real broker ------------------------------------------------------------------

@pytest.fixture
def broker_daemon(daemons, fake_clock, mock_factory, state_dir, mosquitto):
    mqtt = MqttSettings(host=mosquitto.host, port=mosquitto.port, device_id="cmdtest")
    config = make_config(state_dir, mqtt=mqtt)
    daemon = start(daemons, config, fake_clock, mock_factory, with_broker=True)
    follower = Follower(mqtt, ["retrowalk/cmdtest/cmd/result", "retrowalk/cmdtest/event"]).start()
    yield daemon, follower, config
    follower.close()


def step_until(daemon, clock, follower, topic_suffix, timeout_s=10.0, accept=lambda payload: True):
    """Step the daemon (paho delivers in its own thread) until a message on ``topic_suffix`` arrives."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        clock.advance(PERIOD_S)
        daemon.step()
        daemon.publisher.wait(0.02)  # wakes as soon as paho queued something for the loop
        try:
            while True:
                topic, payload, _, _ = follower.messages.get_nowait()
                if topic.endswith(topic_suffix) and accept(payload):
                    return payload
        except queue.Empty:
            pass
    raise AssertionError(f"nothing on {topic_suffix} within {timeout_s} s")


def wait_connected(daemon, clock, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while not daemon.publisher.is_connected and time.monotonic() < deadline:
        daemon.publisher.wait(0.1)
        clock.advance(PERIOD_S)
        daemon.step()
    assert daemon.publisher.is_connected, "the daemon did not connect to the test broker"


@pytest.mark.broker
def test_cancel_command_silences_the_fall_alarm_when_sent_over_mqtt(broker_daemon, fake_clock, mock_factory):
    from firmware_py.events import Event

    daemon, follower, config = broker_daemon
    wait_connected(daemon, fake_clock)
    now = fake_clock.monotonic()
    daemon._record(Event("fall", now, now))  # as the pipeline would hand it over
    daemon.step()
    assert mock_factory.pin(config.alerts.buzzer_pin).state
    follower.publish("retrowalk/cmdtest/cmd/cancel", json.dumps({"id": "c1"}))
    reply = json.loads(step_until(daemon, fake_clock, follower, "cmd/result"))
    assert reply == {"command": "cancel", "ok": True, "message": "alarm cancelled", "id": "c1"}
    assert not mock_factory.pin(config.alerts.buzzer_pin).state
    cancelled = json.loads(step_until(daemon, fake_clock, follower, "/event",
                                      accept=lambda p: json.loads(p)["type"] == "cancelled"))
    assert cancelled["severity"] == "info"


@pytest.mark.broker
def test_bad_command_payload_gets_a_reply_naming_the_field_when_mute_has_no_minutes(broker_daemon, fake_clock):
    daemon, follower, _ = broker_daemon
    wait_connected(daemon, fake_clock)
    follower.publish("retrowalk/cmdtest/cmd/mute", json.dumps({"id": "m1", "minuts": 5}))
    reply = json.loads(step_until(daemon, fake_clock, follower, "cmd/result"))
    assert reply["ok"] is False and "minuts" in reply["message"]
    assert daemon.alerts.state()["muted_for_s"] == 0


@pytest.mark.broker
def test_mqtt_mute_is_bounded_by_the_alerts_mute_max_minutes_the_alert_manager_keeps(
        daemons, fake_clock, mock_factory, state_dir, mosquitto):
    import dataclasses

    # one setting for the longest mute: the command's check and the alert manager's are the same bound
    mqtt = MqttSettings(host=mosquitto.host, port=mosquitto.port, device_id="cmdtest")
    config = make_config(state_dir, mqtt=mqtt)
    config = dataclasses.replace(config, alerts=dataclasses.replace(config.alerts, mute_max_minutes=240.0))
    daemon = start(daemons, config, fake_clock, mock_factory, with_broker=True)
    follower = Follower(mqtt, ["retrowalk/cmdtest/cmd/result"]).start()
    try:
        wait_connected(daemon, fake_clock)
        follower.publish("retrowalk/cmdtest/cmd/mute", json.dumps({"id": "m1", "minutes": 300}))
        refused = json.loads(step_until(daemon, fake_clock, follower, "cmd/result"))
        follower.publish("retrowalk/cmdtest/cmd/mute", json.dumps({"id": "m2", "minutes": 200}))
        accepted = json.loads(step_until(daemon, fake_clock, follower, "cmd/result"))
    finally:
        follower.close()
    assert refused["ok"] is False and "use 1 to 240" in refused["message"]
    assert accepted["ok"] is True and daemon.alerts.state()["muted_for_s"] == pytest.approx(200 * 60, abs=5)


@pytest.mark.broker
def test_ping_command_answers_with_the_status_line_when_the_daemon_runs(broker_daemon, fake_clock):
    daemon, follower, _ = broker_daemon
    wait_connected(daemon, fake_clock)
    follower.publish("retrowalk/cmdtest/cmd/ping", json.dumps({"id": "p1"}))
    reply = json.loads(step_until(daemon, fake_clock, follower, "cmd/result"))
    assert reply["ok"] is True and reply["id"] == "p1"
    assert reply["details"]["status"].startswith("sampling 200 Hz, broker online")


@pytest.mark.broker
def test_calibrate_command_saves_a_calibration_and_says_so_when_the_wearer_stands_still(
        broker_daemon, fake_clock, state_dir):
    daemon, follower, _ = broker_daemon
    wait_connected(daemon, fake_clock)
    follower.publish("retrowalk/cmdtest/cmd/calibrate", json.dumps({"id": "k1"}))
    first = json.loads(step_until(daemon, fake_clock, follower, "cmd/result"))
    assert first["ok"] is True and "stand still" in first["message"]
    assert not (state_dir / "calibration.json").exists()
    done = json.loads(step_until(daemon, fake_clock, follower, "cmd/result", timeout_s=20))
    assert done["ok"] is True and done["id"] == "k1" and "saved" in done["message"]
    assert load_calibration(state_dir) is not None


@pytest.mark.broker
def test_calibrate_command_is_refused_while_a_fall_is_open_and_nothing_is_saved(broker_daemon, fake_clock, state_dir):
    from firmware_py.events import Event

    # a carer calibrating while the wearer is on the floor would make lying the new upright and forget the fall
    daemon, follower, _ = broker_daemon
    wait_connected(daemon, fake_clock)
    now = fake_clock.monotonic()
    daemon._record(Event("fall", now, now))
    follower.publish("retrowalk/cmdtest/cmd/calibrate", json.dumps({"id": "k3"}))
    reply = json.loads(step_until(daemon, fake_clock, follower, "cmd/result"))
    assert reply["ok"] is False and reply["id"] == "k3" and reply["message"].startswith("not now: a fall")
    assert daemon.remote.calibrating is None and not (state_dir / "calibration.json").exists()


@pytest.mark.broker
def test_a_calibration_during_which_a_fall_is_raised_is_discarded_and_the_pipeline_kept(
        broker_daemon, fake_clock, state_dir):
    from firmware_py.events import Event

    daemon, follower, _ = broker_daemon
    wait_connected(daemon, fake_clock)
    follower.publish("retrowalk/cmdtest/cmd/calibrate", json.dumps({"id": "k4"}))
    assert json.loads(step_until(daemon, fake_clock, follower, "cmd/result"))["ok"] is True
    pipeline = daemon.pipeline
    now = fake_clock.monotonic()
    daemon._record(Event("fall", now, now))  # raised while the wearer was meant to stand still
    done = json.loads(step_until(daemon, fake_clock, follower, "cmd/result", timeout_s=20))
    assert done["ok"] is False and done["id"] == "k4" and "discarded" in done["message"]
    assert daemon.pipeline is pipeline and load_calibration(state_dir) is None


def test_status_says_when_help_will_be_called_when_a_fall_is_not_cancelled(
        daemons, fake_clock, mock_factory, state_dir, notify):
    from firmware_py.events import Event

    daemon = start(daemons, make_config(state_dir), fake_clock, mock_factory, environ=notify.environ)
    now = fake_clock.monotonic()
    daemon._record(Event("fall", now, now))
    statuses = []
    for _ in range(31):  # read every second, as systemd does
        run_for(daemon, fake_clock, 1.0)
        statuses += [m for m in notify.read() if m.startswith("STATUS=")]
    assert any("fall not cancelled, help called in 20 s" in m for m in statuses)
    assert "help called" in statuses[-1] and "help called in" not in statuses[-1]


def test_the_notify_socket_is_closed_when_the_daemon_is_closed(daemons, fake_clock, mock_factory, state_dir, notify):
    # an embedding (the demo, the tests) builds and closes daemons in one process: no socket may be left open
    daemon = start(daemons, make_config(state_dir), fake_clock, mock_factory, environ=notify.environ)
    assert "READY=1" in notify.read()
    daemon.close()
    assert daemon.notifier._sock is None


def test_pins_are_free_again_when_the_broker_settings_are_refused_at_build(fake_clock, mock_factory, state_dir,
                                                                            tmp_path):
    from firmware_py.errors import ConfigError
    from firmware_py.transport.mqtt_settings import MqttTlsSettings
    from hal.gpio import build_gpio

    tls = MqttTlsSettings(enabled=True, ca_file=str(tmp_path / "missing-ca.pem"))
    config = make_config(state_dir, mqtt=MqttSettings(device_id="test", tls=tls))
    with pytest.raises(ConfigError, match="ca_file"):
        build_daemon(config, fake_clock, pin_factory=mock_factory, environ={})
    # a caller that reports the error and carries on (the demo, selftest) can claim the buzzer and button again
    build_gpio(config.alerts.gpio, pin_factory=mock_factory, clock=fake_clock).close()


@pytest.mark.broker
def test_calibrate_command_says_it_was_not_saved_and_the_daemon_keeps_running_when_the_write_fails(
        broker_daemon, fake_clock, state_dir):
    daemon, follower, _ = broker_daemon
    wait_connected(daemon, fake_clock)
    (state_dir / "calibration.json.tmp").mkdir()  # the write fails (even for root), as on a full disk
    follower.publish("retrowalk/cmdtest/cmd/calibrate", json.dumps({"id": "k2"}))
    first = json.loads(step_until(daemon, fake_clock, follower, "cmd/result"))
    assert first["ok"] is True
    done = json.loads(step_until(daemon, fake_clock, follower, "cmd/result", timeout_s=20))
    assert done["ok"] is False and done["id"] == "k2" and "not saved" in done["message"]
    assert str(state_dir) in done["message"]
    assert load_calibration(state_dir) is None
    follower.publish("retrowalk/cmdtest/cmd/ping", json.dumps({"id": "p2"}))  # still answering
    assert json.loads(step_until(daemon, fake_clock, follower, "cmd/result"))["id"] == "p2"
