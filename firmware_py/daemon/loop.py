"""The main loop: ``Daemon.step()`` and ``Daemon.run()`` over parts built by ``wiring.build_daemon``.

One loop iteration (``Daemon.step``) whenever there is work (``next_wake_s``: the FIFO holding the next
detection frame's last sample, every ~50 ms while the wearer moves; a buzzer edge; a deadline)::

    sensor.read() ─▶ pipeline.process(block) ─▶ for each event: wall_time set,
        alerts.handle(event) (the buzzer reacts here, before any I/O), outbox.put(event)
    alerts.tick() ─▶ its events (cancelled, help_needed, sos) ─▶ outbox
    publisher.step() (acks in, pending rows out; never blocks) ─▶ MQTT commands (``remote``)
    telemetry every ``telemetry_interval_s`` ─▶ WATCHDOG=1 only if samples arrived, STATUS= when it changes
    (the words of both: ``status``)

``run()`` repeats ``step()`` and waits on a ``StopFlag`` until the next wake; SIGTERM/SIGINT only set
that flag (gunicorn's arbiter pattern), so shutdown happens here, in the main thread. The only other thread
is paho's network loop, owned by the ``Publisher``.
"""
from __future__ import annotations

import json
import logging
import math
import signal
import threading
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Protocol, Sequence, Union

from hal.clock import Clock, StopFlag

from ..events import INFO, STORAGE_FAULT, Event
from .alarm_state import AlarmStateFile
from .remote import RemoteCommands
from .sensor_link import SensorLink
from .settings import DaemonSettings
from .status import SampleCounters, StatusReport
from .timing import TimingStats
from .wakeup import WakeSchedule

if TYPE_CHECKING:  # annotations only: the wiring imports these where it builds them (paho only then)
    from ..alerting.alerts import AlertManager
    from ..alerting.wearer_state import StateTracker
    from ..detection.calibration import Calibration
    from ..detection.pipeline import Pipeline
    from ..transport.mqtt import Publisher
    from ..transport.outbox import Outbox
    from .power import PowerMonitor
    from .sdnotify import Notifier

log = logging.getLogger(__name__)

#: what ``signal.signal`` hands back: the handler it replaced (a callable, ``SIG_DFL``/``SIG_IGN``, or None)
SignalHandler = Union[Callable[[int, Optional[FrameType]], object], int, None]


class Closeable(Protocol):
    """What the daemon closes last at shutdown (the wiring's GPIO, the emulated chip's CPU meter)."""

    def close(self) -> None: ...


