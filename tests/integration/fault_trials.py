"""The fault trials behind tests/integration/test_fault_injection.py: one ``retrowalk run`` subprocess (or two,
for a SIGKILL) on the emulated chip playing a synthetic backward fall, a real Mosquitto with a carer on a
persistent session, and a real storage fault or a SIGKILL. Each trial returns what the wearer heard (the alarm
in the daemon's STATUS= lines, which is what drives the buzzer) and what the carer received.

Storage faults are real: a size-limited tmpfs filled up, a tmpfs mounted read-only before the start, an ext4
image mounted ``errors=remount-ro`` whose kernel error trigger (``/sys/fs/ext4/<loop>/trigger_fs_error``) turns
it read-only mid-run (what an SD card does), the state directory removed. Mounting needs root; without it those
trials raise ``Unavailable`` and the tests skip, saying why.
"""
from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

from firmware_py.transport.mqtt import Follower, MqttSettings
from tests.broker import Mosquitto
from tests.integration.test_daemon_process import Systemd

DEVICE = "fi"
IDENTITY = {"gyro_bias_dps": [0.0, 0.0, 0.0], "body_from_sensor": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]}
STAY = ["user root"] if os.geteuid() == 0 else []

STORAGE_KINDS = ("disk_full", "readonly_at_start", "ext4_error_remount_ro", "state_dir_removed")
KILL_KINDS = ("sigkill_before_the_impact", "sigkill_in_cancel_window", "sigkill_while_help_sounds")


class Unavailable(Exception):
    """This machine cannot make the fault (not root, no loop device...); the message says why."""


@dataclass
class Outcome:
    kind: str
    broker_up: bool
    heard: List[str] = field(default_factory=list)       # alarms in STATUS=, in order, repeats collapsed
    events: List[dict] = field(default_factory=list)     # what the carer received, deduplicated by id
    exit_codes: List[Optional[int]] = field(default_factory=list)  # -9 for our SIGKILL
    tracebacks: int = 0
    seconds: float = 0.0


def _sh(*argv: str) -> None:
    proc = subprocess.run(list(argv), capture_output=True, text=True)
    if proc.returncode != 0:
        raise Unavailable(f"{' '.join(argv)} failed: {proc.stderr.strip() or proc.returncode}")


def _need_root(kind: str) -> None:
    if os.geteuid() != 0:
        raise Unavailable(f"{kind} needs root to mount a file system (the unit tests' stand-ins cover it)")


