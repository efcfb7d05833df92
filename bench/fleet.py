"""Benchmark: many wearers on one broker — N devices, one carer, every event delivered once and in order.

    python bench/fleet.py [--devices 10 100 500] [--rounds 20] [--period 1.0] [--dir DIR]

Each device is the daemon's real MQTT side: its own ``Outbox`` (SQLite, ``synchronous=FULL``) and ``Publisher``
(its own paho client and network thread, QoS 1, ``max_inflight``, removal on PUBACK). Events are synthetic
(labelled so in their features): every ``--period`` seconds each device raises one, types cycling through
``events.EVENT_TYPES``, with the devices spread evenly over the period, for ``--rounds`` rounds. One follower —
the carer — subscribes to ``retrowalk/+/event`` at QoS 1 on its own connection.

For each N a fresh Mosquitto listens on a free 127.0.0.1 port. Measured:

- ``lost``: events put into an outbox that never reached the follower (after dedupe by ``id``);
  ``duplicates``: copies it dropped; ``out_of_order``: events of one device that arrived before an earlier one;
- latency from ``Outbox.put`` (the durable write included) to the follower's ``on_message``, p50 / p99 / max;
- the broker's CPU (% of one core over the run, from /proc/<pid>/stat) and memory (VmRSS at the end and
  VmHWM, its peak, from /proc/<pid>/status); this process's CPU too (it runs every device and the follower).

The devices run in worker processes of up to 100 each (one main thread stepping its publishers every 50 ms,
like that many daemons' loops taking turns); the follower in this process. On a 2-core machine the devices,
the follower and the broker share the cores, so the latencies include that contention. The last stdout line is
one JSON object: ``{"runs": [per-N figures...], "lost_total": ..., "latency_p99_ms_max": ...}``.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import queue
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from multiprocessing.connection import Connection
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from firmware_py.events import EVENT_TYPES, Event  # noqa: E402
from firmware_py.transport.follower import Follower  # noqa: E402
from firmware_py.transport.mqtt import MqttSettings, Publisher  # noqa: E402
from firmware_py.transport.outbox import Outbox  # noqa: E402
from hal.clock import MonotonicClock  # noqa: E402
from tests.broker import Mosquitto  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
LOOP_S = 0.05  # the daemon's loop period
GROUP = 100  # devices per worker process (see run_group)


def percentile_ms(values_s: List[float], q: float) -> float:
    if not values_s:
        return float("nan")
    ordered = sorted(values_s)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[index] * 1000, 2)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (fields 14 and 15 of /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def memory_mb(pid: int) -> Tuple[float, float]:
    """(VmRSS, VmHWM) in MB from /proc/<pid>/status."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return round(values.get("VmRSS", 0.0), 1), round(values.get("VmHWM", 0.0), 1)


def step_all(publishers: List[Publisher]) -> None:
    for pub in publishers:
        pub.step()


def run_group(first: int, count: int, n: int, port: int, rounds: int, period_s: float, workdir: str,
              conn: Connection) -> None:
    """One worker process: devices ``first .. first+count-1`` of the fleet, each its own outbox and publisher.

    paho waits on its sockets with select(), which cannot watch a file descriptor above 1023, and each device
    holds about six (socket, wake-up pipe, SQLite files): hence up to ``GROUP`` devices per process.
    """
    clock = MonotonicClock()
    base = dict(host="127.0.0.1", port=port, reconnect_min_s=0.5, reconnect_max_s=5.0, keepalive_s=60)
    outboxes, publishers = [], []
    try:
        for i in range(first, first + count):
            outbox = Outbox(Path(workdir) / f"fleet-{i:04d}-{n}.sqlite3", clock)
            pub = Publisher(MqttSettings(device_id=f"fleet-{i:04d}", **base), outbox, clock)
            pub.start()
            outboxes.append(outbox)
            publishers.append(pub)
        deadline = time.monotonic() + 60
        while not all(p.is_connected for p in publishers) and time.monotonic() < deadline:
            step_all(publishers)
            time.sleep(0.05)  # a fleet connecting: nothing to wait on but the broker's answers
        conn.send(("ready", sum(p.is_connected for p in publishers)))
        t0 = conn.recv()  # CLOCK_MONOTONIC is one clock for every process on the machine
        cpu0 = cpu_s(os.getpid())
        put_at: Dict[str, float] = {}
        expected: Dict[str, List[str]] = {}
        slot_s = period_s / n
        next_loop_s = t0
        for r in range(rounds):
            for k, (outbox, pub) in enumerate(zip(outboxes, publishers)):
                due = t0 + r * period_s + (first + k) * slot_s
                while True:
                    now = time.monotonic()
                    if now >= next_loop_s:  # every device's loop turns every LOOP_S, as the daemon's does
                        step_all(publishers)
                        next_loop_s = now + LOOP_S
                    if now >= due:
                        break
                    time.sleep(min(due - now, 0.005))
                device = pub.settings.device_id
                kind = EVENT_TYPES[(r + first + k) % len(EVENT_TYPES)]
                event = Event(kind, t_onset_s=r * period_s, t_detect_s=r * period_s,
                              features={"synthetic": True, "seq": r}, wall_time=time.time())
                put_at[event.id] = time.monotonic()
                outbox.put(event, device)
                expected.setdefault(device, []).append(event.id)
                pub.step()
        while not conn.poll(LOOP_S):  # keep delivering (and taking PUBACKs) until the follower is done
            step_all(publishers)
        conn.recv()
        deadline = time.monotonic() + 10
        while any(o.depth() for o in outboxes) and time.monotonic() < deadline:  # the last PUBACKs
            step_all(publishers)
            time.sleep(0.01)
        left = sum(o.depth() for o in outboxes)
        conn.send(("done", put_at, expected, left, cpu_s(os.getpid()) - cpu0))
    finally:
        for pub in publishers:
            pub.close(timeout_s=0.2)
        for outbox in outboxes:
            outbox.close()


