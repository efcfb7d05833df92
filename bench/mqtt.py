"""Benchmark: from the detector emitting an event to the buzzer pin going high, and to a subscriber receiving it.

    python bench/mqtt.py [--events 1000] [--warmup 20] [--dir DIR]

Each event takes the daemon's path, one at a time (events are rare; this is latency, not throughput):

1. ``AlertManager.handle(event)`` on gpiozero's MockFactory pins: timed until the buzzer pin reads high.
2. ``Outbox.put(event)`` — the durable write (SQLite WAL, ``synchronous=FULL``: one fsync, on the disk that
   holds the system temp dir) — then ``Publisher.step()`` hands it to paho (QoS 1), and a subscriber on
   loopback (its own connection to the same broker) receives it: timed from before ``handle`` to the
   subscriber's ``on_message``.

The PUBACK and the outbox delete happen after the subscriber has the event, between iterations. A bench-local
Mosquitto listens on a free 127.0.0.1 port. The last stdout line is one JSON object with ``buzzer_p99_ms``,
``mqtt_p50_ms``, ``mqtt_p99_ms`` (and the outbox write alone, ``outbox_put_p50_ms`` / ``outbox_put_p99_ms``).
"""
from __future__ import annotations

import argparse
import json
import os
import queue
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from firmware_py.alerting.alerts import AlertManager, AlertSettings  # noqa: E402
from firmware_py.events import FALL, Event  # noqa: E402
from firmware_py.transport.mqtt import Follower, MqttSettings, Publisher  # noqa: E402
from firmware_py.transport.outbox import Outbox  # noqa: E402
from hal.clock import FakeClock, MonotonicClock  # noqa: E402
from hal.gpio import build_gpio, mock_pin_factory  # noqa: E402
from tests.broker import Mosquitto  # noqa: E402


def percentile_ms(values_s: List[float], q: float) -> float:
    ordered = sorted(values_s)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return round(ordered[index] * 1000, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=20, help="events before timing starts (not counted)")
    parser.add_argument("--dir", default=None,
                        help="where the outbox and broker files go (default: the system temp dir); on a Pi, "
                             "point it at the SD card's state dir to time the fsync that matters")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="retrowalk-bench-mqtt-", dir=args.dir))
    broker = Mosquitto(workdir / "broker").start()
    factory = mock_pin_factory()
    alert_settings = AlertSettings()
    alert_clock = FakeClock()  # the alarm's own timers (cooldown, rate limit) are stepped past between events
    gpio = build_gpio(alert_settings.gpio, pin_factory=factory, clock=alert_clock)
    alerts = AlertManager(gpio, alert_clock, alert_settings)
    buzzer_pin = factory.pin(alert_settings.buzzer_pin)

    clock = MonotonicClock()
    outbox = Outbox(workdir / "outbox.sqlite3", clock)
    settings = MqttSettings(port=broker.port, device_id="bench", reconnect_min_s=0.05, reconnect_max_s=0.5)
    publisher = Publisher(settings, outbox, clock)
    follower = Follower(settings, ["retrowalk/bench/event"]).start()
    publisher.start()
    try:
        deadline = time.monotonic() + 10
        while not publisher.is_connected and time.monotonic() < deadline:
            publisher.step()
            publisher.wait(0.1)
        if not publisher.is_connected:
            raise SystemExit(f"bench mqtt: publisher did not connect: {publisher.last_error}")

        buzzer_s: List[float] = []
        mqtt_s: List[float] = []
        put_s: List[float] = []
        for n in range(args.warmup + args.events):
            alert_clock.advance(600.0)  # past cooldown, rate limit and the cancel window of the last one
            event = Event(FALL, t_onset_s=n, t_detect_s=n + 0.3, features={"peak_accel_g": 3.1, "seq": n},
                          wall_time=time.time())
            t0 = time.monotonic()
            alerts.handle(event)
            t_pin = time.monotonic()
            if not buzzer_pin.state:
                raise SystemExit("bench mqtt: the buzzer pin is not high after handle(fall)")
            outbox.put(event, "bench")
            t_put = time.monotonic()
            publisher.step()
            try:
                topic, payload, _retained, t_recv = follower.messages.get(timeout=5)
            except queue.Empty:
                raise SystemExit(f"bench mqtt: event {n} never reached the subscriber") from None
            if json.loads(payload)["id"] != event.id:
                raise SystemExit(f"bench mqtt: event {n}: got another event first (a resend?)")
            alerts.cancel("bench")
            alerts.tick()
            while outbox.depth():  # the PUBACK: applied before the next event, outside the timing
                publisher.wait(1.0)
                publisher.step()
            if n >= args.warmup:
                buzzer_s.append(t_pin - t0)
                put_s.append(t_put - t_pin)
                mqtt_s.append(t_recv - t0)
    finally:
        publisher.close()
        follower.close()
        outbox.close()
        alerts.close()
        gpio.close()
        broker.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    figures = {
        "events": len(mqtt_s),
        "buzzer_p50_ms": percentile_ms(buzzer_s, 50),
        "buzzer_p99_ms": percentile_ms(buzzer_s, 99),
        "outbox_put_p50_ms": percentile_ms(put_s, 50),
        "outbox_put_p99_ms": percentile_ms(put_s, 99),
        "mqtt_p50_ms": percentile_ms(mqtt_s, 50),
        "mqtt_p99_ms": percentile_ms(mqtt_s, 99),
        "mqtt_max_ms": round(max(mqtt_s) * 1000, 3),
        "cpus": os.cpu_count(),
    }
    print(f"event -> buzzer pin high: p50 {figures['buzzer_p50_ms']} ms, p99 {figures['buzzer_p99_ms']} ms")
    print(f"outbox.put (WAL, synchronous=FULL): p50 {figures['outbox_put_p50_ms']} ms, "
          f"p99 {figures['outbox_put_p99_ms']} ms")
    print(f"event -> loopback subscriber over {figures['events']} events: p50 {figures['mqtt_p50_ms']} ms, "
          f"p99 {figures['mqtt_p99_ms']} ms, max {figures['mqtt_max_ms']} ms")
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
