"""A carer's commands over MQTT (``cmd/<name>``), answered on ``cmd/result``, and calibration over MQTT.

``RemoteCommands.step()`` takes the commands the ``Publisher`` validated since the last step, runs each and
replies; a command that fails is refused with the reason, never the end of the monitor. ``calibrate`` asks
the wearer to stand still for ``CALIBRATE_S``: the loop hands every block read meanwhile to
``collect_calibration``, which at the end saves the calibration and returns the pipeline to use from then on.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Dict, List, Optional, Tuple

from hal.clock import Clock
from hal.types import SampleBlock

from ..detection.calibration import Calibration, calibrate_at_rest
from ..events import Event
from .blocks import concat_blocks
from .calibration_file import save_calibration

if TYPE_CHECKING:  # annotations only: the daemon's wiring imports these where it builds them
    from ..alerting.alerts import AlertManager
    from ..alerting.wearer_state import StateTracker
    from ..detection.pipeline import Pipeline
    from ..transport.mqtt import Publisher
    from ..transport.topics import Command, CommandResult

log = logging.getLogger(__name__)

#: how long the wearer stands still for the MQTT ``calibrate`` command
CALIBRATE_S = 5.0


@dataclass
class CalibrationRun:
    """A ``calibrate`` command being carried out: the blocks read until ``end_s`` (clock time), then saved
    in ``state_dir`` and made into a pipeline by ``make_pipeline``."""

    command: Command
    end_s: float
    state_dir: Path
    make_pipeline: Callable[[Calibration], Pipeline]
    blocks: List[SampleBlock] = field(default_factory=list)


class RemoteCommands:
    """Runs the commands that come in over MQTT and replies to each on ``cmd/result``.

    Parameters
    ----------
    publisher : Publisher
        Where commands come from and replies go.
    alerts : AlertManager
        What ``cancel``, ``mute`` and ``test_alarm`` act on.
    clock : Clock
    store : callable
        Queues an event the way the loop does (outbox, wearer state, log) and returns it in a list; the
        events a command causes are stored before its reply goes out, so a carer sees the state change first.
    status_line : callable
        The status line ``ping`` answers with.
    started_s : float
        Clock time the daemon started (``ping`` says the uptime).
    wall_clock : callable
        Unix seconds now (a ``cancel`` with nothing sounding clears the wearer state at this time).
    wearer : StateTracker, optional
    make_pipeline : callable, optional
        A new pipeline from a calibration; with ``state_dir`` it makes ``calibrate`` available.
    calibration_refusal : callable, optional
        Why a calibration may not start or take effect now (an alarm, a fall being watched), or None. A new
        body frame means a fresh pipeline, which would forget a fall it is watching; and a wearer on the
        floor is not standing upright.
    state_dir : Path, optional
        Where ``calibrate`` saves ``calibration.json``.
    """

    def __init__(self, publisher: Publisher, alerts: AlertManager, clock: Clock, *,
                 store: Callable[[Event], List[Event]], status_line: Callable[[], str], started_s: float,
                 wall_clock: Callable[[], float], wearer: Optional[StateTracker] = None,
                 make_pipeline: Optional[Callable[[Calibration], Pipeline]] = None,
                 state_dir: Optional[Path] = None,
                 calibration_refusal: Callable[[], Optional[str]] = lambda: None) -> None:
        self.publisher = publisher
        self.alerts = alerts
        self.clock = clock
        self.wearer = wearer
        self._store = store
        self._status_line = status_line
        self._started_s = started_s
        self._wall_clock = wall_clock
        self._make_pipeline = make_pipeline
        self._state_dir = state_dir
        self._calibration_refusal = calibration_refusal
        self.calibrating: Optional[CalibrationRun] = None
        self._handlers: Dict[str, Callable[[Command], Tuple[List[Event], CommandResult]]] = {
            "cancel": self._cancel, "mute": self._mute, "test_alarm": self._test_alarm, "ping": self._ping,
            "calibrate": self._calibrate,
        }

    def step(self) -> List[Event]:
        """Run the commands that arrived since the last step; returns the events they stored."""
        stored: List[Event] = []
        for command in self.publisher.commands():
            stored += self.dispatch(command)
        return stored

    def dispatch(self, command: Command) -> List[Event]:
        """An MQTT command (already validated by the publisher); every one gets a reply on ``cmd/result``."""
        handler = self._handlers.get(command.name)
        if handler is None:
            self.publisher.reply(command.result(False, f"{command.name}: this daemon does not handle it"))
            return []
        try:
            events, result = handler(command)
        except ValueError as exc:  # e.g. mute minutes beyond [alerts] mute_max_minutes
            events, result = [], command.result(False, str(exc))
        except Exception as exc:  # a carer's command must never end the monitor: refuse it and say why
            log.exception("command %s failed", command.name)
            events, result = [], command.result(False, f"{command.name} failed: {type(exc).__name__}: {exc}")
        log.info("command %s: %s", command.name, result.message)
        self.publisher.reply(result)
        return events

    # ---- the commands ----------------------------------------------------------------------------------
    def _cancel(self, command: Command) -> Tuple[List[Event], CommandResult]:
        events: List[Event] = []
        for event in self.alerts.cancel("mqtt"):
            events += self._store(event)
        if events:
            return events, command.result(True, "alarm cancelled")
        if self.wearer is not None and self.wearer.clear(self._wall_clock()):
            # e.g. an alarm state kept across a restart with nothing sounding now: a carer's "stop" clears it
            return events, command.result(True, "no alarm was sounding; the wearer's state is back to ok")
        return events, command.result(True, "nothing to cancel: no alarm was sounding")

    def _mute(self, command: Command) -> Tuple[List[Event], CommandResult]:
        if command.minutes is None:  # parse_command never lets a mute through without its minutes
            return [], command.result(False, "mute: 'minutes' is missing")
        until_s = self.alerts.mute(command.minutes)
        muted_s = round(max(0.0, until_s - self.clock.monotonic()))
        return [], command.result(True, f"alarms muted for {command.minutes} min", muted_for_s=muted_s)

    def _test_alarm(self, command: Command) -> Tuple[List[Event], CommandResult]:
        if self.alerts.test_alarm():
            return [], command.result(True, "test alarm playing")
        return [], command.result(False, "not now: an alarm is sounding")

    def _ping(self, command: Command) -> Tuple[List[Event], CommandResult]:
        return [], command.result(True, "pong", status=self._status_line(),
                                  uptime_s=round(self.clock.monotonic() - self._started_s, 1))

    def _calibrate(self, command: Command) -> Tuple[List[Event], CommandResult]:
        if self._make_pipeline is None or self._state_dir is None:
            return [], command.result(False, "calibration over MQTT is not available in this run")
        if self.calibrating is not None:
            return [], command.result(False, "a calibration is already running")
        refusal = self._calibration_refusal()
        if refusal is not None:
            return [], command.result(False, f"not now: {refusal}; calibrate once the wearer is up and "
                                             f"the alarm is over")
        self.calibrating = CalibrationRun(command, self.clock.monotonic() + CALIBRATE_S, self._state_dir,
                                          self._make_pipeline)
        return [], command.result(True, f"calibrating: the wearer should stand still and upright for "
                                        f"{CALIBRATE_S:g} s")

    # ---- calibration over MQTT -------------------------------------------------------------------------
    def calibration_due_s(self) -> Optional[float]:
        """When the running calibration ends (clock time), or None when none runs."""
        return self.calibrating.end_s if self.calibrating is not None else None

    def collect_calibration(self, block: Optional[SampleBlock], now_s: float) -> Optional[Pipeline]:
        """Keep ``block`` for the running calibration; at its end, save it and reply.

        Returns the pipeline to use from now on (fresh state: the body frame changed) when a calibration
        was saved, else None (still collecting, the wearer moved, or the state dir refused the file).
        """
        run = self.calibrating
        if run is None:
            return None
        if block is not None and len(block):
            run.blocks.append(block)
        if now_s < run.end_s:
            return None
        self.calibrating = None
        pipeline, result = self._finish_calibration(run)
        log.info("command calibrate: %s", result.message)
        self.publisher.reply(result)
        return pipeline

    def _finish_calibration(self, run: CalibrationRun) -> Tuple[Optional[Pipeline], CommandResult]:
        """The pipeline a finished calibration gives (None when nothing changes) and the reply to send."""
        refusal = self._calibration_refusal()
        if refusal is not None:  # e.g. a fall during the calibration: the pipeline watching it stays
            return None, run.command.result(False, f"calibration discarded: {refusal}; nothing changed")
        try:
            calibration = calibrate_at_rest(concat_blocks(run.blocks))
        except ValueError as exc:  # NotStillError: the wearer moved; nothing changes
            return None, run.command.result(False, str(exc))
        try:
            path = save_calibration(run.state_dir, calibration)
        except OSError as exc:  # a full or read-only state dir must not stop the monitor: nothing changes
            return None, run.command.result(False, f"calibration not saved in {run.state_dir} ({exc}); "
                                                   f"nothing changed: free space there or make it writable, "
                                                   f"then retry")
        return run.make_pipeline(calibration), run.command.result(True, f"calibrated and saved to {path}")
