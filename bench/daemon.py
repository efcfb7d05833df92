"""Benchmark of ``retrowalk run`` on the emulated chip at 200 Hz, in real time.

    python bench/daemon.py [--seconds S] [--loaded-seconds L] [--scenario backward_walk|still]

1. CPU, walking (synthetic ``backward_walk``, looped; ``--scenario still`` for a wearer at rest): the daemon's
   user+system time (``/proc/<pid>/stat``, all its threads) over ``S`` seconds (default 60) after READY, as
   percent of one core, minus the emulated
   chip's own CPU: the emulated bus meters the time its calls spend in the emulator (``time.thread_time``,
   ``EmulatedI2CBus.cpu_s``) and the daemon logs it at shutdown; a real MPU-6050 costs the Pi none of that.
   Both figures are printed. Resident memory (``VmRSS``) at the end.
2. The wearer's timing, from the daemon's shutdown line (``firmware_py.daemon.timing``): sample-to-event
   latency, measured for the last sample of every detection frame (each one could complete an event): wall
   time from that sample to the pipeline returning, apart for frames read while the wearer rested (several
   frames a read: ``*_resting``); event-to-buzzer, for every alarm the run started.
3. Loaded: two CPU burners (bounded, killed at the end) run while the daemon samples the synthetic
   ``demo_walk`` (a stumble, a loss of balance, a fall, lying still, looped) for ``L`` seconds (default 600;
   ``--loaded-seconds 0`` skips this phase, and its keys are ``null``, e.g. for CPU A/B runs on a shared machine):
   samples lost (the driver's own count of FIFO overflow gaps), the timing under load, and the
   event-to-buzzer figures of the alarms it raised.

A bench-local Mosquitto on a free 127.0.0.1 port receives what the daemon publishes, when mosquitto is
installed. On a machine shared with other work the latency percentiles are noisier than the CPU figure (the
daemon's own CPU time does not count other processes). The last stdout line is one JSON object with
``cpu_percent_200hz``, ``rss_mb``, ``lost_samples_loaded``, ``sample_to_event_p99_ms``, ``buzzer_p99_ms``
(and more).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.broker import Mosquitto, find_mosquitto, free_port  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
STOPPED = re.compile(r"stopped after (\d+) samples in ([\d.]+) s \((\d+) lost\)")
TIMING = re.compile(r"timing (\{.*\})")
EMULATOR_CPU = re.compile(r"emulated chip: ([\d.]+) s of CPU")

CONFIG = """\
[sensor]
sample_rate_hz = 200

[daemon]
driver = "emulated"
telemetry_interval_s = 5

[daemon.emulator]
scenario = "{scenario}"
loop = true

[mqtt]
host = "127.0.0.1"
port = {port}
device_id = "bench"

