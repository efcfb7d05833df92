"""``Follower``: a subscriber for carers' terminals (``retrowalk alerts``), tests and benches.

Built on the same paho client as the ``Publisher`` (``mqtt._new_client``: TLS, login, TCP_NODELAY), so this
module does not import paho itself. paho's network thread only puts messages on a queue; the caller's thread
takes them from ``messages``.
"""
from __future__ import annotations

import queue
import random
import time
from typing import Any, List, Optional, Tuple

from .mqtt import MqttError, MqttSettings, _connect_failure_words, _new_client


class Follower:
    """Subscribe to some topics and hand every message to the caller's thread (``retrowalk alerts``, tests,
    benches). Messages go to ``messages`` as ``(topic, payload, retained, received_monotonic_s)``.

    With a ``client_id`` and ``persistent=True`` the broker keeps a session for it: QoS 1 messages published
    while it is away (its own outage, or the broker's restart if the broker persists sessions) are delivered
    when it is back.
    """

    def __init__(self, settings: MqttSettings, subscriptions: List[str], client_id: str = "",
                 persistent: bool = False) -> None:
        if persistent and not client_id:
            raise ValueError("a persistent session needs a client_id that stays the same between runs")
        self.settings = settings
        self.subscriptions = list(subscriptions)
        self.messages: "queue.SimpleQueue[Tuple[str, bytes, bool, float]]" = queue.SimpleQueue()
        self._links: "queue.SimpleQueue[Tuple[bool, Optional[str]]]" = queue.SimpleQueue()
        self._client = _new_client(settings, client_id or f"retrowalk-alerts-{random.getrandbits(32):08x}",
                                   clean_session=not persistent)
        self._client.on_connect = self._on_connect
        self._client.on_connect_fail = self._on_connect_fail
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._client.reconnect_delay_set(settings.reconnect_min_s, settings.reconnect_max_s)
        self._started = False

    def start(self, timeout_s: float = 5.0) -> "Follower":
        """Connect and subscribe; raise MqttError naming the broker and the reason if that fails in time."""
        self._client.connect_async(self.settings.host, self.settings.port, keepalive=self.settings.keepalive_s)
        self._client.loop_start()
        self._started = True
        error = f"no answer from broker {self.settings.broker} within {timeout_s:g} s"
        try:
            up, why = self._links.get(timeout=timeout_s)
            if up:
                return self
            error = why or error
        except queue.Empty:
            pass
        self.close()
        raise MqttError(error)

    def publish(self, topic: str, payload: Any, qos: int = 1, timeout_s: float = 5.0, retain: bool = False) -> None:
        """Send one message (e.g. a command to a device) and wait until the broker has it (QoS 1)."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        try:
            info.wait_for_publish(timeout_s)
        except (RuntimeError, ValueError) as exc:
            raise MqttError(f"could not publish to {topic} on {self.settings.broker}: {exc}") from None
        if not info.is_published():
            raise MqttError(f"broker {self.settings.broker} did not acknowledge {topic} within {timeout_s:g} s")

    def close(self) -> None:
        if self._started:
            self._started = False
            self._client.disconnect()
            self._client.loop_stop()

    def __enter__(self) -> "Follower":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason_code: Any,
                    properties: Any) -> None:
        if reason_code.is_failure:
            self._links.put((False, f"broker {self.settings.broker} refused the connection: {reason_code}"))
            return
        if self.subscriptions:
            client.subscribe([(t, 1) for t in self.subscriptions])
        else:  # a sender only
            self._links.put((True, None))

    def _on_subscribe(self, client: Any, userdata: Any, mid: int, reason_codes: Any,
                      properties: Any) -> None:
        # ready only once the broker has the subscription, or a publish right after start() could be missed
        refused = [str(rc) for rc in reason_codes if rc.is_failure]
        if refused:
            self._links.put((False, f"broker {self.settings.broker} refused the subscription: {refused[0]}"))
        else:
            self._links.put((True, None))

    def _on_connect_fail(self, client: Any, userdata: Any) -> None:
        self._links.put((False, f"cannot connect to broker {self.settings.broker}: {_connect_failure_words()}"))

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        self.messages.put((message.topic, bytes(message.payload), bool(message.retain), time.monotonic()))
