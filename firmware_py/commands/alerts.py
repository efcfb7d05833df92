"""retrowalk alerts — follow every wearer's events and status from the broker, one readable line each.

For carers and for the terminal: ``retrowalk alerts --host 192.0.2.10`` prints e.g.::

    2026-11-25 15:02:11  walker-1  FALL            critical  fell (peak 3.4 g, tilt 82°, 0.45 s before impact)

Events are deduplicated by ``id`` (delivery is at least once). ``--json`` prints each event's JSON instead.
"""
from __future__ import annotations

import argparse
import json
import queue
import re
import sys
import time
from collections import OrderedDict
from datetime import datetime
from typing import Any, Dict, Optional

HELP = "follow wearers' events and status from the MQTT broker (for carers)"

#: what happened, in words
WORDS = {
    "stumble": "stumbled",
    "loss_of_balance": "lost balance",
    "fall": "fell",
    "help_needed": "NEEDS HELP: lying still after a fall, alarm not cancelled",
    "recovered": "recovered",
    "cancelled": "cancelled the alarm (I'm OK)",
    "sos": "SOS: pressed and held the button",
    "sensor_fault": "sensor fault",
    "storage_fault": "storage fault (events kept in memory until the disk works)",
    "session_summary": "session summary",
}

_FEATURES = (("peak_accel_g", "peak {:.1f} g"), ("tilt_deg", "tilt {:.0f}°"), ("trunk_rate_dps", "{:.0f} °/s"),
             ("lead_s", "{:.2f} s before impact"))

_SEEN_MAX = 10000


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="broker host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="broker port (default 1883, 8883 with --tls)")
    parser.add_argument("--prefix", default="retrowalk", help="topic prefix (default retrowalk)")
    parser.add_argument("--json", action="store_true", help="print each event's JSON, one per line")
    parser.add_argument("--tls", action="store_true", help="connect with TLS (system CAs unless --ca-file)")
    parser.add_argument("--ca-file", default="", help="CA certificate (PEM) that signed the broker's certificate")
    parser.add_argument("--username", default="", help="broker user name")
    parser.add_argument("--password-file", default="", help="file whose first line is the broker password")
    parser.add_argument("--session", default="", metavar="NAME", type=_session_name,
                        help="keep a broker session under this name: events published while this terminal is "
                             "away are shown when it is back")
    parser.add_argument("--count", type=int, default=0, metavar="N", help="exit after N events (default: never)")
    parser.add_argument("--timeout", type=float, default=0.0, metavar="S",
                        help="exit after S seconds (default: never)")
    parser.add_argument("--connect-timeout", type=float, default=10.0, metavar="S",
                        help="give up if the broker has not answered within S seconds (default 10)")


def _session_name(text: str) -> str:
    if text and not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", text):  # argparse also passes the default ""
        raise argparse.ArgumentTypeError(f"session name {text!r} is not allowed; use 1 to 40 letters, digits, "
                                         f"'-' or '_'")
    return text


def describe(event: Dict[str, Any]) -> str:
    """One readable line for an event JSON object (local time)."""
    # any client on the broker can publish here: a field of the wrong type must not end the carer's terminal
    kind = str(event.get("type", "?"))
    words = WORDS.get(kind, kind)
    details = []
    features = event.get("features") or {}
    for key, fmt in _FEATURES:
        value = features.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            details.append(fmt.format(value))
    if details:
        words += f" ({', '.join(details)})"
    return (f"{_local_time(event.get('time'))}  {event.get('device', '?')}  {kind.upper():15s} "
            f"{str(event.get('severity', '?')):8s}  {words}")


def _local_time(iso: Any) -> str:
    if not iso or not isinstance(iso, str):
        return "(time unknown)     "
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return iso


def run(args: argparse.Namespace) -> int:
    from ..errors import ConfigError
    from ..mqtt import Follower, MqttSettings, MqttTlsSettings

    try:
        tls = MqttTlsSettings(enabled=bool(args.tls or args.ca_file), ca_file=args.ca_file)
        settings = MqttSettings(host=args.host, port=args.port or (8883 if tls.enabled else 1883),
                                prefix=args.prefix, tls=tls, username=args.username,
                                password_file=args.password_file, device_id="alerts", reconnect_min_s=1.0,
                                reconnect_max_s=30.0)
    except ValueError as exc:
        raise ConfigError(f"{exc} (command-line option)") from None
    event_topic, status_topic = f"{args.prefix}/+/event", f"{args.prefix}/+/status"
    seen: "OrderedDict[str, None]" = OrderedDict()
    shown = 0
    deadline = time.monotonic() + args.timeout if args.timeout > 0 else None
    follower = Follower(settings, [event_topic, status_topic],
                        client_id=f"retrowalk-alerts-{args.session}" if args.session else "",
                        persistent=bool(args.session))
    with follower.start(args.connect_timeout):
        print(f"following {event_topic} and {status_topic} on {settings.broker}", file=sys.stderr, flush=True)
        while not (args.count and shown >= args.count):
            wait_s = None if deadline is None else deadline - time.monotonic()
            if wait_s is not None and wait_s <= 0:
                break
            try:
                topic, payload, _retained, _t = follower.messages.get(timeout=min(wait_s or 1.0, 1.0))
            except queue.Empty:  # look at the deadline again
                continue
            if topic.endswith("/status"):
                _show_status(topic, payload, args.json)
                continue
            event = _parse_event(topic, payload)
            if event is None or event.get("id") in seen:
                continue
            seen[event["id"]] = None
            if len(seen) > _SEEN_MAX:
                seen.popitem(last=False)
            print(json.dumps(event, sort_keys=True) if args.json else describe(event), flush=True)
            shown += 1
    return 0


def _show_status(topic: str, payload: bytes, as_json: bool) -> None:
    device = topic.split("/")[-2]
    status = payload.decode("utf-8", "replace")
    if as_json:
        print(json.dumps({"device": device, "status": status}), flush=True)
    else:
        print(f"{datetime.now().strftime('%Y-%m-%d %H:%M:%S')}  {device}  is {status}", flush=True)


def _parse_event(topic: str, payload: bytes) -> Optional[Dict[str, Any]]:
    try:
        event = json.loads(payload)
    except ValueError:
        event = None
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        print(f"retrowalk alerts: ignored a message on {topic} that is not an event JSON object",
              file=sys.stderr, flush=True)
        return None
    return event