class Daemon:
    """The main loop over already-built parts (see ``build_daemon`` for the wiring from a config).

    Parameters
    ----------
    link : SensorLink
        The sensor, with its fault/retry handling.
    pipeline : firmware_py.detection.pipeline.Pipeline
    alerts : firmware_py.alerting.alerts.AlertManager
    outbox : firmware_py.transport.outbox.Outbox
    publisher : firmware_py.transport.mqtt.Publisher or None
        ``None`` runs without a network (events stay in the outbox).
    notifier : firmware_py.daemon.sdnotify.Notifier
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
    wearer : firmware_py.alerting.wearer_state.StateTracker, optional
        Folds every recorded event into the retained wearer state carers see.
    power : firmware_py.daemon.power.PowerMonitor, optional
        The battery gauge and the Pi's power flags; a critical battery stops the loop.

    The MQTT commands are run by ``remote`` (a ``RemoteCommands``, present with a publisher), the status
    line and telemetry worded by ``status`` (a ``StatusReport``).
    """

    def __init__(self, link: SensorLink, pipeline: Pipeline, alerts: AlertManager, outbox: Outbox,
                 publisher: Optional[Publisher], notifier: Notifier, clock: Clock,
                 settings: DaemonSettings = DaemonSettings(), *,
                 device_id: str = "", sample_rate_hz: float = 200.0,
                 wall_clock: Callable[[], float] = time.time,
                 on_event: Optional[Callable[[Event], None]] = None,
                 resources: Sequence[Closeable] = (),
                 make_pipeline: Optional[Callable[[Calibration], Pipeline]] = None,
                 state_dir: Optional[Path] = None, wearer: Optional[StateTracker] = None,
                 power: Optional[PowerMonitor] = None) -> None:
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
        # the alarms a restart must take up (a fall's window, help_needed, SOS), beside the outbox
        self.alarm_state = AlarmStateFile(state_dir, clock, wall_clock) if state_dir is not None else None
        self.wearer = wearer
        self.power = power
        self.stop_requested = StopFlag()
        now = clock.monotonic()
        self.started_s = now
        self.counters = SampleCounters(now)
        self.status = StatusReport(link, alerts, outbox, publisher, notifier, power, self.counters, settings,
                                   sample_rate_hz, started_s=now)
        # commands come only through a broker: without one there is nothing to answer
        self.remote = (RemoteCommands(publisher, alerts, clock, store=self._store, status_line=self.status_text,
                                      started_s=now, wall_clock=wall_clock, wearer=wearer,
                                      make_pipeline=make_pipeline, state_dir=state_dir,
                                      calibration_refusal=self._calibration_refusal)
                       if publisher is not None else None)
        self._last_watchdog_s = -math.inf
        self._was_ok = True
        self._closed = False
        self.wakeup = WakeSchedule(settings, sample_rate_hz)
        self.timing = TimingStats()

    # ---- one iteration -------------------------------------------------------------------------------
    def step(self) -> List[Event]:
        """One loop iteration; returns the events recorded in it (for tests and the demo)."""
        recorded: List[Event] = []
        block, fault_events = self.link.read()
        read_s = self.clock.monotonic()
        for event in fault_events:
            recorded += self._record(event)
        if block is not None:
            self.counters.add(block)
            if len(block):
                until_frame = self.pipeline.samples_until_frame()
                events = self.pipeline.process(block)
                self.timing.frames_done(block.t_s, until_frame, self.pipeline.frame_samples,
                                        self.clock.monotonic(), self.wakeup.is_resting)
                for event in events:
                    recorded += self._record(event)
        if self.remote is not None and self.remote.calibrating is not None:
            # after the block went through the detectors: a fall in the calibration's last block must keep it
            # from taking effect, not reach a fresh pipeline still converging
            calibrated = self.remote.collect_calibration(block, self.clock.monotonic())
            if calibrated is not None:
                self.pipeline = calibrated  # fresh state: the body frame changed
        self.wakeup.after_read(read_s, block, self.pipeline.samples_until_frame(), self.pipeline.frame_samples,
                               busy=self.alerts.alarm.is_playing or self._is_calibrating())
        for event in self.alerts.tick():
            recorded += self._store(event)
        recorded += self._storage_events()
        if self.alarm_state is not None:
            self.alarm_state.save_if_changed(self.alerts.pending_alarms())
        if self.wearer is not None:
            self.wearer.tick(self._wall_clock())
        if self.power is not None:
            recorded += self._step_power(self.power)
        if self.publisher is not None:
            self.publisher.step()
        if self.remote is not None:
            recorded += self.remote.step()
        now = self.clock.monotonic()
        self.status.publish_telemetry_if_due(now, self.pipeline)
        force = bool(recorded) or self.link.is_ok != self._was_ok
        self._was_ok = self.link.is_ok
        self.status.update(now, self.pipeline, force)
        if block is not None and len(block):
            self._watchdog(now)
        return recorded

    def _calibration_refusal(self) -> Optional[str]:
        """Why a calibration over MQTT may not start or take effect now, or None."""
        alert = self.alerts.state()
        if alert["alarm"] is not None:
            return f"a {alert['alarm'].replace('_', ' ')} alarm is on"
        if alert["fall_open"]:
            return "a fall is open (its cancel window or help call)"
        if self.pipeline.is_watching:
            return "the wearer is being watched after a fall or a loss of balance (help_needed may follow)"
        return None

    def _storage_events(self) -> List[Event]:
        """The outbox retries its disk here; a fault begun or ended is a ``storage_fault`` event (it waits in
        memory like any other while the disk is away)."""
        self.outbox.tick()
        stored: List[Event] = []
        for features in self.outbox.take_notices():
            now = self.clock.monotonic()
            severity = INFO if features.get("state") == "recovered" else ""
            stored += self._store(Event(STORAGE_FAULT, t_onset_s=now, t_detect_s=now, features=features,
                                        severity=severity))
        return stored

    def _record(self, event: Event) -> List[Event]:
        """A new event: the buzzer first (no I/O before it), then the durable queue."""
        stored: List[Event] = []
        started = time.perf_counter()
        handled = self.alerts.handle(self._with_wall_time(event))
        if self.alerts.alarm.is_on:
            self.timing.buzzer(time.perf_counter() - started)
        for out in handled:
            stored += self._store(out)
        return stored

    def _with_wall_time(self, event: Event) -> Event:
        # The pipeline reads no clock: its onset is in sample time, which the driver anchors to our clock.
        if event.wall_time is not None:
            return event
        return event.replace(wall_time=self._wall_clock() - (self.clock.monotonic() - event.t_onset_s))

    def _store(self, event: Event) -> List[Event]:
        event = self._with_wall_time(event)
        self.outbox.put(event, self.device_id)
        if self.wearer is not None:
            self.wearer.on_event(event)
        log.info("event %s %s", event.type, event.features)
        if self._on_event is not None:
            self._on_event(event)
        return [event]

    def _step_power(self, power: PowerMonitor) -> List[Event]:
        recorded: List[Event] = []
        for event in power.step():
            recorded += self._record(event)
            if event is power.shutdown and self.publisher is not None:
                self.publisher.publish_status(event.type)  # retained until close() says offline
        if power.stop_due:
            self.stop_requested.set()  # an orderly stop: close() flushes, power.close() may power off
        return recorded

    def _is_calibrating(self) -> bool:
        return self.remote is not None and self.remote.calibrating is not None

    def next_wake_s(self) -> float:
        """When the loop next has work: the FIFO holding the next frame, a buzzer edge or alarm deadline,
        telemetry, the end of a calibration (see ``wakeup``)."""
        deadlines = [self.alerts.next_due_s(),
                     self.remote.calibration_due_s() if self.remote is not None else None,
                     self.power.next_due_s() if self.power is not None else None]
        telemetry_s = self.status.next_due_s()
        if telemetry_s is not None:
            deadlines.append(telemetry_s)
        return self.wakeup.next_wake_s(deadlines, self.clock.monotonic())

    def _watchdog(self, now_s: float) -> None:
        # Pinged from the sampling path, after samples arrived: a hung read or a frozen FIFO stops it.
        interval_s = self.notifier.watchdog_interval_s
        if interval_s is None:
            return
        if now_s - self._last_watchdog_s >= min(interval_s / 2, 1.0):
            self._last_watchdog_s = now_s
            self.notifier.watchdog()

    # ---- what people read (worded by ``status``) -------------------------------------------------------
    def status_text(self) -> str:
        """One line a person can read in ``systemctl status`` (also the ``ping`` reply)."""
        return self.status.line(self.pipeline)

    def telemetry(self, now_s: float) -> Dict[str, Any]:
        """The periodic health and gait figures (also what ``bench/daemon.py`` reads)."""
        return self.status.telemetry(now_s, self.pipeline)

    # ---- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> None:
        """Open the sensor, start connecting (in paho's thread, never blocking), announce READY=1.

        A sensor that does not answer at start is a ``sensor_fault`` retried with backoff, like one lost
        later: a crash loop would hide the fault from the carer, the fault event reaches them.
        """
        self._resume_alarms()
        for event in self.link.open():
            self._record(event)
        self._storage_events()  # a state dir unwritable at start: said at once, the daemon runs from memory
        if self.publisher is not None:
            self.publisher.start()
        self.notifier.ready()
        self.status.update(self.clock.monotonic(), self.pipeline, force=True)

    def _resume_alarms(self) -> None:
        """Alarms the last run left pending sound again at once, windows running on from where they were;
        their events are queued again with their original ids (a restart may have lost them from memory)."""
        if self.alarm_state is None:
            return
        pending = self.alarm_state.load()
        if not pending:
            return
        for event in self.alerts.resume(pending):
            self._store(event)
        state = self.alerts.state()
        log.warning("resumed after a restart: %s alarm%s", (state["alarm"] or "no").replace("_", " "),
                    "" if state["cancel_in_s"] is None else f", help called in {state['cancel_in_s']:.0f} s "
                                                            f"unless cancelled")

    def request_stop(self, signum: Optional[int] = None, frame: Optional[FrameType] = None) -> None:
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
            end_s = None if duration_s is None else self.clock.monotonic() + duration_s
            while not self.stop_requested.is_set():
                self.step()
                if after_step is not None:
                    after_step()
                now = self.clock.monotonic()
                if end_s is not None and now >= end_s:
                    break
                # asleep until there is work (a late wake loses nothing: the FIFO keeps the samples)
                wake_s = min(self.next_wake_s(), end_s if end_s is not None else math.inf)
                self.clock.wait(self.stop_requested, wake_s - now)
        finally:
            self.close()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return 0

    def _install_signal_handlers(self) -> Dict[int, SignalHandler]:
        if threading.current_thread() is not threading.main_thread():
            return {}  # only the main thread may set handlers; the caller then stops us via request_stop
        previous: Dict[int, SignalHandler] = {}
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
        self.notifier.close()  # its socket, opened on the first message; STOPPING=1 has gone already
        log.info("stopped after %d samples in %.1f s (%d lost)", self.counters.samples_total,
                 self.clock.monotonic() - self.started_s, self.counters.lost_total)
        log.info("timing %s", json.dumps(dict(self.timing.summary(), fifo_reads=self.wakeup.reads)))
        if self.power is not None:
            self.power.close()  # last: after a critical-battery stop it may power the Pi off
