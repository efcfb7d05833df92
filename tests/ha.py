"""Home Assistant's own code, in its own venv (Python 3.13, made by scripts/make_ha_venv.sh), asked through
scripts/ha_check.py in a subprocess: is a discovery config valid, and what would each entity show."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

REPO = Path(__file__).resolve().parents[1]
CHECKER = REPO / "scripts" / "ha_check.py"


def ha_venv() -> Path:
    return Path(os.environ.get("RETROWALK_HA_VENV", Path.home() / ".cache" / "retrowalk" / "ha-venv"))


def ha_python() -> Optional[Path]:
    python = ha_venv() / "bin" / "python"
    return python if python.exists() else None


def why_no_home_assistant() -> str:
    return (f"Home Assistant is not installed in {ha_venv()} (Python 3.13 venv with homeassistant==2025.4.*); "
            f"make it with 'bash scripts/make_ha_venv.sh' (or set RETROWALK_HA_VENV) to check discovery against "
            f"Home Assistant's own schemas")


def ha_request(configs: Sequence[Tuple[str, str]], messages: Sequence[Tuple[str, Any, bool]] = (),
               discovery_prefix: str = "homeassistant") -> Dict[str, Any]:
    """One question for the checker. ``messages``: ``(topic, payload bytes or str, retained)`` in order."""
    return {"discovery_prefix": discovery_prefix, "configs": [list(c) for c in configs],
            "messages": [[t, p.decode("utf-8") if isinstance(p, bytes) else p, bool(r)] for t, p, r in messages]}


def ha_check_all(requests: Sequence[Dict[str, Any]], timeout_s: float = 120.0) -> List[Dict[str, Any]]:
    """Answers to several ``ha_request``s from one run of the checker in the HA venv (each answered by a Home
    Assistant of its own): importing Home Assistant is what takes the time, seconds per run."""
    python = ha_python()
    if python is None:
        raise RuntimeError(why_no_home_assistant())
    proc = subprocess.run([str(python), str(CHECKER)], input=json.dumps({"requests": list(requests)}),
                          capture_output=True, text=True, timeout=timeout_s)
    if proc.returncode != 0:
        raise RuntimeError(f"scripts/ha_check.py failed: {proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])["answers"]


def ha_check(configs: Sequence[Tuple[str, str]], messages: Sequence[Tuple[str, Any, bool]] = (),
             discovery_prefix: str = "homeassistant", timeout_s: float = 120.0) -> Dict[str, Any]:
    """Run the checker in the HA venv on one question (see ``ha_request``)."""
    return ha_check_all([ha_request(configs, messages, discovery_prefix)], timeout_s)[0]


def refused(answer: Dict[str, Any]) -> List[str]:
    """The configs Home Assistant refused, with its reason."""
    return [f"{topic}: {c['error']}" for topic, c in answer["configs"].items() if not c["ok"]]


# ---- a real Home Assistant, headless ------------------------------------------------------------------------

def why_home_assistant_cannot_run() -> Optional[str]:
    """None if the venv can run Home Assistant itself (it needs its frontend package and paho-mqtt, which
    scripts/make_ha_venv.sh installs), else why not."""
    python = ha_python()
    if python is None:
        return why_no_home_assistant()
    probe = subprocess.run([str(python), "-c", "import hass_frontend, paho.mqtt"], capture_output=True)
    if probe.returncode != 0:
        return (f"Home Assistant in {ha_venv()} lacks its frontend or paho-mqtt (it cannot start without them); "
                f"run 'bash scripts/make_ha_venv.sh' again to add them")
    return None


CONFIGURATION = """\
homeassistant:
  name: retrowalk-test
  latitude: 0
  longitude: 0
  elevation: 0
  unit_system: metric
  time_zone: UTC
  country: GB
  currency: EUR
http:
  server_host: 127.0.0.1
  server_port: {http_port}
logger:
  default: warning
# every entity's state, as Home Assistant sees it, back out on MQTT for the test to read
mqtt_statestream:
  base_topic: ha-state
  include:
    domains: [binary_sensor, sensor, event]
automation:
  - alias: every retrowalk event is a trigger
    mode: queued
    max: 100
    triggers:
      - trigger: state
        entity_id: {event_entity}
    conditions:
      # as docs/mqtt.md advises: not a restore at start, nor the device coming back; two events in the same
      # millisecond share the state (a timestamp) and differ in attributes only, so no to/from/not_from
      - "{{{{ trigger.from_state is not none and 'unavailable' not in [trigger.from_state.state, trigger.to_state.state] }}}}"
    actions:
      - action: mqtt.publish
        data:
          topic: ha-test/triggered
          payload: "{{{{ trigger.to_state.attributes.event_type }}}} {{{{ trigger.to_state.attributes.id }}}}"
"""


class HomeAssistant:
    """Home Assistant Core as a process on a config dir of its own: MQTT set up as a config entry for the given
    broker, HTTP only on 127.0.0.1 and a free port, no pip installs at run time."""

    def __init__(self, workdir: Path, broker_port: int, event_entity: str) -> None:
        from tests.broker import free_port

        self.config = Path(workdir)
        (self.config / ".storage").mkdir(parents=True, exist_ok=True)
        (self.config / "configuration.yaml").write_text(
            CONFIGURATION.format(http_port=free_port(), event_entity=event_entity))
        stamp = "2026-01-01T00:00:00+00:00"
        entry = {"created_at": stamp, "modified_at": stamp, "data": {"broker": "127.0.0.1", "port": broker_port},
                 "discovery_keys": {}, "disabled_by": None, "domain": "mqtt", "entry_id": "retrowalktestmqtt",
                 "minor_version": 2, "options": {}, "pref_disable_new_entities": False,
                 "pref_disable_polling": False, "source": "user", "subentries": [], "title": "MQTT",
                 "unique_id": None, "version": 1}
        (self.config / ".storage" / "core.config_entries").write_text(json.dumps(
            {"version": 1, "minor_version": 5, "key": "core.config_entries", "data": {"entries": [entry]}}))
        self.log = self.config / "home-assistant.out"
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> "HomeAssistant":
        hass = ha_venv() / "bin" / "hass"
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen([str(hass), "-c", str(self.config), "--skip-pip"], stdout=out,
                                         stderr=subprocess.STDOUT)
        return self

    def stop(self) -> None:
        from tests.broker import stop_process

        stop_process(self.proc, 60.0)  # it saves its state on the way out
        self.proc = None

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:]) if self.log.exists() else ""