def run_fleet(n: int, rounds: int, period_s: float, workdir: Path, drain_timeout_s: float,
              outage_s: float = 0.0, queued_max: int = 100_000) -> Dict:
    # with an outage the broker keeps sessions on disk and the carer has a persistent one, as in a care home:
    # then the only way to lose an event is for a device to lose it. Mosquitto's default max_queued_messages
    # (1000 per client) drops what it has already acknowledged to the devices once a backlog outgrows it while
    # the carer is away (measured: 1,767 of 10,000 lost at N = 500 after 5 s); docs/mqtt.md says to raise it.
    keep = (["persistence true", f"persistence_location {workdir}/broker-{n}/",
             f"max_queued_messages {queued_max}"] if outage_s else [])
    broker = Mosquitto(workdir / f"broker-{n}", extra_conf=keep).start()
    context = multiprocessing.get_context("spawn")  # fresh interpreters: no paho threads copied by a fork
    workers = []
    follower = Follower(MqttSettings(device_id="carer", host="127.0.0.1", port=broker.port, reconnect_min_s=0.2,
                                     reconnect_max_s=2.0),
                        ["retrowalk/+/event"], client_id=f"fleet-carer-{n}" if outage_s else "",
                        persistent=bool(outage_s)).start(timeout_s=30)
    try:
        t_connect = time.monotonic()
        for first in range(0, n, GROUP):
            mine, theirs = context.Pipe()
            proc = context.Process(target=run_group, name=f"fleet-{first}", args=(
                first, min(GROUP, n - first), n, broker.port, rounds, period_s, str(workdir), theirs))
            proc.start()
            workers.append((proc, mine))
        connected = 0
        for proc, conn in workers:
            if not conn.poll(120):
                raise SystemExit(f"bench fleet: worker {proc.name} did not start within 120 s")
            connected += conn.recv()[1]
        if connected < n:
            raise SystemExit(f"bench fleet: only {connected} of {n} devices connected within 60 s")
        connect_s = time.monotonic() - t_connect
        t0 = time.monotonic() + 0.2
        for _proc, conn in workers:
            conn.send(t0)
        broker_cpu0, own_cpu0 = cpu_s(broker.proc.pid), cpu_s(os.getpid())

        sent = n * rounds
        received: Dict[str, Tuple[str, float]] = {}
        duplicates = 0
        deadline = t0 + rounds * period_s + outage_s + drain_timeout_s
        outage_at = t0 + rounds * period_s / 2 if outage_s else None
        broker_cpu_before = 0.0
        while len(received) < sent and time.monotonic() < deadline:
            if outage_at is not None and time.monotonic() >= outage_at:
                outage_at = None
                broker_cpu_before = cpu_s(broker.proc.pid) - broker_cpu0
                broker.stop()  # halfway: every device and the carer lose the broker; events keep coming
                time.sleep(outage_s)
                broker.start()
                broker_cpu0 = cpu_s(broker.proc.pid)
            try:
                topic, payload, _retained, t_recv = follower.messages.get(timeout=0.5)
            except queue.Empty:
                continue
            body = json.loads(payload)
            if body["id"] in received:
                duplicates += 1
                continue
            received[body["id"]] = (body["device"], t_recv)
        t_end = time.monotonic()
        broker_cpu = broker_cpu_before + cpu_s(broker.proc.pid) - broker_cpu0
        own_cpu = cpu_s(os.getpid()) - own_cpu0
        rss_mb, peak_mb = memory_mb(broker.proc.pid)
        put_at: Dict[str, float] = {}
        expected: Dict[str, List[str]] = {}
        left_in_outboxes, workers_cpu = 0, 0.0
        for _proc, conn in workers:
            conn.send("stop")
            _done, their_put_at, their_expected, left, cpu = conn.recv()
            put_at.update(their_put_at)
            expected.update(their_expected)
            left_in_outboxes += left
            workers_cpu += cpu
    finally:
        for proc, _conn in workers:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
        follower.close()
        broker.stop()

    order: Dict[str, List[str]] = {d: [] for d in expected}
    for event_id, (device, _t) in sorted(received.items(), key=lambda item: item[1][1]):
        order.setdefault(device, []).append(event_id)
    out_of_order = 0
    for device, ids in expected.items():
        position = {event_id: k for k, event_id in enumerate(ids)}
        arrived = [position[e] for e in order[device] if e in position]
        out_of_order += sum(1 for a, b in zip(arrived, arrived[1:]) if b < a)
    latencies = [t - put_at[i] for i, (_d, t) in received.items() if i in put_at]
    elapsed_s = t_end - t0
    return {
        "devices": n, "rounds": rounds, "period_s": period_s, "broker_outage_s": outage_s,
        "broker_max_queued_messages": queued_max if outage_s else None,
        "worker_processes": len(workers),
        "events_sent": len(put_at), "events_delivered": len(received), "lost": len(put_at) - len(received),
        "duplicates": duplicates, "out_of_order": out_of_order, "left_in_outboxes": left_in_outboxes,
        "latency_p50_ms": percentile_ms(latencies, 50), "latency_p99_ms": percentile_ms(latencies, 99),
        "latency_max_ms": percentile_ms(latencies, 100),
        "events_per_s": round(len(put_at) / elapsed_s, 1), "connect_s": round(connect_s, 2),
        "broker_cpu_percent": round(100 * broker_cpu / elapsed_s, 1), "broker_rss_mb": rss_mb,
        "broker_rss_peak_mb": peak_mb, "follower_cpu_percent": round(100 * own_cpu / elapsed_s, 1),
        "devices_cpu_percent": round(100 * workers_cpu / elapsed_s, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--devices", type=int, nargs="+", default=[10, 100, 500])
    parser.add_argument("--rounds", type=int, default=20, help="events per device (default 20)")
    parser.add_argument("--period", type=float, default=1.0, help="seconds between one device's events")
    parser.add_argument("--drain-timeout", type=float, default=60.0, help="how long to wait for stragglers")
    parser.add_argument("--max-queued", type=int, default=100_000, metavar="N",
                        help="the broker's max_queued_messages in an --outage run (Mosquitto's default: 1000)")
    parser.add_argument("--outage", type=float, default=0.0, metavar="S",
                        help="stop the broker for S seconds halfway through (it keeps sessions on disk, the "
                             "carer has a persistent session); default 0: no outage")
    parser.add_argument("--dir", default=None, help="where the outboxes and broker files go (default: temp dir)")
    args = parser.parse_args()

    # the broker (started from here, so it inherits the limit) holds a socket per device
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = 2 * max(args.devices) + 100
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    workdir = Path(tempfile.mkdtemp(prefix="retrowalk-bench-fleet-", dir=args.dir))
    runs = []
    try:
        for n in args.devices:
            figures = run_fleet(n, args.rounds, args.period, workdir, args.drain_timeout, args.outage,
                                args.max_queued)
            print(f"N={n}: {json.dumps(figures)}", flush=True)
            runs.append(figures)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print(json.dumps({
        "synthetic_events": True, "cpus": os.cpu_count(), "runs": runs,
        "lost_total": sum(r["lost"] for r in runs),
        "out_of_order_total": sum(r["out_of_order"] for r in runs),
        "latency_p99_ms_max": max(r["latency_p99_ms"] for r in runs),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
