"""The program a wearer runs: wiring from the config, and the main loop.

One loop iteration (``Daemon.step``), every ~50 ms::

    sensor.read() ─▶ pipeline.process(block) ─▶ for each event: wall_time set,
        alerts.handle(event) (the buzzer reacts here, before any I/O), outbox.put(event)
    alerts.tick() ─▶ its events (cancelled, help_needed, sos) ─▶ outbox
    publisher.step() (acks in, pending rows out; never blocks) ─▶ MQTT commands dispatched
    telemetry every ``telemetry_interval_s`` ─▶ WATCHDOG=1 only if samples arrived, STATUS= when it changes

``run()`` repeats ``step()`` and waits on a ``threading.Event`` between iterations; SIGTERM/SIGINT only set
that event (gunicorn's arbiter pattern), so shutdown happens here, in the main thread. The only other thread
is paho's network loop, owned by the ``Publisher``.

Which hardware is real is decided here and nowhere else: ``build_sensor_opener`` (smbus2 or the emulated
chip), ``build_gpio_for`` (the Pi's pin factory or gpiozero's MockFactory).
"""
from __future__ import annotations

import logging
import math
import os
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from hal.clock import Clock, MonotonicClock
from hal.errors import SensorBusError, SensorNotFound, SensorTimeout
from hal.types import SampleBlock

from .errors import ConfigError
from .events import INFO, SENSOR_FAULT, Event

log = logging.getLogger(__name__)

DRIVERS = ("mpu6050", "emulated")
SCENARIOS = ("still", "backward_walk", "demo_walk")
#: how long the wearer stands still for the MQTT ``calibrate`` command
CALIBRATE_S = 5.0

#: faults a re-open can fix: the daemon retries them with backoff instead of exiting
RECOVERABLE_SENSOR_ERRORS = (SensorBusError, SensorNotFound, SensorTimeout)

Window = Tuple[float, float]


def _windows(name: str, value: Sequence[Sequence[float]]) -> Tuple[Window, ...]:
    """TOML gives lists of lists; settings keep tuples of (start_s, end_s) pairs."""
    out = []
    for item in value:
        pair = tuple(float(x) for x in item)
        if len(pair) != 2 or not 0 <= pair[0] < pair[1]:
            raise ValueError(f"{name} = {list(value)!r} is not allowed; use [[start_s, end_s], ...] "
                             f"with 0 <= start_s < end_s")
        out.append(pair)
    return tuple(out)


@dataclass(frozen=True)
class EmulatorSettings:
    """The emulated MPU-6050 used when ``[daemon] driver = "emulated"`` (off-Pi trials, tests, the bench).

    Attributes
    ----------
    scenario : str
        The chip's motion: ``still`` (standing upright), ``backward_walk`` (a seeded synthetic backward walk)
        or ``demo_walk`` (the demo's synthetic walk with a stumble and a fall). All synthetic.
    loop : bool
        Replay the scenario forever (otherwise the chip holds its last value).
    seed : int
        Seed of the synthetic walk.
    vanish_windows_s, freeze_windows_s, nack_windows_s : list of [start_s, end_s]
        Faults, in seconds since the chip was created: the chip stops answering, stops producing samples,
        or NACKs transfers (see ``hal.emulated.FaultPlan``).
    """

    scenario: str = "backward_walk"
    loop: bool = True
    seed: int = 0
    vanish_windows_s: Tuple[Window, ...] = ()
    freeze_windows_s: Tuple[Window, ...] = ()
    nack_windows_s: Tuple[Window, ...] = ()

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"scenario = {self.scenario!r} is not allowed; use one of {', '.join(SCENARIOS)}")
        for name in ("vanish_windows_s", "freeze_windows_s", "nack_windows_s"):
            object.__setattr__(self, name, _windows(name, getattr(self, name)))


