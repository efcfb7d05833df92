"""A publishing process for the MQTT tests: an Outbox and a Publisher, as the daemon wires them, that can be
SIGKILLed. Reports on stdout, one line each: ``stored <id> <id> ...`` once its events are committed,
``connected`` the first time it is online, ``drained`` each time the outbox becomes empty.

    python -m tests.integration.publisher_proc --port P --outbox DB --device walker-1 --events 20
"""
from __future__ import annotations

import argparse
import sys
import time

from firmware_py.events import FALL, STUMBLE, Event
from firmware_py.transport.mqtt import MqttSettings, Publisher
from firmware_py.transport.outbox import Outbox
from hal.clock import MonotonicClock


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--outbox", required=True)
    parser.add_argument("--device", default="walker-1")
    parser.add_argument("--events", type=int, default=0, help="events to raise at start")
    parser.add_argument("--keepalive", type=int, default=5)
    args = parser.parse_args()

    clock = MonotonicClock()
    outbox = Outbox(args.outbox, clock)
    settings = MqttSettings(port=args.port, device_id=args.device, keepalive_s=args.keepalive,
                            reconnect_min_s=0.05, reconnect_max_s=0.3)
    publisher = Publisher(settings, outbox, clock)
    publisher.start()
    ids = []
    for seq in range(args.events):
        event = Event(FALL if seq % 5 == 0 else STUMBLE, t_onset_s=seq, t_detect_s=seq + 0.2,
                      features={"seq": seq}, wall_time=time.time())
        outbox.put(event, args.device)
        ids.append(event.id)
    print("stored " + " ".join(ids), flush=True)
    was_connected, was_empty = False, False
    while True:  # until killed
        publisher.step()
        if publisher.is_connected and not was_connected:
            print("connected", flush=True)
        was_connected = publisher.is_connected
        empty = outbox.depth() == 0
        if empty and not was_empty:
            print("drained", flush=True)
        was_empty = empty
        publisher.wait(0.5)


if __name__ == "__main__":
    sys.exit(main())
