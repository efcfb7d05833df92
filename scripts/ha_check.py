"""Check MQTT discovery configs and messages with Home Assistant's own code (run with the HA venv's python).

    ~/.cache/retrowalk/ha-venv/bin/python scripts/ha_check.py < request.json > answer.json

Request (JSON on stdin)::

    {"discovery_prefix": "homeassistant",
     "configs": [[topic, payload], ...],            # retained discovery configs as published
     "messages": [[topic, payload, retained], ...]} # what HA's subscriptions would receive, in order

Answer (JSON on stdout)::

    {"ha_version": "2025.4.4",
     "configs": {topic: {"ok": true, "component": ..., "unique_id": ...} | {"ok": false, "error": ...}},
     "entities": {unique_id: {"state": ..., "attributes": {...}, "events": [...], "problems": [...]}}}

Several requests at once (``{"requests": [request, ...]}``) get ``{"answers": [answer, ...]}`` in the same
order, each from a Home Assistant instance of its own: importing Home Assistant takes seconds, an answer
milliseconds, so the tests ask all their questions in one run.

Each config goes through what Home Assistant 2025.4 does with a discovery message: the topic matcher and the
supported components, abbreviations, the ``origin`` schema, then the platform's ``DISCOVERY_SCHEMA`` (what HA
sets the entity up with). Because that schema silently drops unknown keys, the payload is also checked against
the platform's strict ``PLATFORM_SCHEMA_MODERN``, so a misspelt key is an error here instead of a feature that
quietly does nothing. Messages are then rendered with HA's template engine (``MqttValueTemplate``, the same
call its entities make) and interpreted the way the binary_sensor, sensor and event platforms do, giving the
state each entity would show. This file imports only Home Assistant and the standard library.
"""
from __future__ import annotations

import asyncio
import importlib
import json
import sys
import tempfile
from typing import Any, Dict, List

import voluptuous as vol
from homeassistant.components.mqtt import discovery as ha_discovery
from homeassistant.components.mqtt.const import PAYLOAD_NONE, SUPPORTED_COMPONENTS
from homeassistant.components.mqtt.models import MqttValueTemplate, PayloadSentinel
from homeassistant.components.mqtt.schemas import MQTT_ORIGIN_INFO_SCHEMA
from homeassistant.const import __version__ as HA_VERSION
from homeassistant.core import HomeAssistant
from homeassistant.helpers.template import Template


def check_config(prefix: str, topic: str, text: str) -> Dict[str, Any]:
    trimmed = topic.replace(f"{prefix}/", "", 1)
    match = ha_discovery.TOPIC_MATCHER.match(trimmed)
    if not topic.startswith(f"{prefix}/") or not match:
        return {"ok": False, "error": f"not a discovery topic under {prefix}/: {topic}"}
    component = match.group("component")
    if component not in SUPPORTED_COMPONENTS:
        return {"ok": False, "error": f"component {component!r} is not supported by MQTT discovery"}
    try:
        payload = json.loads(text)
    except ValueError as exc:
        return {"ok": False, "error": f"not JSON: {exc}"}
    if not isinstance(payload, dict):
        return {"ok": False, "error": "not a JSON object"}
    ha_discovery._replace_all_abbreviations(payload)
    module = importlib.import_module(f"homeassistant.components.mqtt.{component}")
    try:
        if "origin" in payload:
            MQTT_ORIGIN_INFO_SCHEMA(payload["origin"])
        config = module.DISCOVERY_SCHEMA(dict(payload))
        module.PLATFORM_SCHEMA_MODERN({k: v for k, v in payload.items() if k != "origin"})
    except vol.Invalid as exc:
        return {"ok": False, "error": f"{component}: {exc}"}
    return {"ok": True, "component": component, "unique_id": config.get("unique_id"), "payload": payload}


