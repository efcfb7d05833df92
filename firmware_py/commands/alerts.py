"""retrowalk alerts — follow every wearer's events and status from the broker, one readable line each.

For carers and for the terminal: ``retrowalk alerts --host 192.0.2.10`` prints e.g.::

    2026-11-25 15:02:11  walker-1  FALL            critical  fell (peak 3.4 g, tilt 82°, 0.45 s before impact)

It follows every device under the prefix (``--device`` picks one). Events are deduplicated by ``id`` (delivery
is at least once). What arrives together — the retained states of a whole care home at start, a session's
backlog, a burst after a broker restart — is printed most severe first, so the wearer who needs help is on the
first line, not the three-hundredth. Besides events it says when a device goes offline (its last will), what
state each wearer is in at start if not ok (the retained ``state`` topic), and when a device's outbox is
backing up (``outbox_depth`` in its telemetry, at ``--outbox-warn`` and again once drained). ``--json`` prints
one JSON object per line instead.
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
from typing import Any, Dict, List, Optional, Tuple

from ..alerting.urgency import CALLS_FOR_HELP
from ..alerting.wearer_state import STATE_FOR_EVENT
from ..events import DEFAULT_SEVERITY, SEVERITIES, WARNING

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
    "battery_low": "battery low: charge it soon",
    "power_fault": "power supply too weak (under-voltage)",
    "shutting_down": "MONITOR SWITCHING OFF: battery empty",
}

_FEATURES = (("peak_accel_g", "peak {:.1f} g"), ("tilt_deg", "tilt {:.0f}°"), ("trunk_rate_dps", "{:.0f} °/s"),
             ("lead_s", "{:.2f} s before impact"), ("battery_percent", "battery {:.0f} %"))

_SEEN_MAX = 10000
_QUIET_S, _BURST_MAX_S = 0.05, 0.5


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="broker host (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="broker port (default 1883, 8883 with --tls)")
    parser.add_argument("--prefix", default="retrowalk",
                        help="topic prefix (default retrowalk); '+' may stand for a whole level, e.g. "
                             "'homes/+/retrowalk' on a central broker that bridges many homes")
    parser.add_argument("--device", default="+", type=_device_name,
                        help="follow only this device id (default: every device under the prefix)")
    parser.add_argument("--outbox-warn", type=int, default=50, metavar="N",
                        help="say when a device reports N or more messages waiting in its outbox (default 50)")
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


def _device_name(text: str) -> str:
    from ..transport.topics import check_device_id

    if text == "+":
        return text
    try:
        return check_device_id(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# What comes first when several things arrive together: an event by its severity (``info`` lowest, 1), except
# that someone waiting for help comes before an alarm still in its cancel window; a wearer's retained state as
# the event that sets it; a device gone offline or an outbox backing up as a warning.
_SEVERITY_RANK = {severity: n for n, severity in enumerate(SEVERITIES, 1)}
_HELP_RANK = len(SEVERITIES) + 1


def _event_rank(kind: str, severity: str) -> int:
    return _HELP_RANK if kind in CALLS_FOR_HELP else _SEVERITY_RANK.get(severity, 0)


_STATE_RANK = {state: max(_event_rank(kind, DEFAULT_SEVERITY[kind])
                          for kind in STATE_FOR_EVENT if STATE_FOR_EVENT[kind] == state)
               for state in STATE_FOR_EVENT.values()}
_WARNING_RANK = _SEVERITY_RANK[WARNING]


class Fleet:
    """What the carer is told about many devices: each message in, the lines to print out (nothing printed
    here, except the warning about a message that is not an event).

    ``handle`` returns ``(rank, text, json_object, is_event)``; the caller sorts what arrived together by rank.
    """

    def __init__(self, outbox_warn: int = 50, seen_max: int = _SEEN_MAX, pattern: str = "retrowalk/+") -> None:
        self.outbox_warn = outbox_warn
        # a device is named by what the wildcards matched: "walker-1", or "home-a/walker-1" across homes
        self._wild = [n for n, level in enumerate(pattern.split("/")) if level == "+"]
        self._seen: "OrderedDict[str, None]" = OrderedDict()
        self._seen_max = seen_max
        self._backing_up: Dict[str, bool] = {}

    def handle(self, topic: str, payload: bytes, retained: bool, now_text: str) -> List[Tuple[int, str, Any, bool]]:
        levels = topic.split("/")  # <prefix>/<device>/<kind>, as subscribed
        device, kind = "/".join(levels[n] for n in self._wild if n < len(levels)) or levels[-2], levels[-1]
        if kind == "status":
            status = payload.decode("utf-8", "replace")
            rank = _WARNING_RANK if status != "online" else 0
            return [(rank, f"{now_text}  {device}  is {status}", {"device": device, "status": status}, False)]
        if kind == "state":
            return self._state(device, payload, retained)
        if kind == "telemetry":
            return self._telemetry(device, payload, now_text)
        event = _parse_event(topic, payload)
        if event is None or event.get("id") in self._seen:
            return []
        self._seen[event["id"]] = None
        if len(self._seen) > self._seen_max:
            self._seen.popitem(last=False)
        rank = _event_rank(str(event.get("type")), str(event.get("severity")))
        return [(rank, describe(event, device), event, True)]

    def _state(self, device: str, payload: bytes, retained: bool) -> List[Tuple[int, str, Any, bool]]:
        # only the retained snapshot at start: afterwards every change comes with its own event line
        state = _json_object(payload)
        if not retained or state is None or state.get("state") in (None, "ok"):
            return []
        word = str(state.get("state"))
        text = (f"{_local_time(state.get('since'))}  {device}  {word.upper():15s} now (since then; "
                f"last event {(state.get('last_event') or {}).get('type', '?')})")
        return [(_STATE_RANK.get(word, 1), text, {"device": device, "state": state}, False)]

    def _telemetry(self, device: str, payload: bytes, now_text: str) -> List[Tuple[int, str, Any, bool]]:
        depth = (_json_object(payload) or {}).get("outbox_depth")
        if not isinstance(depth, int) or isinstance(depth, bool):
            return []
        was = self._backing_up.get(device, False)
        now = depth >= self.outbox_warn if not was else depth > self.outbox_warn // 2  # hysteresis
        self._backing_up[device] = now
        if now == was:
            return []
        text = (f"{now_text}  {device}  outbox backing up: {depth} messages waiting to be delivered" if now
                else f"{now_text}  {device}  outbox drained ({depth} waiting)")
        return [(_WARNING_RANK if now else 0, text, {"device": device, "outbox_depth": depth, "backing_up": now},
                 False)]


def _json_object(payload: bytes) -> Optional[Dict[str, Any]]:
    try:
        body = json.loads(payload)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def describe(event: Dict[str, Any], device: Optional[str] = None) -> str:
    """One readable line for an event JSON object (local time); ``device`` overrides the event's own name."""
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
    return (f"{_local_time(event.get('time'))}  {device or event.get('device', '?')}  {kind.upper():15s} "
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
    from ..transport.follower import Follower
    from ..transport.mqtt import MqttSettings, MqttTlsSettings
    from ..transport.topics import check_prefix

    try:
        check_prefix("/".join("x" if level == "+" else level for level in args.prefix.split("/")))
    except ValueError:
        raise ConfigError(f"prefix = {args.prefix!r} is not allowed; use topic levels separated by '/', '+' only as "
                          f"a whole level, without '#' or empty levels, e.g. 'retrowalk' or 'homes/+/retrowalk' "
                          f"(command-line option)") from None
    try:
        tls = MqttTlsSettings(enabled=bool(args.tls or args.ca_file), ca_file=args.ca_file)
        settings = MqttSettings(host=args.host, port=args.port or (8883 if tls.enabled else 1883),
                                tls=tls, username=args.username,
                                password_file=args.password_file, device_id="alerts", reconnect_min_s=1.0,
                                reconnect_max_s=30.0)
    except ValueError as exc:
        raise ConfigError(f"{exc} (command-line option)") from None
    base = f"{args.prefix}/{args.device}"
    subscriptions = [f"{base}/{kind}" for kind in ("event", "status", "state", "telemetry")]
    fleet = Fleet(args.outbox_warn, pattern=base)
    shown = 0
    deadline = time.monotonic() + args.timeout if args.timeout > 0 else None
    follower = Follower(settings, subscriptions,
                        client_id=f"retrowalk-alerts-{args.session}" if args.session else "",
                        persistent=bool(args.session))
    with follower.start(args.connect_timeout):
        print(f"following {base}/event and {base}/status on {settings.broker} (with state and telemetry: "
              f"offline devices and outboxes backing up are reported)", file=sys.stderr, flush=True)
        while not (args.count and shown >= args.count):
            wait_s = None if deadline is None else deadline - time.monotonic()
            if wait_s is not None and wait_s <= 0:
                break
            try:
                batch = [follower.messages.get(timeout=min(wait_s or 1.0, 1.0))]
            except queue.Empty:  # look at the deadline again
                continue
            # a burst (the retained states at start, a backlog) ends at the first 50 ms of quiet, or after 0.5 s:
            # printed together, most severe first; a lone event waits at most those 50 ms
            burst_end = time.monotonic() + _BURST_MAX_S
            while time.monotonic() < burst_end:
                try:
                    batch.append(follower.messages.get(timeout=_QUIET_S))
                except queue.Empty:
                    break
            now_text = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
            lines = [line for topic, payload, retained, _t in batch
                     for line in fleet.handle(topic, payload, retained, now_text)]
            for _rank, text, body, is_event in sorted(lines, key=lambda line: -line[0]):
                if is_event and args.count and shown >= args.count:
                    continue  # past --count: no more events, but what else arrived with them is still said
                print(json.dumps(body, sort_keys=True) if args.json else text, flush=True)
                shown += is_event
    return 0


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