@dataclass(frozen=True)
class DaemonSettings:
    """``[daemon]``: how the main loop runs.

    Attributes
    ----------
    driver : str
        ``mpu6050`` (the real chip on ``[sensor] bus``) or ``emulated`` (see ``[daemon.emulator]``).
    poll_interval_s : float
        How often the FIFO is drained. The MPU-6050's FIFO holds 85 samples (425 ms at 200 Hz), so this
        must stay well below that; the FIFO, not this loop, carries the sample timing.
    telemetry_interval_s : float
        How often tilt, cadence, sample rate, lost samples and queue depth are published (0: never).
    sensor_retry_initial_s, sensor_retry_max_s : float
        Backoff while the sensor does not answer: the first retry, doubling up to the maximum.
    sensor_stall_s : float
        No samples for this long counts as a sensor fault (the driver is re-initialised); meanwhile the
        watchdog is not pinged, so a chip that never comes back ends in a systemd restart.
    """

    driver: str = "mpu6050"
    poll_interval_s: float = 0.05
    telemetry_interval_s: float = 10.0
    sensor_retry_initial_s: float = 0.5
    sensor_retry_max_s: float = 30.0
    sensor_stall_s: float = 1.0
    emulator: EmulatorSettings = field(default_factory=EmulatorSettings)

    def __post_init__(self) -> None:
        if self.driver not in DRIVERS:
            raise ValueError(f"driver = {self.driver!r} is not allowed; use one of {', '.join(DRIVERS)}")
        if not 0.005 <= self.poll_interval_s <= 0.2:
            raise ValueError(f"poll_interval_s = {self.poll_interval_s} is not allowed; use 0.005 to 0.2 "
                             f"(the FIFO overflows after 0.425 s at 200 Hz)")
        if self.telemetry_interval_s < 0 or 0 < self.telemetry_interval_s < 1:
            raise ValueError(f"telemetry_interval_s = {self.telemetry_interval_s} is not allowed; use 0 "
                             f"(off) or at least 1")
        if not 0 < self.sensor_retry_initial_s <= self.sensor_retry_max_s:
            raise ValueError(f"sensor_retry_initial_s = {self.sensor_retry_initial_s} is not allowed; use a "
                             f"positive value no larger than sensor_retry_max_s ({self.sensor_retry_max_s})")
        if not 4 * self.poll_interval_s <= self.sensor_stall_s <= 10:
            raise ValueError(f"sensor_stall_s = {self.sensor_stall_s} is not allowed; use 4 x poll_interval_s "
                             f"({4 * self.poll_interval_s:g}) to 10")
        if isinstance(self.emulator, dict):  # a loader handing over the raw subtable
            object.__setattr__(self, "emulator", EmulatorSettings(**self.emulator))


class ScaledClock:
    """Monotonic time running ``speed`` times faster than real time (the demo's ``--speed``).

    The emulated chip, the alerts and the loop all take this clock, so samples, buzzer patterns and the
    cancel window stay consistent with each other while the whole run goes faster.
    """

    def __init__(self, speed: float = 1.0, start_s: Optional[float] = None) -> None:
        if not speed > 0:
            raise ValueError(f"speed = {speed} is not allowed; use a positive number (1 = real time)")
        self.speed = float(speed)
        self._real0 = time.monotonic()
        self._start_s = self._real0 if start_s is None else float(start_s)

    def monotonic(self) -> float:
        return self._start_s + (time.monotonic() - self._real0) * self.speed

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)


def real_seconds(clock: Clock, clock_s: float) -> float:
    """How long ``clock_s`` seconds of ``clock`` take in real time (only ``ScaledClock`` differs)."""
    return clock_s / getattr(clock, "speed", 1.0)


