"""A publishing process (tests/integration/publisher_proc.py) killed with SIGKILL: nothing stored is lost, and
the broker tells subscribers it is offline (last will)."""
from __future__ import annotations

import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.integration.test_mqtt import events_in, follow, receive

pytestmark = pytest.mark.broker

REPO = Path(__file__).resolve().parents[2]


class PublisherProcess:
    """publisher_proc.py as a child; its stdout lines arrive on a queue (read by a thread, so waits time out)."""

    def __init__(self, port: int, outbox: Path, events: int = 0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.integration.publisher_proc", "--port", str(port), "--outbox",
             str(outbox), "--events", str(events)],
            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: "queue.Queue[str]" = queue.Queue()
        threading.Thread(target=self._read, name="publisher-proc-stdout", daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.strip())

    def expect(self, prefix: str, timeout_s: float = 15.0) -> str:
        while True:
            try:
                line = self.lines.get(timeout=timeout_s)
            except queue.Empty:
                raise AssertionError(f"publisher_proc never said {prefix!r}; stderr: {self._stderr()}") from None
            if line.startswith(prefix):
                return line

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read()[-2000:]


@pytest.fixture
def processes():
    started = []

    def start(*args, **kwargs) -> PublisherProcess:
        p = PublisherProcess(*args, **kwargs)
        started.append(p)
        return p

    yield start
    for p in started:
        p.kill()
        p.proc.stdout.close()
        p.proc.stderr.close()


def test_events_stored_before_a_sigkill_during_an_outage_arrive_after_restart(mosquitto, tmp_path, processes):
    db = tmp_path / "outbox.sqlite3"
    mosquitto.stop()
    first = processes(mosquitto.port, db, events=20)
    stored = first.expect("stored ").split()[1:]
    first.kill()  # SIGKILL: no close(), no flush beyond what put() committed
    assert first.proc.returncode == -signal.SIGKILL

    mosquitto.start()
    with follow(mosquitto, "retrowalk/+/event") as sub:
        second = processes(mosquitto.port, db, events=0)
        got = events_in(receive(sub, lambda g: set(stored) <= {b["id"] for b in events_in(g)}, timeout_s=20))
        second.expect("drained")
    assert list(dict.fromkeys(b["id"] for b in got)) == stored  # all 20, in order
    assert [b["features"]["seq"] for b in got[:20]] == list(range(20))


def test_last_will_says_offline_when_the_publisher_is_killed(mosquitto, tmp_path, processes):
    proc = processes(mosquitto.port, tmp_path / "outbox.sqlite3")
    proc.expect("connected")
    with follow(mosquitto, "retrowalk/walker-1/status") as sub:
        assert receive(sub, lambda g: len(g) >= 1) == [("retrowalk/walker-1/status", b"online")]
        proc.kill()
        # the kernel closes the socket of a killed process, so the broker sends the will at once
        assert receive(sub, lambda g: len(g) >= 1, timeout_s=15) == [("retrowalk/walker-1/status", b"offline")]
    with follow(mosquitto, "retrowalk/walker-1/status") as late:  # and it is retained for later subscribers
        assert receive(late, lambda g: len(g) >= 1) == [("retrowalk/walker-1/status", b"offline")]


def test_events_in_flight_when_the_process_is_killed_are_sent_again_after_restart(mosquitto, tmp_path, processes):
    db = tmp_path / "outbox.sqlite3"
    with follow(mosquitto, "retrowalk/+/event") as sub:
        first = processes(mosquitto.port, db, events=200)
        stored = first.expect("stored ").split()[1:]
        before = events_in(receive(sub, lambda g: len(g) >= 1, timeout_s=15))  # it has started sending...
        first.kill()  # ...and dies with some rows sent but not yet acknowledged (or not yet sent)
        second = processes(mosquitto.port, db, events=0)
        after = events_in(receive(sub, lambda g: set(stored) <= {b["id"] for b in before + events_in(g)},
                                  timeout_s=20))
    got = before + after
    assert list(dict.fromkeys(b["id"] for b in got)) == stored  # every one, in order of first arrival
    second.expect("drained")
