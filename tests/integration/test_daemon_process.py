"""``retrowalk run`` as systemd runs it: a subprocess on the emulated chip, a real broker, a NOTIFY_SOCKET the
test binds. Every wait is on a socket or a queue with a timeout; none is a fixed sleep."""
from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List, Optional

import pytest

from firmware_py.transport.mqtt import Follower, MqttSettings

ROOT = Path(__file__).resolve().parents[2]
DEVICE = "proc"

pytestmark = pytest.mark.broker


def write_config(tmp_path: Path, broker, emulator: str = "", extra: str = "") -> Path:
    state_dir = tmp_path / "state"
    state_dir.mkdir(exist_ok=True)
    path = tmp_path / "retrowalk.toml"
    path.write_text(f"""
[daemon]
driver = "emulated"
telemetry_interval_s = 1

[daemon.emulator]
scenario = "still"
{emulator}

[mqtt]
host = "127.0.0.1"
port = {broker.port}
device_id = "{DEVICE}"

[paths]
state_dir = "{state_dir}"
{extra}
""")
    return path


class Systemd:
    """The notify socket systemd would own, read continuously as systemd does (a reader that stops reading
    would fill the socket's small queue), and the daemon process started with it."""

    def __init__(self, tmp_path: Path) -> None:
        self.path = tmp_path / "notify.sock"
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(self.path))
        self.sock.settimeout(0.2)
        self.messages: "queue.SimpleQueue[str]" = queue.SimpleQueue()
        self._closing = threading.Event()
        self._reader = threading.Thread(target=self._read, name="test-notify-reader", daemon=True)
        self._reader.start()
        self.proc: Optional[subprocess.Popen] = None
        self.stderr_path = tmp_path / "daemon.stderr"

    def _read(self) -> None:
        while not self._closing.is_set():
            try:
                datagram = self.sock.recv(4096).decode()
            except socket.timeout:
                continue
            except OSError:
                return
            for message in datagram.split("\n"):
                self.messages.put(message)

    def start(self, config: Path, watchdog_usec: int = 2_000_000) -> subprocess.Popen:
        env = dict(os.environ, NOTIFY_SOCKET=str(self.path), WATCHDOG_USEC=str(watchdog_usec),
                   PYTHONUNBUFFERED="1")
        env.pop("WATCHDOG_PID", None)
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "firmware_py.cli", "-v", "run", "--config",
                                          str(config)], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
        return self.proc

    def wait_for(self, wanted, timeout_s: float = 20.0) -> List[str]:
        """Messages received until one satisfies ``wanted`` (a string or a predicate); fails on timeout."""
        accept = wanted if callable(wanted) else (lambda m: m == wanted)
        seen: List[str] = []
        deadline = time.monotonic() + timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {wanted!r} from the daemon within {timeout_s} s; got {seen[-10:]}; "
                                     f"stderr:\n{self.stderr()[-2000:]}")
            try:
                message = self.messages.get(timeout=left)
            except queue.Empty:
                continue
            seen.append(message)
            if accept(message):
                return seen

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self._closing.set()
        self._reader.join(2)
        self.sock.close()


@pytest.fixture
def systemd(tmp_path):
    s = Systemd(tmp_path)
    yield s
    s.close()


@pytest.fixture
def follower(mosquitto):
    f = Follower(MqttSettings(host=mosquitto.host, port=mosquitto.port, device_id="watcher"),
                 [f"retrowalk/{DEVICE}/#"]).start()
    yield f
    f.close()


def next_message(follower, topic_suffix: str, accept=lambda payload: True, timeout_s: float = 20.0) -> bytes:
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"nothing on {topic_suffix} within {timeout_s} s")
        try:
            topic, payload, _, _ = follower.messages.get(timeout=left)
        except queue.Empty:
            continue
        if topic.endswith(topic_suffix) and accept(payload):
            return payload


def test_ready_then_watchdog_arrive_on_the_notify_socket_when_started_by_systemd(
        tmp_path, mosquitto, systemd, follower):
    systemd.start(write_config(tmp_path, mosquitto))
    seen = systemd.wait_for("READY=1")
    assert not any(m == "WATCHDOG=1" for m in seen), "pinged the watchdog before it was ready"
    systemd.wait_for("WATCHDOG=1")
    systemd.wait_for(lambda m: m.startswith("STATUS=sampling 200 Hz"))
    telemetry = json.loads(next_message(follower, "/telemetry"))
    assert telemetry["sensor"] == "ok" and telemetry["samples"] > 0


def test_sigterm_stops_within_2_s_and_publishes_offline_when_the_daemon_runs(
        tmp_path, mosquitto, systemd, follower):
    proc = systemd.start(write_config(tmp_path, mosquitto))
    systemd.wait_for("READY=1")
    next_message(follower, "/status", lambda p: p == b"online")
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(timeout=10)
    took_s = time.monotonic() - started
    assert code == 0
    assert took_s < 2.0, f"shutdown took {took_s:.2f} s; systemd allows the unit 2 s"
    systemd.wait_for("STOPPING=1", timeout_s=2)
    next_message(follower, "/status", lambda p: p == b"offline", timeout_s=5)


def test_frozen_sensor_data_stops_the_watchdog_until_samples_flow_again_when_the_chip_freezes(
        tmp_path, mosquitto, systemd):
    # chip seconds since the daemon created it (just before READY); 2 s frozen is a fault (no samples for 1 s)
    # that ends while the daemon is still re-opening the chip, as with the vanished sensor below
    systemd.start(write_config(tmp_path, mosquitto, emulator="freeze_windows_s = [[3.0, 5.0]]"))
    systemd.wait_for("READY=1")
    systemd.wait_for("WATCHDOG=1")
    systemd.wait_for(lambda m: m.startswith("STATUS=sensor fault"))
    after_fault = systemd.wait_for(lambda m: m.startswith("STATUS=sampling"))
    assert "WATCHDOG=1" not in after_fault[:-1], "the watchdog was pinged while no samples arrived"
    systemd.wait_for("WATCHDOG=1")  # and it resumes without a restart
    assert systemd.proc.poll() is None


def test_bad_config_exits_78_naming_the_key_when_a_value_is_not_allowed(tmp_path, mosquitto):
    config = write_config(tmp_path, mosquitto, extra="[sensor]\naccel_range_g = 3\n")
    proc = subprocess.run([sys.executable, "-m", "firmware_py.cli", "run", "--config", str(config)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 78
    assert "accel_range_g" in proc.stderr and "3" in proc.stderr


def test_sensor_fault_then_recovery_without_restart_when_the_sensor_vanishes_and_returns(
        tmp_path, mosquitto, systemd, follower):
    # away for 1 s: the re-open 0.5 s after the loss fails, the one 1.5 s after it succeeds (away for 2 s, that
    # one failed too and the next came at 3.5 s: 2 s more for the same property)
    proc = systemd.start(write_config(tmp_path, mosquitto, emulator="vanish_windows_s = [[3.0, 4.0]]"))
    systemd.wait_for("READY=1")
    is_fault = lambda state: (lambda p: json.loads(p)["type"] == "sensor_fault"  # noqa: E731
                              and json.loads(p)["features"]["state"] == state)
    lost = json.loads(next_message(follower, "/event", is_fault("lost")))
    assert "0x68" in lost["features"]["error"]
    recovered = json.loads(next_message(follower, "/event", is_fault("recovered")))
    assert recovered["severity"] == "info" and recovered["features"]["outage_s"] >= 1.0
    systemd.wait_for("WATCHDOG=1")
    assert proc.poll() is None, "the daemon exited instead of recovering"