class SensorLink:
    """The sensor as the loop sees it: faults a re-open can fix become one event and a retry schedule.

    ``read()`` returns the block (``None`` while the sensor is away) and the ``sensor_fault`` events to
    record: one when the sensor is lost (a bus error, the chip gone, or no samples for ``sensor_stall_s`` —
    a chip that stopped sampling is re-initialised like a vanished one), and one with severity ``info`` and
    ``features["state"] == "recovered"`` when samples flow again. Retries in between are counted, not
    announced. ``SensorIdentityError`` (a different chip) is not caught: a restart cannot fix it.
    """

    def __init__(self, open_sensor: Callable[[], Any], clock: Clock, settings: DaemonSettings) -> None:
        self._open_sensor = open_sensor
        self._clock = clock
        self._settings = settings
        self.sensor: Any = None
        self.error: Optional[str] = None  # the current fault, in words; None while samples flow
        self.attempts = 0  # re-opens since the fault began
        self._lost_at_s: Optional[float] = None
        self._retry_at_s = -math.inf
        self._backoff_s = settings.sensor_retry_initial_s
        self._last_sample_s = clock.monotonic()

    @property
    def is_ok(self) -> bool:
        return self._lost_at_s is None

    def retry_in_s(self) -> float:
        return max(0.0, self._retry_at_s - self._clock.monotonic())

    def open(self) -> List[Event]:
        """Open the sensor (at start); a sensor that does not answer is a fault to retry, not a crash."""
        return self._open(self._clock.monotonic()) if self.sensor is None else []

    def read(self) -> Tuple[Optional[SampleBlock], List[Event]]:
        now = self._clock.monotonic()
        if self.sensor is None:
            if now < self._retry_at_s:
                return None, []
            lost = self._open(now)
            if self.sensor is None:
                return None, lost
        try:
            block = self.sensor.read()
        except RECOVERABLE_SENSOR_ERRORS as exc:
            return None, self._lose(exc)
        if len(block):
            self._last_sample_s = now
            return block, self._recovered(now)
        stalled_s = now - self._last_sample_s
        if stalled_s > self._settings.sensor_stall_s:
            return block, self._lose(SensorTimeout(
                f"the MPU-6050 gave no samples for {stalled_s:.1f} s (FIFO not filling); re-initialising it"))
        return block, []

    def _open(self, now: float) -> List[Event]:
        self.attempts += 1
        try:
            self.sensor = self._open_sensor()
        except RECOVERABLE_SENSOR_ERRORS as exc:
            return self._lose(exc)
        self._last_sample_s = now  # the stall timer starts again with the fresh driver
        return []

    def _recovered(self, now: float) -> List[Event]:
        if self._lost_at_s is None:
            return []
        outage_s = now - self._lost_at_s
        log.warning("sensor gives samples again after %.1f s (%d re-opens)", outage_s, self.attempts)
        event = Event(SENSOR_FAULT, t_onset_s=now, t_detect_s=now, severity=INFO,
                      features={"state": "recovered", "outage_s": round(outage_s, 3), "attempts": self.attempts})
        self._lost_at_s, self.error, self.attempts = None, None, 0
        self._backoff_s = self._settings.sensor_retry_initial_s
        return [event]

    def _lose(self, exc: Exception) -> List[Event]:
        self._close_sensor()
        now = self._clock.monotonic()
        self.error = str(exc)
        self._retry_at_s = now + self._backoff_s
        self._backoff_s = min(self._backoff_s * 2, self._settings.sensor_retry_max_s)
        if self._lost_at_s is not None:
            log.debug("sensor still away (re-open %d): %s", self.attempts, exc)
            return []
        self._lost_at_s = now
        self.attempts = 0
        log.error("sensor lost: %s; retrying with backoff", exc)
        return [Event(SENSOR_FAULT, t_onset_s=now, t_detect_s=now,
                      features={"state": "lost", "error": self.error[:300], "error_type": type(exc).__name__})]

    def _close_sensor(self) -> None:
        sensor, self.sensor = self.sensor, None
        if sensor is not None:
            try:
                sensor.close()
            except Exception as exc:  # closing a sensor that already vanished: nothing left to protect
                log.debug("closing the lost sensor failed: %s", exc)

    def close(self) -> None:
        self._close_sensor()


class _Counters:
    """What telemetry and the status line report about sampling since the last telemetry."""

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


