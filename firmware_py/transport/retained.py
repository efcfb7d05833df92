"""What one device keeps retained on the broker, and the memory of it that lets the device clean up after itself.

A retained message outlives its publisher: switch Home Assistant discovery off, or rename the device, and the
old configs stay on the broker, so Home Assistant keeps orphan entities (and a renamed device's last
``state`` keeps saying "alarm"). The ``RetainedTopics`` therefore remembers, in a small JSON file in the state
dir, every retained topic it ever published; on each connect it sends an empty retained message to each
remembered topic it no longer wants (which deletes it on the broker and, for discovery configs, removes the
entity in Home Assistant) and forgets a topic only once the broker has acknowledged that clearing.

No network here: the ``Publisher`` (``mqtt``) sends what these methods return, from its main-thread ``step()``,
and reports acknowledgements back.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Dict, List, Optional, Set, Tuple

from ..atomic_file import exists, write_atomically

from .ha_discovery import discovery_messages
from .topics import Topics

log = logging.getLogger(__name__)

LEDGER_NAME = "retained_topics.json"


class RetainedTopics:
    """The retained messages one device wants on the broker: its ``state`` and, with discovery on, its Home
    Assistant configs (``status`` is the publisher's own: birth, will and shutdown).

    Parameters
    ----------
    topics : Topics
    discovery_prefix : str or None
        Home Assistant's discovery prefix, or ``None`` with discovery off.
    ledger : Path or None
        The JSON file of topics published retained so far (``None``: no clean-up across runs).
    """

    def __init__(self, topics: Topics, discovery_prefix: Optional[str], ledger: Optional[Path]) -> None:
        self.topics = topics
        self.ledger = ledger
        self.discovery = discovery_messages(topics, discovery_prefix) if discovery_prefix else []
        self.state_payload: Optional[str] = None
        self._remembered: Set[str] = self._load()
        self._clearing: Dict[int, str] = {}  # mid -> topic being cleared

    @property
    def wanted(self) -> Set[str]:
        return {self.topics.status, self.topics.state, *(topic for topic, _ in self.discovery)}

    def on_connect(self) -> List[Tuple[str, str]]:
        """``(topic, payload)`` to publish retained after a connect: first the clearing of every remembered topic
        no longer wanted (empty payload), then the discovery configs and the state."""
        stale = sorted(self._remembered - self.wanted)
        if stale:
            # all of them: behind an ACL that ties topics to the login, a renamed device's clearing is dropped
            # by the broker, and this line is what an admin clears by hand
            log.info("MQTT: clearing %d retained topic(s) this device no longer publishes: %s",
                     len(stale), " ".join(stale))
        # remembered before they are sent: a crash right after sending must not forget them
        self._remember(self._remembered | self.wanted)
        self._clearing.clear()  # clearings not acknowledged before the drop are sent again, with new mids
        return [(topic, "") for topic in stale] + self.current()

    def current(self) -> List[Tuple[str, str]]:
        """The discovery configs and the state (what Home Assistant's birth message asks for again)."""
        state = [(self.topics.state, self.state_payload)] if self.state_payload is not None else []
        return list(self.discovery) + state

    def sent(self, mid: int, topic: str, payload: str) -> None:
        """The publisher handed ``topic`` to the network as ``mid``; clearings are tracked until acknowledged."""
        if payload == "":
            self._clearing[mid] = topic

    def acked(self, mid: int) -> None:
        """The broker acknowledged ``mid``: a cleared topic is forgotten (the file is rewritten)."""
        topic = self._clearing.pop(mid, None)
        if topic is not None and topic not in self.wanted:
            self._remember(self._remembered - {topic})

    def _load(self) -> Set[str]:
        if self.ledger is None:
            return set()
        try:
            # read, not exists() first: on a failing card stat() raises EIO too
            body = json.loads(self.ledger.read_text(encoding="utf-8"))
            return {str(t) for t in body["topics"]}
        except FileNotFoundError:
            return set()
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("MQTT: %s cannot be read (%s); retained topics published before it will not be cleared",
                        self.ledger, exc)
            return set()

    def _remember(self, topics: Set[str]) -> None:
        if topics == self._remembered and self.ledger is not None and exists(self.ledger):
            return
        self._remembered = set(topics)
        if self.ledger is None:
            return
        try:
            write_atomically(self.ledger, json.dumps({"topics": sorted(topics)}, indent=1))
        except OSError as exc:  # the broker still gets everything; only the clean-up after a rename is at risk
            log.warning("MQTT: cannot write %s (%s); a later rename may leave retained topics behind",
                        self.ledger, exc)