class Trial:
    def __init__(self, kind: str, broker_up: bool, workdir: Path) -> None:
        self.kind, self.broker_up, self.workdir = kind, broker_up, workdir
        self.state_dir = workdir / "state"
        self.outcome = Outcome(kind, broker_up)
        self._mounted: List[Path] = []
        self._loop: Optional[str] = None
        self._runs: List[Systemd] = []
        self.broker = Mosquitto(workdir / "broker", extra_conf=STAY + [
            "persistence true", f"persistence_location {workdir / 'broker'}/"])
        self.carer: Optional[Follower] = None
        self._seen: Dict[str, dict] = {}

    # ---- the parts ---------------------------------------------------------------------------------------
    def config(self, scenario: str, cancel_window_s: float, long_lie_s: float = 120.0) -> Path:
        path = self.workdir / f"{scenario}.toml"
        path.write_text(f"""
[daemon]
driver = "emulated"
telemetry_interval_s = 0

[daemon.emulator]
scenario = "{scenario}"

[alerts]
cancel_window_s = {cancel_window_s}

[detection.stillness]
long_lie_s = {long_lie_s}

[mqtt]
host = "127.0.0.1"
port = {self.broker.port}
device_id = "{DEVICE}"
reconnect_min_s = 0.1
reconnect_max_s = 0.5

[paths]
state_dir = "{self.state_dir}"
""")
        return path

    def start(self, scenario: str, cancel_window_s: float = 2.0, long_lie_s: float = 120.0) -> Systemd:
        run = Systemd(self._fresh_dir(f"run{len(self._runs) + 1}"))
        self._runs.append(run)
        run.start(self.config(scenario, cancel_window_s, long_lie_s))
        run.wait_for("READY=1", timeout_s=30)
        return run

    def _fresh_dir(self, name: str) -> Path:
        path = self.workdir / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def heard(self, run: Systemd, wanted: str, timeout_s: float = 20.0) -> None:
        """Wait for a STATUS= naming ``wanted`` (e.g. "help needed alarm"), noting every alarm heard."""
        def seen(message: str) -> bool:
            if message.startswith("STATUS="):
                for part in message[len("STATUS="):].split(", "):
                    if part.endswith(" alarm") and (not self.outcome.heard or self.outcome.heard[-1] != part):
                        self.outcome.heard.append(part)
            return message.startswith("STATUS=") and wanted in message
        run.wait_for(seen, timeout_s=timeout_s)

    def received(self, done: Callable[[List[dict]], bool], timeout_s: float = 30.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not done(self.outcome.events):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.kind}: the carer got only {[e['type'] for e in self.outcome.events]}")
            try:
                _topic, payload, _retained, _t = self.carer.messages.get(timeout=min(left, 0.2))
            except queue.Empty:
                continue
            event = json.loads(payload)
            if event["id"] not in self._seen:
                self._seen[event["id"]] = event
                self.outcome.events.append(event)

    def stop(self, run: Systemd) -> None:
        run.proc.send_signal(signal.SIGTERM)
        self.outcome.exit_codes.append(run.proc.wait(timeout=10))

    def kill(self, run: Systemd) -> None:
        run.proc.send_signal(signal.SIGKILL)
        self.outcome.exit_codes.append(run.proc.wait(timeout=10))

    # ---- storage -----------------------------------------------------------------------------------------
    def mount_tmpfs(self, size: str) -> None:
        _need_root(self.kind)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        _sh("mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(self.state_dir))
        self._mounted.append(self.state_dir)

    def mount_ext4(self) -> str:
        _need_root(self.kind)
        image = self.workdir / "card.img"
        with open(image, "wb") as f:
            f.truncate(8 * 1024 * 1024)
        _sh("mkfs.ext4", "-q", "-F", str(image))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        _sh("mount", "-o", "loop,errors=remount-ro", str(image), str(self.state_dir))
        self._mounted.append(self.state_dir)
        source = subprocess.run(["findmnt", "-n", "-o", "SOURCE", str(self.state_dir)], capture_output=True,
                                text=True).stdout.strip()
        trigger = Path("/sys/fs/ext4") / Path(source).name / "trigger_fs_error"
        if not trigger.exists():
            raise Unavailable(f"{trigger} is missing: this kernel cannot inject an ext4 error")
        return str(trigger)

    def fill(self) -> None:
        # unbuffered: a buffered file keeps what a short write left over and raises ENOSPC again on close,
        # depending on how many bytes happened to be free
        with open(self.state_dir / "filler", "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * 65536)
                    f.flush()
            except OSError:
                pass
        try:  # and the last few pages, so that not even one SQLite page fits
            with open(self.state_dir / "filler2", "wb", buffering=0) as f:
                while True:
                    f.write(b"\0" * 512)
                    f.flush()
        except OSError:
            pass

    def cleanup(self) -> None:
        for run in self._runs:
            run.close()
            self.outcome.tracebacks += run.stderr().count("Traceback")
        for path in reversed(self._mounted):
            subprocess.run(["umount", "-l", str(path)], capture_output=True)
        if self.carer is not None:
            self.carer.close()
        self.broker.stop()

    # ---- the trial ---------------------------------------------------------------------------------------
    def run(self) -> Outcome:
        started = time.monotonic()
        self.broker.start()
        carer_settings = MqttSettings(host="127.0.0.1", port=self.broker.port, device_id="carer",
                                      reconnect_min_s=0.1, reconnect_max_s=0.5)
        self.carer = Follower(carer_settings, [f"retrowalk/{DEVICE}/event"], client_id="carer",
                              persistent=True).start()
        if not self.broker_up:
            self.broker.stop()  # its carer's session is kept on disk: what reaches it later is queued
        try:
            if self.kind in KILL_KINDS:
                self._kill_trial()
            else:
                self._storage_trial()
        finally:
            self.cleanup()
        self.outcome.seconds = round(time.monotonic() - started, 1)
        return self.outcome

    def _bring_broker_up(self) -> None:
        if not self.broker_up:
            self.broker.start()

    def _storage_trial(self) -> None:
        kind = self.kind
        trigger = None
        if kind == "disk_full":
            self.mount_tmpfs("512k")
        elif kind == "readonly_at_start":
            self.mount_tmpfs("1m")
            (self.state_dir / "calibration.json").write_text(json.dumps(IDENTITY))
            _sh("mount", "-o", "remount,ro", str(self.state_dir))
        elif kind == "ext4_error_remount_ro":
            trigger = self.mount_ext4()
        else:
            self.state_dir.mkdir(parents=True)
        if kind != "readonly_at_start":
            (self.state_dir / "calibration.json").write_text(json.dumps(IDENTITY))
        run = self.start("backward_fall")
        if kind == "disk_full":
            # after the loss of balance is on disk: with the broker down, its acknowledgement then meets the
            # full disk (the crash: mark_delivered on 'database or disk is full')
            self.heard(run, "loss of balance alarm")
            self.fill()
        elif trigger is not None:
            Path(trigger).write_text("retrowalk fault trial\n")
        elif kind == "state_dir_removed":
            shutil.rmtree(self.state_dir)
        self.heard(run, "fall alarm")
        self.heard(run, "help needed alarm")
        self._bring_broker_up()
        self.received(lambda got: {"fall", "help_needed", "storage_fault"} <= {e["type"] for e in got})
        if kind == "disk_full":
            (self.state_dir / "filler").unlink()
            (self.state_dir / "filler2").unlink(missing_ok=True)
        elif kind == "readonly_at_start":
            _sh("mount", "-o", "remount,rw", str(self.state_dir))
        if kind != "ext4_error_remount_ro":  # an ext4 error stays read-only until fsck: no recovery to see
            self.received(lambda got: any(e["type"] == "storage_fault" and e["features"].get("state") == "recovered"
                                          for e in got))
        assert run.proc.poll() is None, f"{kind}: the daemon exited: {run.stderr()[-2000:]}"
        self.stop(run)

    def _kill_trial(self) -> None:
        self.state_dir.mkdir(parents=True)
        (self.state_dir / "calibration.json").write_text(json.dumps(IDENTITY))
        step = {"sigkill_before_the_impact": "loss of balance alarm", "sigkill_in_cancel_window": "fall alarm",
                "sigkill_while_help_sounds": "help needed alarm"}[self.kind]
        window_s = 4.0 if self.kind == "sigkill_in_cancel_window" else 2.0
        # killed before the impact, the daemon never sees the fall: the long lie is the net (10 s here)
        long_lie_s = 10.0 if self.kind == "sigkill_before_the_impact" else 120.0
        first = self.start("backward_fall", window_s, long_lie_s)
        self.heard(first, step)
        self.kill(first)
        self.outcome.heard.append("(SIGKILL)")
        second = self.start("lying", window_s, long_lie_s)  # the wearer on the floor
        self.heard(second, "help needed alarm", timeout_s=30)
        self._bring_broker_up()
        wanted = {"help_needed"} if self.kind == "sigkill_before_the_impact" else {"fall", "help_needed"}
        self.received(lambda got: wanted <= {e["type"] for e in got})
        assert second.proc.poll() is None, f"{self.kind}: the restarted daemon exited: {second.stderr()[-2000:]}"
        self.stop(second)


def run_trial(kind: str, broker_up: bool, workdir: Path) -> Outcome:
    workdir.mkdir(parents=True, exist_ok=True)
    return Trial(kind, broker_up, workdir).run()