class Daemon:
    """The main loop over already-built parts (see ``build_daemon`` for the wiring from a config).

    Parameters
    ----------
    link : SensorLink
        The sensor, with its fault/retry handling.
    pipeline : firmware_py.pipeline.Pipeline
    alerts : firmware_py.alerts.AlertManager
    outbox : firmware_py.outbox.Outbox
    publisher : firmware_py.mqtt.Publisher or None
        ``None`` runs without a network (events stay in the outbox).
    notifier : firmware_py.sdnotify.Notifier
    clock : Clock
        Monotonic time; sample times ``t_s`` are on the same clock (the driver anchors them to it).
    settings : DaemonSettings
    device_id : str
        Written into every queued event.
    sample_rate_hz : float
        The configured rate, for the status line.
    wall_clock : callable
        Unix seconds now; turns sample times into ``Event.wall_time``.
    on_event : callable, optional
        Called with every event recorded (the demo prints them).
    resources : sequence
        Closed last at shutdown (the GPIO the wiring built).
    make_pipeline, state_dir : optional
        For the MQTT ``calibrate`` command: a new pipeline from a calibration, and where it is saved.
    """

    def __init__(self, link: SensorLink, pipeline: Any, alerts: Any, outbox: Any, publisher: Any,
                 notifier: Any, clock: Clock, settings: DaemonSettings = DaemonSettings(), *,
                 device_id: str = "", sample_rate_hz: float = 200.0,
                 wall_clock: Callable[[], float] = time.time,
                 on_event: Optional[Callable[[Event], None]] = None,
                 resources: Sequence[Any] = (), make_pipeline: Optional[Callable[[Any], Any]] = None,
                 state_dir: Optional[Path] = None) -> None:
        self.link = link
        self.pipeline = pipeline
        self.alerts = alerts
        self.outbox = outbox
        self.publisher = publisher
        self.notifier = notifier
        self.clock = clock
        self.settings = settings
        self.device_id = device_id
        self.sample_rate_hz = sample_rate_hz
        self._wall_clock = wall_clock
        self._on_event = on_event
        self._resources = list(resources)  # closed last (the GPIO)
        self._make_pipeline = make_pipeline
        self._state_dir = state_dir
        self._calibrating: Optional[Tuple[Any, float, List[SampleBlock]]] = None
        self.stop_requested = threading.Event()
        now = clock.monotonic()
        self.started_s = now
        self.counters = _Counters(now)
        self._next_telemetry_s = now + settings.telemetry_interval_s
        self._last_watchdog_s = -math.inf
        self._last_status = ""
        self._last_status_s = -math.inf
        self._was_ok = True
        self._closed = False

    # ---- one iteration -------------------------------------------------------------------------------
    def step(self) -> List[Event]:
        """One loop iteration; returns the events recorded in it (for tests and the demo)."""
        recorded: List[Event] = []
        block, fault_events = self.link.read()
        for event in fault_events:
            recorded += self._record(event)
        if self._calibrating is not None:
            self._collect_calibration(block, self.clock.monotonic())
        if block is not None:
            self.counters.add(block)
            if len(block):
                for event in self.pipeline.process(block):
                    recorded += self._record(event)
        for event in self.alerts.tick():
            recorded += self._store(event)
        if self.publisher is not None:
            self.publisher.step()
            for command in self.publisher.commands():
                recorded += self._dispatch(command)
        now = self.clock.monotonic()
        if self.settings.telemetry_interval_s and now >= self._next_telemetry_s:
            self._next_telemetry_s = now + self.settings.telemetry_interval_s
            self._publish_telemetry(now)
        force = bool(recorded) or self.link.is_ok != self._was_ok
        self._was_ok = self.link.is_ok
        self._update_status(now, force)
        if block is not None and len(block):
            self._watchdog(now)
        return recorded

    def _record(self, event: Event) -> List[Event]:
        """A new event: the buzzer first (no I/O before it), then the durable queue."""
        if event.wall_time is None:
            age_s = self.clock.monotonic() - event.t_onset_s
            event = event.replace(wall_time=self._wall_clock() - age_s)
        stored: List[Event] = []
        for out in self.alerts.handle(event):
            stored += self._store(out)
        return stored

    def _store(self, event: Event) -> List[Event]:
        if event.wall_time is None:
            event = event.replace(wall_time=self._wall_clock() - (self.clock.monotonic() - event.t_onset_s))
        self.outbox.put(event, self.device_id)
        log.info("event %s %s", event.type, event.features)
        if self._on_event is not None:
            self._on_event(event)
        return [event]

    # ---- commands, telemetry, systemd ------------------------------------------------------------------
    def _dispatch(self, command: Any) -> List[Event]:
        """An MQTT command (already validated by the publisher); every one gets a reply on ``cmd/result``."""
        handler = getattr(self, f"_cmd_{command.name}", None)
        if handler is None:
            self.publisher.reply(command.result(False, f"{command.name}: this daemon does not handle it"))
            return []
        try:
            events, result = handler(command)
        except ValueError as exc:  # e.g. mute minutes beyond [alerts] mute_max_minutes
            events, result = [], command.result(False, str(exc))
        log.info("command %s: %s", command.name, result.message)
        self.publisher.reply(result)
        return events

    def _cmd_cancel(self, command: Any) -> Tuple[List[Event], Any]:
        events: List[Event] = []
        for event in self.alerts.cancel("mqtt"):
            events += self._store(event)
        if events:
            return events, command.result(True, "alarm cancelled")
        return events, command.result(True, "nothing to cancel: no alarm was sounding")

    def _cmd_mute(self, command: Any) -> Tuple[List[Event], Any]:
        until_s = self.alerts.mute(command.minutes)
        muted_s = round(max(0.0, until_s - self.clock.monotonic()))
        text = f"alarms muted for {command.minutes} min" if command.minutes else "unmuted"
        return [], command.result(True, text, muted_for_s=muted_s)

    def _cmd_test_alarm(self, command: Any) -> Tuple[List[Event], Any]:
        if self.alerts.test_alarm():
            return [], command.result(True, "test alarm playing")
        return [], command.result(False, "not now: an alarm is sounding")

    def _cmd_ping(self, command: Any) -> Tuple[List[Event], Any]:
        return [], command.result(True, "pong", status=self.status_text(),
                                  uptime_s=round(self.clock.monotonic() - self.started_s, 1))

    def _cmd_calibrate(self, command: Any) -> Tuple[List[Event], Any]:
        if self._make_pipeline is None or self._state_dir is None:
            return [], command.result(False, "calibration over MQTT is not available in this run")
        if self._calibrating is not None:
            return [], command.result(False, "a calibration is already running")
        self._calibrating = (command, self.clock.monotonic() + CALIBRATE_S, [])
        return [], command.result(True, f"calibrating: the wearer should stand still and upright for "
                                        f"{CALIBRATE_S:g} s")

    def _collect_calibration(self, block: Optional[SampleBlock], now_s: float) -> None:
        command, end_s, blocks = self._calibrating
        if block is not None and len(block):
            blocks.append(block)
        if now_s < end_s:
            return
        self._calibrating = None
        from .calibration import calibrate_at_rest
        try:
            calibration = calibrate_at_rest(concat_blocks(blocks))
        except ValueError as exc:  # NotStillError: the wearer moved; nothing changes
            result = command.result(False, str(exc))
        else:
            path = save_calibration(self._state_dir, calibration)
            self.pipeline = self._make_pipeline(calibration)  # fresh state: the body frame changed
            result = command.result(True, f"calibrated and saved to {path}")
        log.info("command calibrate: %s", result.message)
        if self.publisher is not None:
            self.publisher.reply(result)

    def telemetry(self, now_s: float) -> Dict[str, Any]:
        """The periodic health and gait figures (also what ``bench/daemon.py`` reads)."""
        state = self.pipeline.state() if hasattr(self.pipeline, "state") else {}
        payload: Dict[str, Any] = {
            "uptime_s": round(now_s - self.started_s, 1),
            "sample_rate_hz": round(self.counters.take_rate_hz(now_s), 1),
            "samples": self.counters.samples_total,
            "lost_samples": self.counters.lost_total,
            "outbox_depth": self.outbox.depth(),
            "sensor": "ok" if self.link.is_ok else "fault",
            "status": self.status_text(),
        }
        if not math.isnan(self.counters.temp_c):
            payload["temp_c"] = round(self.counters.temp_c, 1)
        for key in ("tilt_deg", "trunk_rate_dps", "is_walking", "steps", "cadence_spm"):
            value = state.get(key)
            if isinstance(value, float):
                value = round(value, 2) if math.isfinite(value) else None
            if key in state:
                payload[key] = value
        return payload

    def _publish_telemetry(self, now_s: float) -> None:
        payload = self.telemetry(now_s)
        log.info("telemetry %s", payload)
        if self.publisher is not None:
            self.publisher.publish_telemetry(payload)

    def _watchdog(self, now_s: float) -> None:
        # Pinged from the sampling path, after samples arrived: a hung read or a frozen FIFO stops it.
        interval_s = getattr(self.notifier, "watchdog_interval_s", None)
        if interval_s is None:
            return
        if now_s - self._last_watchdog_s >= min(interval_s / 2, 1.0):
            self._last_watchdog_s = now_s
            self.notifier.watchdog()

    def status_text(self) -> str:
        """One line a person can read in ``systemctl status``."""
        if self.link.is_ok:
            parts = [f"sampling {self.sample_rate_hz:g} Hz"]
        else:
            retry_s = self.link.retry_in_s()
            parts = [f"sensor fault: {self.link.error}; retrying in {retry_s:.{0 if retry_s >= 2 else 1}f} s"]
        alert_state = self.alerts.state() if hasattr(self.alerts, "state") else {}
        alarm = alert_state.get("alarm") if isinstance(alert_state, dict) else None
        if alarm:
            parts.append(f"alarm: {alarm}")
        if self.publisher is None:
            parts.append("no broker configured")
        else:
            parts.append("broker online" if self.publisher.is_connected else "broker offline")
        depth = self.outbox.depth()
        parts.append(f"{depth} event{'s' if depth != 1 else ''} queued")
        return ", ".join(parts)

    def _update_status(self, now_s: float, force: bool) -> None:
        # At most once a second (it costs an outbox count), at once when something happened.
        if not force and now_s - self._last_status_s < 1.0:
            return
        self._last_status_s = now_s
        text = self.status_text()
        if text != self._last_status:
            self._last_status = text
            log.info("status: %s", text)
            self.notifier.status(text)

    # ---- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the sensor, start connecting (in paho's thread, never blocking), announce READY=1.

        A sensor that does not answer at start is a ``sensor_fault`` retried with backoff, like one lost
        later: a crash loop would hide the fault from the carer, the fault event reaches them.
        """
        for event in self.link.open():
            self._record(event)
        if self.publisher is not None:
            self.publisher.start()
        self.notifier.ready()
        self._update_status(self.clock.monotonic(), force=True)

    def request_stop(self, signum: Optional[int] = None, frame: Any = None) -> None:
        """Signal handler: only sets the event the loop waits on (the loop does the work)."""
        self.stop_requested.set()

    def run(self, *, duration_s: Optional[float] = None,
            after_step: Optional[Callable[[], None]] = None) -> int:
        """Start, loop until SIGTERM/SIGINT (or ``duration_s`` of clock time), shut down; returns 0.

        Raises whatever a restart cannot fix (``SensorIdentityError``) after shutting down cleanly.
        """
        previous = self._install_signal_handlers()
        try:
            self.start()
            period_s = self.settings.poll_interval_s
            next_s = self.clock.monotonic()
            end_s = None if duration_s is None else next_s + duration_s
            while not self.stop_requested.is_set():
                self.step()
                if after_step is not None:
                    after_step()
                now = self.clock.monotonic()
                if end_s is not None and now >= end_s:
                    break
                next_s += period_s
                if next_s < now:  # fell behind (a slow step): do not burst, the FIFO kept the samples
                    next_s = now
                self.stop_requested.wait(real_seconds(self.clock, next_s - now))
        finally:
            self.close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return 0

    def _install_signal_handlers(self) -> Dict[int, Any]:
        if threading.current_thread() is not threading.main_thread():
            return {}  # only the main thread may set handlers; the caller then stops us via request_stop
        previous = {}
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous[signum] = signal.signal(signum, self.request_stop)
        return previous

    def close(self) -> None:
        """Buzzer off, STOPPING=1, last events queued, ``offline`` published, outbox closed. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self.alerts.close()
        self.notifier.stopping()
        self.notifier.status("stopping")
        try:
            for event in self.pipeline.finish():
                self._store(event)
        except Exception:  # a summary is not worth losing the rest of the shutdown over
            log.exception("could not summarise the session")
        if self.publisher is not None:
            self.publisher.step()  # one last attempt at what is queued; the outbox keeps the rest
            self.publisher.close()
        self.outbox.close()
        self.link.close()
        for resource in self._resources:
            resource.close()
        log.info("stopped after %d samples (%d lost)", self.counters.samples_total, self.counters.lost_total)


