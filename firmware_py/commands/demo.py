"""``retrowalk demo``: the whole daemon on an emulated chip replaying a synthetic backward walk.

Nothing here is a mock-up of the daemon: it is ``firmware_py.daemon.Daemon`` with the real driver over the
emulated MPU-6050, the real alert manager on gpiozero mock pins (watched and drawn in the terminal), the
real outbox and, when a broker answers on 127.0.0.1:1883, the real publisher. Only time is faster
(``--speed``), and the clock that runs faster is shared by the chip, the alerts and the loop.
"""
from __future__ import annotations

import argparse
import logging
import math
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, List, Optional, TextIO

HELP = "see it work: the full monitor on an emulated sensor replaying a synthetic backward walk with a fall"

BROKER_HOST, BROKER_PORT = "127.0.0.1", 1883

#: what each sound means, in the wearer's words (the alert manager chooses the pattern)
SOUNDS = {
    "stumble": "stumble chirp (a short warning; nothing to do)",
    "loss_of_balance": "loss-of-balance warning (you may be about to fall)",
    "fall": "fall alarm (press the button to cancel within the cancel window)",
    "help_needed": "help alarm (no cancel: a carer is being told)",
    "sos": "SOS alarm (button held)",
    "sensor_fault": "sensor fault beep",
    "test_alarm": "test alarm",
}

HEADLINES = {
    "stumble": "stumble", "loss_of_balance": "LOSS OF BALANCE", "fall": "FALL",
    "help_needed": "HELP NEEDED", "recovered": "recovered", "cancelled": "cancelled", "sos": "SOS",
    "sensor_fault": "sensor fault", "storage_fault": "storage fault", "session_summary": "session summary",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--speed", type=demo_speed, default=1.0, metavar="N",
                        help="run N times faster than real time (default 1; 'make demo' uses 4), or 'max': on "
                             "virtual time, as fast as the computer goes (nothing to hear; for checks and tests)")
    parser.add_argument("--seconds", type=float, default=None, metavar="S",
                        help="how long to run, in demo time (default: the walk, then the cancel window, "
                             "so the unanswered fall escalates)")
    parser.add_argument("--no-broker", action="store_true",
                        help="do not try the MQTT broker at 127.0.0.1:1883; keep events in the outbox")
    parser.add_argument("--state-dir", type=Path, default=None, metavar="DIR",
                        help="keep the demo's outbox here (default: a temporary folder, removed at exit)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the synthetic walk (default 0)")


def demo_speed(text: str) -> float:
    """``--speed``: a positive number, or ``max`` (virtual time: ``math.inf``)."""
    if text.strip().lower() == "max":
        return math.inf
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"{text!r} is not a speed; use a positive number (1 = real time) or 'max'")
    return value


