"""MQTT transport: the only module that imports paho (paho-mqtt 2.x, ``CallbackAPIVersion.VERSION2``).

The ``Publisher`` owns the device's connection: the client (TLS, login, will), connecting and reconnecting with
jittered backoff, the retained messages, telemetry, and inbound commands. Which outbox rows go out and when
they leave the outbox is ``delivery.OutboxDelivery``'s job, which the publisher steps with its ``send``.
Paho's network thread (``loop_start``) only puts things on queues (acks, connection changes, inbound commands);
``step()`` in the main thread applies them.

Threads: the caller's main thread, and paho's network thread, started by ``start()`` and joined by ``close()``.
"""
from __future__ import annotations

import json
import logging
import queue
import random
import socket
import ssl
import sys
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode

from hal.clock import Clock
from ..errors import ConfigError, RetrowalkError
from ..events import iso_utc
from .mqtt_settings import (MqttSettings, MqttTlsSettings, default_device_id,  # noqa: F401 (re-exported)
                            process_client_id, read_password_file)
from .delivery import OutboxDelivery, SendRefused
from .outbox import Outbox
from .ha_discovery import ha_status_topics
from .retained import LEDGER_NAME, RetainedTopics
from .topics import (MUTE_MAX_MINUTES, OFFLINE, ONLINE, Command, CommandError, CommandResult, Topics,
                     parse_command)

log = logging.getLogger(__name__)


class MqttError(RetrowalkError):
    """The broker could not be reached or refused us; the message says which broker and why."""


class Backoff:
    """Exponential backoff with jitter: attempt n waits uniform(d/2, d), d = min(max, min * 2**n).

    The jitter spreads a fleet's reconnects after a broker restart. Used only from paho's network thread.
    """

    def __init__(self, min_s: float, max_s: float, rng: Optional[random.Random] = None) -> None:
        self.min_s, self.max_s = min_s, max_s
        self.rng = rng or random.Random()
        self.attempt = 0

    def next_delay_s(self) -> float:
        ceiling = min(self.max_s, self.min_s * (2 ** min(self.attempt, 30)))
        self.attempt += 1
        return self.rng.uniform(ceiling / 2, ceiling)

    def reset(self) -> None:
        self.attempt = 0