# ---- wiring: the one place that decides which hardware is real ------------------------------------------

def daemon_settings(config: Any) -> DaemonSettings:
    """``config.daemon`` when the config has that section, else the defaults."""
    return getattr(config, "daemon", None) or DaemonSettings()


def state_dir_of(config: Any) -> Path:
    return Path(config.paths.state_dir).expanduser()


def is_raspberry_pi(model_path: str = "/proc/device-tree/model") -> bool:
    try:
        with open(model_path, "rb") as f:
            return b"Raspberry Pi" in f.read()
    except OSError:
        return False


def build_motion(settings: EmulatorSettings) -> Any:
    """The emulated chip's motion: a synthetic scenario (body frame = chip frame, i.e. no mounting tilt)."""
    import numpy as np
    from hal.emulated import ArrayMotion
    from . import scenarios

    if settings.scenario == "still":
        t_s = np.array([0.0, 1.0])
        accel_g = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
        return ArrayMotion(t_s, accel_g, np.zeros((2, 3)), loop=False)
    if settings.scenario == "demo_walk":
        scenario = scenarios.demo_walk(seed=settings.seed)
    else:
        scenario = scenarios.backward_walk(60.0, seed=settings.seed)
    return ArrayMotion(scenario.t_s, scenario.accel_g, scenario.gyro_dps, loop=settings.loop)


