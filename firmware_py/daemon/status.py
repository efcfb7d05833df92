"""What the daemon tells people about itself: the status line (systemd's ``STATUS=``, the MQTT ``ping``) and
the periodic telemetry (MQTT ``telemetry``, read by ``bench/daemon.py``).

``SampleCounters`` counts what was sampled; ``StatusReport`` words it, with the sensor, the alarm, the battery,
the broker, the outbox and the mounting, and decides when each goes out: the status line at most once a second
(at once when something happened), telemetry every ``[daemon] telemetry_interval_s``.
"""
from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any, Dict, Optional

from hal.types import SampleBlock

from .sensor_link import SensorLink
from .settings import DaemonSettings

if TYPE_CHECKING:  # annotations only: the daemon's wiring imports these where it builds them
    from ..alerting.alerts import AlertManager
    from ..detection.pipeline import Pipeline
    from ..transport.mqtt import Publisher
    from ..transport.outbox import Outbox
    from .power import PowerMonitor
    from .sdnotify import Notifier

log = logging.getLogger(__name__)

#: what telemetry copies from the pipeline's state; mounting: calibrated | learned | gravity only (heading
#: unknown: direction fields say "unknown")
DETECTION_FIELDS = ("tilt_deg", "trunk_rate_dps", "is_walking", "steps", "cadence_spm", "mounting",
                    "walking_direction")


class SampleCounters:
    """What telemetry and the status line report about sampling: totals, and the rate since the last
    telemetry."""

    def __init__(self, now_s: float) -> None:
        self.samples_total = 0
        self.lost_total = 0
        self.window_start_s = now_s
        self.window_samples = 0
        self.temp_c = float("nan")

    def add(self, block: SampleBlock) -> None:
        n = len(block)
        self.samples_total += n
        self.window_samples += n
        self.lost_total += int(block.lost_samples)
        if n and not math.isnan(block.temp_c):
            self.temp_c = float(block.temp_c)

    def take_rate_hz(self, now_s: float) -> float:
        elapsed_s = now_s - self.window_start_s
        rate = self.window_samples / elapsed_s if elapsed_s > 0 else 0.0
        self.window_start_s, self.window_samples = now_s, 0
        return rate


class StatusReport:
    """The status line and telemetry, from the daemon's parts (read, never changed, here).

    Parameters
    ----------
    link : SensorLink
    alerts : AlertManager
    outbox : Outbox
    publisher : Publisher or None
        ``None``: "no broker configured", and telemetry only in the log.
    notifier : Notifier
        Where the status line goes (systemd's ``STATUS=``).
    power : PowerMonitor or None
    counters : SampleCounters
        Kept up by the loop.
    settings : DaemonSettings
        ``telemetry_interval_s`` (0: no telemetry).
    sample_rate_hz : float
        The configured rate, for the status line.
    started_s : float
        Clock time the daemon started (telemetry says the uptime).
    """

    def __init__(self, link: SensorLink, alerts: AlertManager, outbox: Outbox, publisher: Optional[Publisher],
                 notifier: Notifier, power: Optional[PowerMonitor], counters: SampleCounters,
                 settings: DaemonSettings, sample_rate_hz: float, started_s: float) -> None:
        self.link = link
        self.alerts = alerts
        self.outbox = outbox
        self.publisher = publisher
        self.notifier = notifier
        self.power = power
        self.counters = counters
        self.settings = settings
        self.sample_rate_hz = sample_rate_hz
        self.started_s = started_s
        self.next_telemetry_s = started_s + settings.telemetry_interval_s
        self._last_line = ""
        self._last_line_s = -math.inf

    def line(self, pipeline: Pipeline) -> str:
        """One line a person can read in ``systemctl status``."""
        if self.link.is_ok:
            parts = [f"sampling {self.sample_rate_hz:g} Hz"]
        else:
            retry_s = self.link.retry_in_s()
            what = (self.link.error or "").split(";")[0]  # the fault, without the wiring advice
            parts = [f"sensor fault: {what}; retrying in {retry_s:.{0 if retry_s >= 2 else 1}f} s"]
        alert = self.alerts.state()
        if alert.get("alarm"):
            muted = " (muted)" if alert.get("alarm_silent") else ""
            parts.append(f"{alert['alarm'].replace('_', ' ')} alarm{muted}")
        if alert.get("cancel_in_s") is not None:
            parts.append(f"fall not cancelled, help called in {alert['cancel_in_s']:.0f} s")
        elif alert.get("help_raised"):
            parts.append("help called")
        power = self.power.status_text() if self.power is not None else None
        if power:
            parts.append(power)
        if self.publisher is None:
            parts.append("no broker configured")
        else:
            parts.append("broker online" if self.publisher.is_connected else "broker offline")
        depth = self.outbox.depth()
        parts.append(f"{depth} message{'s' if depth != 1 else ''} queued")  # events (and telemetry offline)
        if self.outbox.is_degraded:
            parts.append(f"storage fault: {self.outbox.held_in_memory} in memory only")
        elif self.outbox.held_in_memory:  # after a fault, rows the card had no room for yet
            parts.append(f"{self.outbox.held_in_memory} in memory only, waiting for room on disk")
        if pipeline.mounting:
            parts.append(f"mounting {pipeline.mounting}")    # calibrated | learned | gravity only
        return ", ".join(parts)

    def telemetry(self, now_s: float, pipeline: Pipeline) -> Dict[str, Any]:
        """The periodic health and gait figures (starts a new window for ``sample_rate_hz``)."""
        state = pipeline.state()
        payload: Dict[str, Any] = {
            "uptime_s": round(now_s - self.started_s, 1),
            "sample_rate_hz": round(self.counters.take_rate_hz(now_s), 1),
            "samples": self.counters.samples_total,
            "lost_samples": self.counters.lost_total,
            "outbox_depth": self.outbox.depth(),
            "sensor": "ok" if self.link.is_ok else "fault",
            "storage": "fault" if self.outbox.is_degraded else "ok",
            "status": self.line(pipeline),
        }
        if not math.isnan(self.counters.temp_c):
            payload["temp_c"] = round(self.counters.temp_c, 1)
        if self.power is not None:
            payload.update(self.power.telemetry())
        for key in DETECTION_FIELDS:
            value = state.get(key)
            if isinstance(value, float):
                value = round(value, 2) if math.isfinite(value) else None
            if key in state:
                payload[key] = value
        return payload

    def publish_telemetry_if_due(self, now_s: float, pipeline: Pipeline) -> None:
        """Every ``telemetry_interval_s``: into the log, and to the broker when there is one."""
        if not self.settings.telemetry_interval_s or now_s < self.next_telemetry_s:
            return
        self.next_telemetry_s = now_s + self.settings.telemetry_interval_s
        payload = self.telemetry(now_s, pipeline)
        log.info("telemetry %s", payload)
        if self.publisher is not None:
            self.publisher.publish_telemetry(payload)

    def next_due_s(self) -> Optional[float]:
        """When telemetry is next due (clock time), or None without telemetry."""
        return self.next_telemetry_s if self.settings.telemetry_interval_s else None

    def update(self, now_s: float, pipeline: Pipeline, force: bool) -> None:
        """Send the status line to systemd when it changed; looked at most once a second (it costs an outbox
        count), at once when ``force`` (something happened)."""
        if not force and now_s - self._last_line_s < 1.0:
            return
        self._last_line_s = now_s
        text = self.line(pipeline)
        if text != self._last_line:
            self._last_line = text
            log.info("status: %s", text)
            self.notifier.status(text)