def _new_client(settings: MqttSettings, client_id: str, clean_session: bool = True) -> paho.Client:
    """A paho client with TLS, login and TCP_NODELAY applied. Raises ConfigError for unreadable files."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=clean_session)
    if settings.tls.enabled:
        for key in ("ca_file", "certfile", "keyfile"):
            value = getattr(settings.tls, key)
            if value and not Path(value).is_file():
                raise ConfigError(f"[mqtt.tls] {key} = {value!r} does not exist; point it at a PEM file")
        try:
            client.tls_set(ca_certs=settings.tls.ca_file or None, certfile=settings.tls.certfile or None,
                           keyfile=settings.tls.keyfile or None, cert_reqs=ssl.CERT_REQUIRED)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"[mqtt.tls] cannot load the TLS files ({exc}); check ca_file, certfile and "
                              f"keyfile are PEM files that match") from None
    if settings.username:
        password = read_password_file(settings.password_file) if settings.password_file else None
        client.username_pw_set(settings.username, password)
    # Small QoS 1 packets and PUBACKs otherwise meet Nagle + delayed ACK and can stall ~40 ms on loopback.
    client.on_socket_open = _set_nodelay
    return client


def _set_nodelay(client: paho.Client, userdata: Any, sock: Any) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):  # a unix socket or a proxy wrapper: nothing to tune
        pass


def _connect_failure_words() -> str:
    # paho calls on_connect_fail from inside its ``except OSError`` block, so the cause is still in flight here.
    exc = sys.exc_info()[1]
    if exc is None:
        return "no connection"
    verify = getattr(exc, "verify_message", "")
    if verify:
        return f"TLS failed: the broker's certificate was not accepted ({verify}); check [mqtt.tls] ca_file"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc.reason or exc}"
    return exc.strerror or str(exc) or type(exc).__name__


class Publisher:
    """Publishes the outbox to the broker and takes commands from it, without ever blocking the caller.

    Parameters
    ----------
    settings : MqttSettings
    outbox : Outbox
        Read and acknowledged only from the thread that calls ``step()``.
    clock : Clock
        Times how long the broker has been unreachable (``state()``); reconnect waits happen on paho's thread.
    state_dir : Path, optional
        Where the list of retained topics published so far is kept, so the ones no longer wanted (discovery
        switched off, a new ``device_id``) are cleared on the next connect (``retained``).

    Example
    -------
    >>> pub = Publisher(MqttSettings(device_id="walker-1"), outbox, MonotonicClock())
    >>> pub.start()             # returns at once, even with no broker
    >>> outbox.put(event, "walker-1"); pub.step()   # published; deleted from the outbox on PUBACK
    >>> pub.close()
    """

    def __init__(self, settings: MqttSettings, outbox: Outbox, clock: Clock,
                 rng: Optional[random.Random] = None, state_dir: Optional[Path] = None,
                 max_mute_minutes: float = MUTE_MAX_MINUTES) -> None:
        self.settings = settings
        self.max_mute_minutes = max_mute_minutes  # [alerts] mute_max_minutes: the alert manager's own bound
        self.outbox = outbox
        self.clock = clock
        self.topics = Topics(settings.prefix, settings.device_id)
        self.retained = RetainedTopics(self.topics, settings.discovery_prefix if settings.discovery else None,
                                       Path(state_dir) / LEDGER_NAME if state_dir is not None else None)
        self._ha_status = ha_status_topics(settings.discovery_prefix) if settings.discovery else frozenset()
        self._ha_births: "queue.SimpleQueue[bool]" = queue.SimpleQueue()
        self.last_error: Optional[str] = None
        self._delivery = OutboxDelivery(outbox, self.topics, settings.max_inflight, clock)
        self._connected = False
        self._offline_since_s: Optional[float] = clock.monotonic()
        self._started = False
        # paho-thread-only state: the backoff, and whether the last CONNACK was a refusal
        self._backoff = Backoff(settings.reconnect_min_s, settings.reconnect_max_s, rng)
        self._refused = False
        self._acks: "queue.SimpleQueue[int]" = queue.SimpleQueue()
        self._links: "queue.SimpleQueue[Tuple[bool, Optional[str]]]" = queue.SimpleQueue()
        self._inbox: "queue.SimpleQueue[Tuple[str, bytes, bool]]" = queue.SimpleQueue()
        self._activity = threading.Event()  # set by paho's thread whenever it queued something
        self.client_id = process_client_id(settings.device_id)
        self._client = _new_client(settings, self.client_id)
        # headroom above our own bound for status, discovery and replies, so outbox rows never queue in paho
        self._client.max_inflight_messages_set(settings.max_inflight + 10)
        self._client.will_set(self.topics.status, OFFLINE, qos=1, retain=True)
        self._client.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_disconnect = self._on_disconnect
        self._client.on_publish = self._on_publish
        self._client.on_message = self._on_message

    # ---- lifecycle (main thread) -------------------------------------------------------------------------
    def start(self) -> None:
        """Begin connecting in paho's thread; returns at once. Reconnects forever with backoff and jitter."""
        if self._started:
            return
        self._client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s)
        self._client.loop_start()
        self._started = True
        log.info("MQTT: connecting to %s as %s", self.settings.broker, self.settings.device_id)

    def close(self, timeout_s: float = 0.5) -> None:
        """Publish ``offline`` (retained), disconnect, and stop paho's thread. Idempotent; about 1 s at most."""
        if not self._started:
            return
        self._started = False
        if self._client.is_connected():
            info = self._client.publish(self.topics.status, OFFLINE, qos=1, retain=True)
            try:
                info.wait_for_publish(timeout_s)
            except (RuntimeError, ValueError):  # the connection went away meanwhile: the will says offline
                pass
        self._client.disconnect()
        self._client.loop_stop()
        self._connected = False

    @property
    def is_connected(self) -> bool:
        """As of the last ``step()``."""
        return self._connected

    @property
    def delivered(self) -> int:
        """Outbox rows the broker acknowledged (and the outbox let go)."""
        return self._delivery.delivered

    def state(self) -> Dict[str, Any]:
        """A snapshot for status lines, telemetry and selftest (as of the last ``step()``)."""
        offline_s = (None if self._offline_since_s is None
                     else round(self.clock.monotonic() - self._offline_since_s, 1))
        return {"broker": self.settings.broker, "connected": self._connected, "offline_for_s": offline_s,
                "last_error": self.last_error, "inflight": self._delivery.inflight, "delivered": self.delivered}

    # ---- the main loop's work ----------------------------------------------------------------------------
    def step(self) -> int:
        """Apply acknowledgements and connection changes, then hand more outbox rows to paho.

        Returns the number of rows newly acknowledged (and removed from the outbox).
        """
        if self._activity.is_set():  # (clearing takes a lock: not done on every wake of the loop for nothing)
            self._activity.clear()  # before draining: anything queued from now on wakes the next wait()
        self._apply_link_changes()
        while not self._ha_births.empty():  # Home Assistant (re)started: it asks for discovery and state again
            self._ha_births.get_nowait()
            if self._connected:
                self._publish_retained(self.retained.current())
        acked = self._apply_acks()
        self._delivery.step(self._connected, self._send)
        return acked

    def _apply_link_changes(self) -> None:
        while not self._links.empty():  # the loop is the only reader: what empty() saw is there to get
            up, error = self._links.get_nowait()
            if up:
                if not self._connected:
                    log.info("MQTT: connected to %s", self.settings.broker)
                    self._offline_since_s = None
                # a broker restarted without persistence has forgotten them: every connect sends them again
                self._publish_retained(self.retained.on_connect())
            elif error and error != self.last_error:
                log.warning("MQTT: %s", error)
            if not up and self._offline_since_s is None:
                self._offline_since_s = self.clock.monotonic()
            self._connected = up
            self.last_error = error

    def _apply_acks(self) -> int:
        mids: List[int] = []
        while not self._acks.empty():
            mids.append(self._acks.get_nowait())
        if not mids:
            return 0
        acked, others = self._delivery.acknowledged(mids)
        for mid in others:
            self.retained.acked(mid)
        return acked

    def _send(self, topic: str, payload: str) -> int:
        """One outbox row to paho at QoS 1 (for ``delivery``); its mid, or SendRefused in paho's words."""
        info = self._client.publish(topic, payload, qos=1)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            raise SendRefused(paho.error_string(info.rc))
        # NO_CONN: paho keeps QoS 1 messages and sends them on reconnect, so the mapping stays valid.
        return info.mid

    def wait(self, timeout_s: float) -> bool:
        """Block up to ``timeout_s`` until paho reports something for ``step()`` (an ack, a connection change,
        a command). For callers with nothing else to do; the daemon's loop has its own pace."""
        return self._activity.wait(timeout_s)

    def publish_telemetry(self, payload: Dict[str, Any]) -> None:
        """Publish a reading at QoS 0 now; while offline it waits in the outbox (dropped first when full)."""
        body = dict(payload)
        body.setdefault("time", iso_utc(time.time()))
        if self._connected:
            self._client.publish(self.topics.telemetry, json.dumps(body, separators=(",", ":"), sort_keys=True),
                                 qos=0)
        else:
            self.outbox.put_telemetry(body)

    def publish_state(self, payload: str) -> None:
        """Set the retained wearer state (``wearer_state``): sent now if connected, and on every connect."""
        self.retained.state_payload = payload
        if self._connected:
            self._publish_retained([(self.topics.state, payload)])

    def _publish_retained(self, messages: List[Tuple[str, str]]) -> None:
        for topic, payload in messages:
            info = self._client.publish(topic, payload, qos=1, retain=True)
            self.retained.sent(info.mid, topic, payload)

    def publish_status(self, status: str) -> None:
        """Publish a retained status word at QoS 1. ``online`` (each connect) and ``offline`` (will, close)
        are the publisher's own; the daemon says ``shutting_down`` here before a battery shutdown."""
        self._client.publish(self.topics.status, status, qos=1, retain=True)

    def commands(self) -> List[Command]:
        """Inbound commands since the last call, validated; bad ones are answered on ``cmd/result`` here."""
        good: List[Command] = []
        while not self._inbox.empty():
            name, payload, retained = self._inbox.get_nowait()
            if retained:
                # a retained command replays at every (re)connect: a stale 'cancel' would silence the next fall
                topic = self.topics.cmd(name)
                text = (f"{name}: a retained command is ignored (it would be obeyed again at every reconnect); "
                        f"send commands without the retain flag, and clear this one with: "
                        f"mosquitto_pub -r -n -t {topic}")
                log.warning("MQTT: %s", text)
                self.reply(CommandResult(name, False, text))
                continue
            try:
                good.append(parse_command(name, payload, self.max_mute_minutes))
            except CommandError as exc:
                log.warning("MQTT: refused command: %s", exc)
                self.reply(CommandResult(exc.command, False, str(exc), exc.request_id))
        return good

    def reply(self, result: CommandResult) -> None:
        """Answer a command on ``cmd/result`` (QoS 1, not retained)."""
        self._client.publish(self.topics.cmd_result, result.to_json(), qos=1)

    # ---- paho's network thread: record and hand off only -------------------------------------------------
    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason_code: Any,
                    properties: Any) -> None:
        if reason_code.is_failure:
            self._refused = True
            self._links.put((False, f"broker {self.settings.broker} refused the connection: {reason_code}"))
            self._activity.set()
            return
        self._refused = False
        self._backoff.reset()
        client.subscribe(self.topics.cmd_all, qos=1)
        for topic in sorted(self._ha_status):
            client.subscribe(topic, qos=1)
        client.publish(self.topics.status, ONLINE, qos=1, retain=True)
        self._links.put((True, None))
        self._activity.set()

    def _on_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        words = _connect_failure_words()
        self._schedule_reconnect(client)
        self._links.put((False, f"cannot reach broker {self.settings.broker}: {words}"))
        self._activity.set()

    def _on_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason_code: Any,
                       properties: Any) -> None:
        self._schedule_reconnect(client)
        if self._refused:  # the broker hangs up after a refusal: the refusal stays the reason
            return
        if reason_code.is_failure:
            # MQTT 3.1.1 has no disconnect reasons: paho calls every drop "Unspecified error", which says nothing
            why = "" if str(reason_code) == "Unspecified error" else f": {reason_code}"
            self._links.put((False, f"lost the connection to {self.settings.broker}{why}; reconnecting"))
        else:
            self._links.put((False, None))
        self._activity.set()

    def _schedule_reconnect(self, client: paho.Client) -> None:
        # paho doubles its own delay without jitter; setting min = max = our jittered delay before each wait
        # makes its next wait ours (reconnect_delay_set is paho's public, locked way to change it).
        delay_s = self._backoff.next_delay_s()
        client.reconnect_delay_set(delay_s, delay_s)  # type: ignore[arg-type]

    def _on_publish(self, client: paho.Client, userdata: Any, mid: int, reason_code: Any,
                    properties: Any) -> None:
        self._acks.put(mid)
        self._activity.set()

    def _on_message(self, client: paho.Client, userdata: Any, message: Any) -> None:
        if message.topic in self._ha_status:
            if bytes(message.payload) == b"online":
                self._ha_births.put(True)
                self._activity.set()
            return
        name = self.topics.command_name(message.topic)
        if name is not None:
            self._inbox.put((name, bytes(message.payload), bool(message.retain)))
            self._activity.set()


def __getattr__(name: str) -> Any:
    # ``Follower`` has its own module now; ``from firmware_py.transport.mqtt import Follower`` keeps working
    if name == "Follower":
        from .follower import Follower
        return Follower
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