def build_sensor_opener(config: Any, clock: Clock, motion: Any = None) -> Callable[[], Any]:
    """A function that opens (or re-opens, after a fault) the configured MPU-6050.

    ``[daemon] driver = "mpu6050"`` opens ``/dev/i2c-<bus>`` through smbus2; ``"emulated"`` builds one
    emulated chip (with ``motion``, or the configured scenario, and the configured fault plan) that every
    re-open talks to again, as a real re-open talks to the same chip.
    """
    from hal.mpu6050 import Mpu6050

    settings = daemon_settings(config)
    if settings.driver == "mpu6050":
        return lambda: Mpu6050.open(config.sensor, clock)
    from hal.emulated import EmulatedI2CBus, EmulatedMpu6050, FaultPlan, SensorNoise

    emu = settings.emulator
    faults = FaultPlan(vanish_windows_s=emu.vanish_windows_s, freeze_windows_s=emu.freeze_windows_s,
                       nack_windows_s=emu.nack_windows_s, seed=emu.seed)
    # with the datasheet's noise, as a real chip: a noiseless one would flatter the detectors
    chip = EmulatedMpu6050(clock, motion=motion if motion is not None else build_motion(emu), faults=faults,
                           noise=SensorNoise(seed=emu.seed))
    bus = EmulatedI2CBus({config.sensor.address: chip})
    return lambda: Mpu6050(bus, config.sensor, clock)