def broker_answers(host: str = BROKER_HOST, port: int = BROKER_PORT, timeout_s: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False


class TerminalView:
    """Events as lines, the buzzer as it sounds, and (on a terminal) one live line of what the wearer does."""

    def __init__(self, daemon_clock: Any, start_s: float, out: TextIO) -> None:
        self.clock = daemon_clock
        self.start_s = start_s
        self.out = out
        self.is_tty = out.isatty()
        self.daemon: Any = None
        self.buzzer: Any = None
        self.events: List[Any] = []
        self._alarm: Optional[str] = None
        self._live = ""
        self._drawn_at = -1.0
        self._drawn_on = False

    def t(self) -> float:
        return self.clock.monotonic() - self.start_s

    def line(self, text: str) -> None:
        if self.is_tty and self._live:
            self.out.write("\r\033[K")
        self.out.write(text + "\n")
        if self.is_tty and self._live:
            self.out.write(self._live)
        self.out.flush()

    def on_event(self, event: Any) -> None:
        self.events.append(event)
        features = ", ".join(f"{k}={_short(v)}" for k, v in list(event.features.items())[:3])
        mark = {"critical": "!!", "warning": "! ", "info": "  "}.get(event.severity, "  ")
        began = event.t_onset_s - self.start_s
        since = f"(began {began:.1f} s) " if self.t() - began >= 0.5 and event.type != "session_summary" else ""
        self.line(f"{self.t():6.1f} s  {mark} EVENT {HEADLINES.get(event.type, event.type):<16} {since}{features}")

    def after_step(self) -> None:
        now = self.t()
        alerts = self.daemon.alerts.state() if self.daemon is not None else {}
        alarm = alerts.get("alarm") if not alerts.get("alarm_silent") else None
        if alarm != self._alarm:
            if alarm is not None:
                self.line(f"{now:6.1f} s     BUZZER ▮▮▮ {SOUNDS.get(alarm, alarm)}")
            elif self._alarm is not None:
                self.line(f"{now:6.1f} s     BUZZER quiet")
            self._alarm = alarm
        if self.is_tty:
            self._draw_live(now, bool(self.buzzer is not None and self.buzzer.is_on))

    def _draw_live(self, now: float, is_on: bool) -> None:
        real_now = time.monotonic()
        if is_on == self._drawn_on and real_now - self._drawn_at < 0.1:
            return  # about ten redraws a second are plenty for the eye; the loop steps far more often
        self._drawn_at, self._drawn_on = real_now, is_on
        state = self.daemon.pipeline.state() if self.daemon is not None else {}
        doing = "walking" if state.get("is_walking") else "still"
        tilt = state.get("tilt_deg")
        tilt_txt = f"tilt {tilt:4.0f}°" if isinstance(tilt, (int, float)) and tilt == tilt else "tilt   -"
        self._live = (f"  {now:6.1f} s │ {doing:<7} │ {tilt_txt} │ steps {state.get('steps', 0):>3} │ "
                      f"buzzer {'▮▮▮' if is_on else '   '}")
        self.out.write("\r\033[K" + self._live)
        self.out.flush()

    def finish(self) -> None:
        if self.is_tty and self._live:
            self.out.write("\r\033[K")
            self._live = ""
            self.out.flush()


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    text = str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def run(args: argparse.Namespace) -> int:
    import dataclasses

    from ..config import Config
    import numpy as np

    from ..detection.calibration import Calibration
    from ..daemon.calibration_file import save_calibration
    from ..daemon.scaled_clock import ScaledClock
    from hal.clock import Clock, FakeClock
    from ..daemon.settings import DaemonSettings, EmulatorSettings
    from ..daemon.wiring import build_daemon, build_gpio_for
    from ..evaluation.scenarios import demo_walk

    out = sys.stdout
    if not getattr(args, "verbose", 0):
        # the demo explains itself; the daemon's warnings (no calibration, broker refused) would only repeat it
        logging.getLogger("firmware_py").setLevel(logging.ERROR)
    scenario = demo_walk(seed=args.seed)
    duration_s = float(scenario.t_s[-1] - scenario.t_s[0])
    defaults = Config()
    seconds = args.seconds if args.seconds is not None else duration_s + defaults.alerts.cancel_window_s + 5.0

    temp_dir = None
    state_dir = args.state_dir
    if state_dir is None:
        temp_dir = tempfile.mkdtemp(prefix="retrowalk-demo-")
        state_dir = Path(temp_dir)
    with_broker = not args.no_broker
    broker_up = with_broker and broker_answers()

    config = dataclasses.replace(
        defaults,
        daemon=DaemonSettings(driver="emulated", telemetry_interval_s=5.0,
                              emulator=EmulatorSettings(scenario="demo_walk", loop=False, seed=args.seed)),
        mqtt=dataclasses.replace(defaults.mqtt, host=BROKER_HOST, port=BROKER_PORT, device_id="demo"),
        paths=dataclasses.replace(defaults.paths, state_dir=str(state_dir)),
    )
    if math.isinf(args.speed):
        pace, real_s = "Time is virtual (--speed max): no waiting, so nothing to hear", ""
    else:
        pace, real_s = f"Time runs {args.speed:g}x real time", f" (~{seconds / args.speed:.0f} s)"
    truth = ", ".join(f"{kind} at {t:.0f} s" for kind, t in scenario.truth) or "nothing"
    out.write(
        "retrowalk demo: the full monitor on an EMULATED MPU-6050 (no hardware needed).\n"
        f"  The motion is SYNTHETIC: a generated backward walk of {duration_s:.0f} s ({scenario.name}), with "
        f"{truth}.\n"
        f"  {pace}; the demo stops by itself after {seconds:.0f} s of demo time{real_s}.\n"
        "  Sounds: a short chirp = stumble; a continuous alarm = fall (the wearer can cancel it with the "
        f"button within {defaults.alerts.cancel_window_s:g} s; unanswered, it becomes 'help needed').\n")
    if not with_broker:
        out.write(f"  MQTT: off (--no-broker); events are kept in the outbox at {state_dir}.\n")
    elif broker_up:
        out.write(f"  MQTT: publishing to {BROKER_HOST}:{BROKER_PORT}; watch with:  "
                  f"mosquitto_sub -h {BROKER_HOST} -t 'retrowalk/#' -v\n")
    else:
        out.write(f"  MQTT: no broker answers at {BROKER_HOST}:{BROKER_PORT}, so events are queued in the outbox "
                  f"at {state_dir}\n        (start one with 'mosquitto' to see them published; the demo keeps "
                  f"trying).\n")
    out.write("\n")
    out.flush()

    Path(state_dir).mkdir(parents=True, exist_ok=True)
    # The emulated sensor sits upright with its axes the body's, as after 'retrowalk calibrate'.
    save_calibration(state_dir, Calibration(gyro_bias_dps=(0.0, 0.0, 0.0), body_from_sensor=np.eye(3)))
    clock: Clock = FakeClock() if math.isinf(args.speed) else ScaledClock(args.speed)
    view = TerminalView(clock, clock.monotonic(), out)
    # built here rather than by build_daemon: the view draws the buzzer from these (mock) pins
    gpio = build_gpio_for(config, clock, mock_pins=True)
    try:
        daemon = build_daemon(config, clock, gpio=gpio, with_broker=with_broker, on_event=view.on_event,
                              environ={})
        view.daemon, view.buzzer = daemon, gpio.buzzer
        queued = []
        published = []

        def after_step() -> None:
            view.after_step()
            queued[:] = [daemon.outbox.depth()]
            published[:] = [daemon.publisher is not None and daemon.publisher.is_connected]

        try:
            daemon.run(duration_s=seconds, after_step=after_step)
        finally:
            view.finish()
        _summary(out, view.events, scenario, queued[0] if queued else 0, bool(published and published[0]),
                 with_broker, state_dir, temp_dir is not None)
    finally:
        gpio.close()
        if temp_dir is not None:
            shutil.rmtree(temp_dir, ignore_errors=True)
    return 0


def _summary(out: TextIO, events: List[Any], scenario: Any, queued: int, connected: bool, with_broker: bool,
             state_dir: Path, is_temporary: bool) -> None:
    kinds = [e.type for e in events]
    counts = ", ".join(f"{kinds.count(k)} {k}" for k in dict.fromkeys(kinds)) or "none"
    out.write(f"\ndemo finished: {len(events)} events ({counts}).\n")
    if with_broker and connected:
        out.write(f"  They were published on retrowalk/demo/event at {BROKER_HOST}:{BROKER_PORT}"
                  f"{f' ({queued} still awaiting acknowledgement)' if queued else ''}.\n")
    else:
        where = "a temporary outbox (removed now)" if is_temporary else f"the outbox in {state_dir}"
        out.write(f"  {queued} messages (these events and telemetry readings) stayed queued in {where}; with a "
                  f"broker on {BROKER_HOST}:{BROKER_PORT} they are published on retrowalk/demo/#.\n")
    out.write("  On a Raspberry Pi with an MPU-6050: 'retrowalk selftest', then 'retrowalk calibrate', "
              "then 'retrowalk run'.\n")