[paths]
state_dir = "{state_dir}"
"""


def cpu_ticks(pid: int) -> int:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of proc(5))


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """``VmRSS`` (everything resident), or ``RssAnon`` (the daemon's own allocations: unlike the shared
    libraries' file pages, it does not depend on how much of numpy the page cache happened to map in)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError(f"no {field} for pid {pid}")


class DaemonProcess:
    """``retrowalk run`` as systemd would start it, with a NOTIFY_SOCKET we read READY from."""

    def __init__(self, workdir: Path, port: int, scenario: str = "backward_walk") -> None:
        self.workdir = workdir
        state_dir = workdir / "state"
        state_dir.mkdir(parents=True, exist_ok=True)
        self.config = workdir / "bench.toml"
        self.config.write_text(CONFIG.format(port=port, state_dir=state_dir, scenario=scenario))
        self.notify_path = workdir / "notify.sock"
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(str(self.notify_path))
        self.stderr_path = workdir / "daemon.stderr"
        self.proc: Optional[subprocess.Popen] = None

    def start(self, timeout_s: float = 30.0) -> None:
        env = dict(os.environ, NOTIFY_SOCKET=str(self.notify_path), PYTHONUNBUFFERED="1")
        with open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "firmware_py.cli", "-v", "run",
                                          "--config", str(self.config)],
                                         cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
        self.notify.settimeout(timeout_s)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                message = self.notify.recv(4096).decode()
            except socket.timeout:
                break
            if "READY=1" in message.split("\n"):
                return
        raise SystemExit(f"the daemon did not send READY=1 within {timeout_s} s; its stderr:\n"
                         f"{self.stderr_path.read_text()[-3000:]}")

    def stop(self) -> Tuple[int, float, int, dict, float]:
        """SIGTERM, wait, and return from its shutdown lines: samples received, seconds sampled, samples lost,
        the timing figures, and the emulated chip's CPU seconds."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise SystemExit("the daemon did not stop within 10 s of SIGTERM")
        self.notify.close()
        text = self.stderr_path.read_text()
        found = STOPPED.findall(text)
        if not found:
            raise SystemExit(f"no 'stopped after N samples in T s (M lost)' line from the daemon; "
                             f"stderr:\n{text[-3000:]}")
        received, seconds, lost = found[-1]
        timing = TIMING.findall(text)
        emulator = EMULATOR_CPU.findall(text)
        if not timing or not emulator:
            raise SystemExit(f"no 'timing {{...}}' or 'emulated chip: ... s of CPU' line from the daemon; "
                             f"stderr:\n{text[-3000:]}")
        return int(received), float(seconds), int(lost), json.loads(timing[-1]), float(emulator[-1])


def start_burners(count: int, seconds: float) -> List[subprocess.Popen]:
    # each burner stops by itself a little after the run, even if this script is killed
    code = f"import time\nend = time.monotonic() + {seconds + 30:.0f}\nwhile time.monotonic() < end: pass\n"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]


def stop_burners(burners: List[subprocess.Popen]) -> None:
    for p in burners:
        if p.poll() is None:
            p.kill()
    for p in burners:
        p.wait()


def measure_cpu(workdir: Path, port: int, seconds: float, scenario: str = "backward_walk") -> dict:
    daemon = DaemonProcess(workdir / "cpu", port, scenario)
    daemon.start()
    try:
        pid = daemon.proc.pid
        time.sleep(2.0)  # let imports and the first allocations settle before measuring
        t0, ticks0 = time.monotonic(), cpu_ticks(pid)
        time.sleep(seconds)
        t1, ticks1 = time.monotonic(), cpu_ticks(pid)
        rss, rss_anon = rss_mb(pid), rss_mb(pid, "RssAnon")
    finally:
        received, sampled_s, lost, timing, emulator_s = daemon.stop()
    cpu = 100.0 * (ticks1 - ticks0) / CLK_TCK / (t1 - t0)
    # the emulator's share over the whole run: its work is the same every second (200 samples made)
    emulator = 100.0 * emulator_s / sampled_s
    figures = {"cpu_percent_200hz": round(cpu - emulator, 2), "cpu_percent_with_emulator": round(cpu, 2),
               "emulator_cpu_percent": round(emulator, 2), "rss_mb": round(rss, 1), "rss_anon_mb": round(rss_anon, 1), "samples_idle": received,
               "lost_samples_idle": lost, "fifo_reads_per_s": round(timing["fifo_reads"] / sampled_s, 1)}
    figures.update({key: timing[key] for key in ("sample_to_event_p50_ms", "sample_to_event_p99_ms",
                                                 "sample_to_event_max_ms", "frames_timed")})
    return figures


def measure_loaded(workdir: Path, port: int, seconds: float) -> dict:
    burners = start_burners(2, seconds)
    daemon = DaemonProcess(workdir / "loaded", port, scenario="demo_walk")
    try:
        daemon.start()
        time.sleep(seconds)
        received, sampled_s, lost, timing, _ = daemon.stop()
    finally:
        stop_burners(burners)
        if daemon.proc is not None and daemon.proc.poll() is None:
            daemon.proc.kill()
    # cross-check of the driver's own count: what 200 Hz over the daemon's run should have given (the last
    # poll interval before shutdown is never drained, so a few samples short is expected)
    return {"lost_samples_loaded": lost, "samples_loaded": received,
            "samples_expected_loaded": int(200 * sampled_s), "loaded_seconds": round(sampled_s, 1),
            "sample_to_event_p50_ms_loaded": timing["sample_to_event_p50_ms"],
            "sample_to_event_p99_ms_loaded": timing["sample_to_event_p99_ms"],
            "sample_to_event_p99_ms_loaded_resting": timing["sample_to_event_p99_ms_resting"],
            "frames_timed_loaded": timing["frames_timed"],
            "frames_timed_loaded_resting": timing["frames_timed_resting"],
            "buzzer_p50_ms": timing["buzzer_p50_ms"], "buzzer_p99_ms": timing["buzzer_p99_ms"],
            "buzzer_max_ms": timing["buzzer_max_ms"], "alarms_timed": timing["alarms_timed"]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=None,
                    help="length of each phase (default: 60 s for CPU, 600 s for the loaded run)")
    ap.add_argument("--loaded-seconds", type=float, default=None,
                    help="length of the loaded run only (0: no loaded run)")
    ap.add_argument("--scenario", default="backward_walk", choices=("backward_walk", "still"),
                    help="what the wearer does in the CPU phase (still: resting reads, several frames each)")
    args = ap.parse_args()
    cpu_s = args.seconds or 60.0
    loaded_s = args.loaded_seconds if args.loaded_seconds is not None else (args.seconds or 600.0)
    with tempfile.TemporaryDirectory(prefix="retrowalk-bench-daemon-") as tmp:
        workdir = Path(tmp)
        broker = None
        if find_mosquitto() is not None:
            broker = Mosquitto(workdir / "broker").start()
            port = broker.port
        else:
            port = free_port()  # nothing listens: the daemon buffers in its outbox, as on a dead network
            print("mosquitto not installed: the daemon runs without a broker", file=sys.stderr)
        try:
            print(f"CPU and memory: retrowalk run at 200 Hz on the emulated chip ({args.scenario}) for {cpu_s:g} s "
                  f"({os.cpu_count()} cores on this machine)", flush=True)
            figures = measure_cpu(workdir, port, cpu_s, args.scenario)
            print(f"  cpu {figures['cpu_percent_200hz']} % of one core without the emulated chip "
                  f"({figures['cpu_percent_with_emulator']} % with it), rss {figures['rss_mb']} MB "
                  f"(own {figures['rss_anon_mb']} MB), "
                  f"{figures['fifo_reads_per_s']} FIFO reads/s", flush=True)
            print(f"  sample to event p50 {figures['sample_to_event_p50_ms']} ms, p99 "
                  f"{figures['sample_to_event_p99_ms']} ms over {figures['frames_timed']} frames", flush=True)
            if loaded_s > 0:
                print(f"lost samples with 2 CPU burners for {loaded_s:g} s (synthetic demo_walk, looped)",
                      flush=True)
                figures.update(measure_loaded(workdir, port, loaded_s))
                print(f"  received {figures['samples_loaded']} of ~{figures['samples_expected_loaded']}, "
                      f"lost {figures['lost_samples_loaded']}; sample to event p99 "
                      f"{figures['sample_to_event_p99_ms_loaded']} ms; event to buzzer p99 "
                      f"{figures['buzzer_p99_ms']} ms over {figures['alarms_timed']} alarms", flush=True)
            else:  # the keys stay on the last line, unmeasured
                print("no loaded run (--loaded-seconds 0)", flush=True)
                figures.update({"lost_samples_loaded": None, "buzzer_p99_ms": None})
        finally:
            if broker is not None:
                broker.stop()
    figures["broker"] = broker is not None
    figures["scenario"] = args.scenario
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