def build_sensor(config: Any, clock: Clock, motion: Any = None) -> Any:
    """The configured MPU-6050, opened and configured (``Mpu6050``)."""
    return build_sensor_opener(config, clock, motion)()


def build_gpio_for(config: Any, clock: Clock, pin_factory: Any = None) -> Any:
    """Buzzer, LED and button: on a Raspberry Pi gpiozero's own pin factory, elsewhere mock pins
    (so ``retrowalk run`` with the emulated chip works on a laptop; the demo shows the buzzer in the
    terminal from those mock pins)."""
    from hal import gpio

    if pin_factory is None and not is_raspberry_pi():
        pin_factory = gpio.mock_pin_factory()
    return gpio.build_gpio(config.alerts, pin_factory=pin_factory, clock=clock)


def load_calibration(state_dir: Path) -> Any:
    """``calibration.json`` from ``retrowalk calibrate``, or ``None`` (uncalibrated: identity mounting)."""
    import json

    from .calibration import Calibration

    path = Path(state_dir) / "calibration.json"
    if not path.exists():
        log.warning("no calibration at %s: run 'retrowalk calibrate' while standing still", path)
        return None
    try:
        return Calibration.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path}: not a calibration retrowalk can read ({exc}); run 'retrowalk calibrate' "
                          f"again") from exc