class Entity:
    """What one discovered entity would show, following the platform's message handling."""

    def __init__(self, hass: HomeAssistant, component: str, payload: Dict[str, Any]) -> None:
        self.component = component
        self.payload = payload
        text = payload.get("value_template")
        self.render = (MqttValueTemplate(Template(text, hass), entity=None).async_render_with_possible_json_value
                       if text else None)
        self.report: Dict[str, Any] = {"state": "unknown", "attributes": {}, "events": [], "problems": []}

    def receive(self, topic: str, text: str, retained: bool) -> None:
        if topic == self.payload.get("json_attributes_topic"):
            try:
                attributes = json.loads(text)
                if isinstance(attributes, dict):
                    self.report["attributes"] = attributes
            except ValueError:
                self.report["problems"].append(f"attributes not JSON: {text[:80]}")
        if topic != self.payload.get("state_topic"):
            return
        rendered = self.render(text, PayloadSentinel.DEFAULT) if self.render else text
        if rendered is PayloadSentinel.DEFAULT:
            self.report["problems"].append(f"template gave nothing for {text[:80]}")
            return
        getattr(self, f"_{self.component}", self._other)(str(rendered), retained)

    def _binary_sensor(self, rendered: str, retained: bool) -> None:
        if not rendered.strip():
            self.report["problems"].append("empty template output (ignored)")
        elif rendered == self.payload.get("payload_on", "ON"):
            self.report["state"] = "on"
        elif rendered == self.payload.get("payload_off", "OFF"):
            self.report["state"] = "off"
        elif rendered == PAYLOAD_NONE:
            self.report["state"] = "unknown"
        else:
            self.report["problems"].append(f"no matching payload: {rendered!r}")

    def _sensor(self, rendered: str, retained: bool) -> None:
        if rendered == PAYLOAD_NONE:
            self.report["state"] = "unknown"
            return
        numeric = any(k in self.payload for k in ("unit_of_measurement", "state_class")) or \
            self.payload.get("device_class") in ("battery", "voltage", "temperature", "frequency")
        if numeric:
            try:
                float(rendered)
            except ValueError:
                self.report["problems"].append(f"numeric sensor got {rendered!r}")
                return
        options = self.payload.get("options")
        if options and rendered not in options:
            self.report["problems"].append(f"invalid option {rendered!r}")
            return
        if len(rendered) > 255:
            self.report["problems"].append("state longer than 255 characters")
            return
        self.report["state"] = rendered

    def _event(self, rendered: str, retained: bool) -> None:
        if retained:  # HA's event platform ignores replayed retained payloads
            return
        try:
            body = json.loads(rendered)
            kind = str(body.pop("event_type"))
        except (ValueError, KeyError, AttributeError):
            self.report["problems"].append(f"no event_type in {rendered[:80]!r}")
            return
        if kind not in self.payload["event_types"]:
            self.report["problems"].append(f"event type {kind!r} not in event_types")
            return
        self.report["state"] = kind
        self.report["events"].append({"event_type": kind, "attributes": body})

    def _other(self, rendered: str, retained: bool) -> None:
        self.report["state"] = rendered


async def answer(request: Dict[str, Any]) -> Dict[str, Any]:
    prefix = request.get("discovery_prefix", "homeassistant")
    hass = HomeAssistant(tempfile.mkdtemp(prefix="retrowalk-ha-check-"))
    try:
        configs, entities = {}, {}
        for topic, text in request.get("configs", []):
            result = check_config(prefix, topic, text)
            configs[topic] = {k: v for k, v in result.items() if k != "payload"}
            if result["ok"]:
                entities[result["unique_id"]] = Entity(hass, result["component"], result["payload"])
        for topic, text, retained in request.get("messages", []):
            for entity in entities.values():
                entity.receive(topic, text, bool(retained))
        return {"ha_version": HA_VERSION, "configs": configs,
                "entities": {uid: e.report for uid, e in entities.items()}}
    finally:
        await hass.async_stop(force=True)


async def answer_all(requests: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {"answers": [await answer(request) for request in requests]}


def main() -> int:
    request = json.load(sys.stdin)
    reply = answer_all(request["requests"]) if "requests" in request else answer(request)
    print(json.dumps(asyncio.run(reply), sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