def save_calibration(state_dir: Path, calibration: Any) -> Path:
    """Write ``calibration.json`` so that a power cut leaves the old file or the new one, never half of one."""
    import json

    path = Path(state_dir) / "calibration.json"
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as f:
        f.write(json.dumps(calibration.to_dict(), indent=2) + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    return path


def build_pipeline(config: Any, calibration: Any = None) -> Any:
    from .pipeline import Pipeline

    return Pipeline(config.detection, calibration=calibration)


def build_publisher(config: Any, outbox: Any, clock: Clock) -> Any:
    from .mqtt import Publisher

    return Publisher(config.mqtt, outbox, clock)


def build_daemon(config: Any, clock: Optional[Clock] = None, *, pin_factory: Any = None, gpio: Any = None,
                 environ: Optional[Dict[str, str]] = None, motion: Any = None, with_broker: bool = True,
                 on_event: Optional[Callable[[Event], None]] = None) -> Daemon:
    """Everything ``retrowalk run`` needs, built from the config; nothing is opened twice."""
    from .alerts import AlertManager
    from .outbox import Outbox
    from .sdnotify import Notifier

    clock = clock or MonotonicClock()
    settings = daemon_settings(config)
    state_dir = state_dir_of(config)
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"[paths] state_dir = {str(state_dir)!r} cannot be created ({exc.strerror}); create "
                          f"it writable for the service user, or choose another") from exc
    pipeline = build_pipeline(config, load_calibration(state_dir))
    link = SensorLink(build_sensor_opener(config, clock, motion), clock, settings)
    resources = []
    if gpio is None:  # built here, so closed here; a caller's own gpio stays the caller's
        gpio = build_gpio_for(config, clock, pin_factory)
        resources.append(gpio)
    alerts = AlertManager(gpio, clock, config.alerts)
    try:
        outbox = Outbox(state_dir / "outbox.sqlite3", clock)
    except OSError as exc:  # an unwritable state dir is fixed by the admin, not by a restart
        raise ConfigError(f"[paths] state_dir = {str(state_dir)!r}: {exc}") from exc
    publisher = build_publisher(config, outbox, clock) if with_broker else None
    notifier = Notifier(os.environ if environ is None else environ)
    return Daemon(link, pipeline, alerts, outbox, publisher, notifier, clock, settings,
                  device_id=config.mqtt.device_id, sample_rate_hz=config.sensor.sample_rate_hz,
                  on_event=on_event, resources=resources, state_dir=state_dir,
                  make_pipeline=lambda calibration: build_pipeline(config, calibration))


# ---- reading for a while (calibrate, record) ----------------------------------------------------------

def read_for(sensor: Any, clock: Clock, seconds: float, poll_interval_s: float = 0.05):
    """Yield the sensor's blocks for ``seconds`` of ``clock`` time, draining the FIFO every poll.

    On a ``FakeClock`` (the commands' ``--emulated``) this runs as fast as the CPU allows.
    """
    end_s = clock.monotonic() + seconds
    while True:
        now = clock.monotonic()
        if now >= end_s:
            return
        clock.sleep(min(poll_interval_s, end_s - now))
        block = sensor.read()
        if len(block):
            yield block


def concat_blocks(blocks: Sequence[SampleBlock]) -> SampleBlock:
    import numpy as np

    if not blocks:
        return SampleBlock.empty()
    return SampleBlock(np.concatenate([b.t_s for b in blocks]),
                       np.concatenate([b.accel_g for b in blocks]),
                       np.concatenate([b.gyro_dps for b in blocks]),
                       blocks[-1].temp_c, blocks[0].lost_samples)


def with_emulated_sensor(config: Any, scenario: str = "still") -> Any:
    """The config with ``[daemon] driver = "emulated"`` (the commands' ``--emulated``)."""
    import dataclasses

    settings = dataclasses.replace(daemon_settings(config), driver="emulated",
                                   emulator=EmulatorSettings(scenario=scenario, loop=True))
    return dataclasses.replace(config, daemon=settings)
