"""What the wearer hears, and the "I'm OK" button: event -> buzzer pattern, cancel, escalation, SOS.

``AlertManager.handle(event)`` starts the event's pattern at once (the buzzer goes high inside the call, before
any disk or network I/O) and returns the events to record and publish. ``tick()``, called from the main loop,
drains the button edges, steps the pattern on the injected clock, and returns the events it raised itself:
``cancelled`` (button or MQTT), ``help_needed`` (a fall not cancelled within ``cancel_window_s``) and ``sos``
(a long press).

What a pattern is and how it plays (``PatternSettings``, ``DEFAULT_PATTERNS``, ``Alarm``) lives in
``alarm_patterns``, the alarms' order in ``urgency``, the falls' cancel windows in ``fall_windows``.

Rules, in order of what matters to the wearer:

- a higher-priority alarm pre-empts a lower one at once; a lower one never pre-empts a higher one
  (stumble < loss_of_balance < fall < help_needed = sos), so a stumble chirp never swallows a fall;
- a press silences whatever sounds at once; released before ``long_press_s`` it is a cancel (``cancelled``
  names what it cancelled), held to ``long_press_s`` it is a manual ``sos`` instead;
- every fall opens its own cancel window, however close to the last one, and gets exactly one ``help_needed``:
  from its window or from the detector's stillness check (which belongs to the newest fall), whichever comes
  first; the other is dropped (``handle`` returns ``[]`` for it); a cancel answers every open fall;
- stumble and loss-of-balance alarms have a per-type cooldown and a shared rate limit, so an event storm does
  not turn into endless buzzing; the events are still returned, so the carer misses none;
- ``mute(minutes)`` silences stumble alarms only, unless ``mute_falls`` is set.

Events raised here carry the clock's monotonic time in ``t_onset_s`` / ``t_detect_s``.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Deque, Dict, List, Optional

from hal.clock import Clock
from hal.gpio_settings import PRESS, RELEASE

from ..events import CANCELLED, FALL, FALL_CLASS, HELP_NEEDED, RECOVERED, SHUTTING_DOWN, SOS, Event
from .alarm_patterns import TEST_ALARM, Alarm, PatternSettings, reached
# AlertSettings (the [alerts] section) is imported from here too
from .alert_settings import AlertSettings
from .fall_windows import FallWindows
from .urgency import ENDED_BY_RECOVERED, PRIORITY, SELF_ENDING

if TYPE_CHECKING:  # gpiozero is imported where pins are opened (config reads AlertSettings from here)
    from hal.gpio import Gpio


@dataclass
class _Sounding:
    """The alarm in progress (also while silent: muted, or silenced by a press not yet released)."""

    kind: str
    event: Optional[Event]
    pattern: PatternSettings
    started_s: float
    is_silent: bool

    @property
    def priority(self) -> int:
        return PRIORITY[self.kind]

    def has_finished(self, now_s: float) -> bool:
        return self.pattern.is_on_at(now_s - self.started_s) is None


class AlertManager:
    """Event -> buzzer, the button, the cancel window and escalation (see the module docstring).

    Parameters
    ----------
    gpio : hal.gpio.Gpio
        The buzzer, the optional status LED and the button's ``presses`` queue.
    clock : Clock
    settings : AlertSettings
    """

    def __init__(self, gpio: Gpio, clock: Clock, settings: AlertSettings = AlertSettings()) -> None:
        self._led = gpio.led
        self._presses = gpio.presses
        # edge times are only comparable with ours when stamped by the same clock
        self._edges_share_clock = gpio.clock is clock
        self.settings = settings
        self.clock = clock
        self.alarm = Alarm(gpio.buzzer)
        self._sounding: Optional[_Sounding] = None
        self._falls = FallWindows(settings.cancel_window_s, settings.help_dedupe_s)
        self._last_start_s: Dict[str, float] = {}
        self._recent_starts_s: Deque[float] = deque()
        self._muted_until_s = -math.inf
        self._press_started_s: Optional[float] = None
        self._press_target: Optional[_Sounding] = None
        self._press_was_sos = False
        self.suppressed_alarms = 0
        self._closed = False

    # ---- events in ---------------------------------------------------------------------------------------
    def handle(self, event: Event) -> List[Event]:
        """Sound ``event``'s pattern (at once, inside this call) and return the events to record/publish."""
        now = self.clock.monotonic()
        self._falls.forget_old(now)
        if event.type == FALL:
            self._falls.open(event, now)
        elif event.type == HELP_NEEDED and event.features.get("fall_id") is None:
            # the detector's stillness check: dropped if the newest fall's help was already raised
            if not self._falls.take_detector_help(event):
                return []
        elif event.type == RECOVERED:
            # caught themselves: the urgent beeping has done its job; a fall's window runs on (ENDED_BY_RECOVERED)
            if self._sounding is not None and self._sounding.kind in ENDED_BY_RECOVERED:
                self._stop_sounding()
        self._start(event.type, event, now, ignore_mute=event.type == SHUTTING_DOWN)  # no mute hides going off
        self._update_led()
        return [event]

    def tick(self, now_s: Optional[float] = None) -> List[Event]:
        """Button edges, long press, cancel-window escalation, pattern step. Returns the events raised."""
        now = self.clock.monotonic() if now_s is None else now_s
        raised: List[Event] = []
        raised += self._drain_button(now)
        if self._press_started_s is not None and not self._press_was_sos \
                and reached(now - self._press_started_s, self.settings.long_press_s):
            raised += self._raise_sos(self._press_started_s, now)
        raised += self._escalate_if_due(now)
        if self._sounding is not None:
            if self._sounding.is_silent:
                if self._sounding.has_finished(now):
                    self._sounding = None
            elif not self.alarm.tick(now):
                self._sounding = None
        self._update_led()
        return raised

    # ---- commands ------------------------------------------------------------------------------------------
    def cancel(self, source: str = "mqtt") -> List[Event]:
        """"I'm OK" from elsewhere (an MQTT ``cancel``): stops the alarm and the cancel window."""
        now = self.clock.monotonic()
        target = self._sounding if self._sounding is not None and self._sounding.event is not None else None
        events = self._cancel(target, now, now, source)
        self._update_led()
        return events

    def mute(self, minutes: float) -> float:
        """Silence stumble alarms (and fall-class ones only if ``mute_falls``) for ``minutes``.

        Returns the clock time the mute ends. Raises ValueError naming the allowed range (0 is refused, as the
        MQTT ``mute`` command refuses it: nothing unmutes early).
        """
        limit = self.settings.mute_max_minutes
        if isinstance(minutes, bool) or not isinstance(minutes, (int, float)) or not (1 <= minutes <= limit):
            raise ValueError(f"mute minutes = {minutes!r} is not allowed; use 1 to {limit:g} (mute_max_minutes)")
        now = self.clock.monotonic()
        self._muted_until_s = now + 60.0 * minutes
        sounding = self._sounding
        if sounding is not None and not sounding.is_silent and self._is_muted(sounding.kind, now):
            self.alarm.stop()
            sounding.is_silent = True
        return self._muted_until_s

    def test_alarm(self) -> bool:
        """Play the test pattern (not while a real alarm sounds). Returns whether it is playing."""
        now = self.clock.monotonic()
        if self._sounding is not None:
            return False
        self._start(TEST_ALARM, None, now, ignore_mute=True)
        return self._sounding is not None

    def next_due_s(self) -> float:
        """When ``tick`` next has work: a buzzer edge, a silent alarm's end, a held button becoming an SOS, the
        cancel window's end, the LED going off; ``inf`` when nothing is due until an event or a press."""
        now = self.clock.monotonic()
        due = [math.inf]
        sounding = self._sounding
        if sounding is not None:
            due.append(sounding.started_s + sounding.pattern.next_change_s(now - sounding.started_s))
        if self._press_started_s is not None and not self._press_was_sos:
            due.append(self._press_started_s + self.settings.long_press_s)
        due.append(self._falls.next_due_s(now))
        return min(due)

    def state(self) -> Dict[str, Any]:
        """A snapshot for status lines and telemetry."""
        now = self.clock.monotonic()
        sounding = self._sounding
        open_falls = self._falls.open_falls(now)
        pending = [i for i in open_falls if i.help_event_id is None]
        return {
            "alarm": sounding.kind if sounding is not None else None,
            "alarm_silent": sounding.is_silent if sounding is not None else False,
            "buzzer_on": self.alarm.is_on,
            "fall_open": bool(open_falls),
            "cancel_in_s": (round(max(0.0, min(i.opened_s for i in pending) + self.settings.cancel_window_s
                                      - now), 1) if pending else None),
            "help_raised": any(i.help_event_id is not None for i in open_falls),
            "muted_for_s": round(max(0.0, self._muted_until_s - now), 1),
            "button_held_s": (round(now - self._press_started_s, 2)
                              if self._press_started_s is not None else None),
            "suppressed_alarms": self.suppressed_alarms,
        }

    # ---- surviving a restart -----------------------------------------------------------------------------
    def pending_alarms(self) -> Dict[str, Any]:
        """What a restarted daemon must take up: the open falls (each with its window's start and its
        help_needed once raised) and a sounding fall, help_needed or SOS. JSON-able; times are this clock's
        (``daemon.alarm_state`` turns them into wall time for the file)."""
        now = self.clock.monotonic()
        incidents = [{"fall": i.fall.to_dict(), "opened_s": i.opened_s,
                      "help": i.help_event.to_dict() if i.help_event is not None else None}
                     for i in self._falls.open_falls(now)]
        sounding = self._sounding
        alarm = None
        if sounding is not None and sounding.event is not None and sounding.kind in (FALL, HELP_NEEDED, SOS):
            alarm = {"kind": sounding.kind, "event": sounding.event.to_dict()}
        return {"incidents": incidents, "sounding": alarm} if incidents or alarm else {}

    def resume(self, pending: Dict[str, Any]) -> List[Event]:
        """Take up what ``pending_alarms`` gave in an earlier run (its times already moved onto this clock):
        the windows run on (or escalate at the next ``tick`` if their time has passed) and the alarm that was
        sounding sounds again. Returns those events, with their original ids, to be published again
        (delivery is at least once: subscribers dedupe by id)."""
        now = self.clock.monotonic()
        events: List[Event] = []
        for item in pending.get("incidents") or []:
            fall = Event.from_dict(item["fall"])
            help_event = Event.from_dict(item["help"]) if item.get("help") else None
            self._falls.open(fall, float(item["opened_s"]), help_event=help_event)
            events += [fall] + ([help_event] if help_event is not None else [])
        alarm = pending.get("sounding")
        if alarm:
            event = Event.from_dict(alarm["event"])
            self._start(alarm["kind"], event, now)
            if event.id not in {e.id for e in events}:
                events.append(event)
        self._update_led()
        return events

    def close(self) -> None:
        """Buzzer and LED off. Idempotent; events are still returned afterwards, silently."""
        if self._closed:
            return
        self._closed = True
        self._sounding = None
        self.alarm.stop()
        if self._led is not None:
            self._led.off()

    # ---- internals -----------------------------------------------------------------------------------------
    def _is_muted(self, kind: str, now: float) -> bool:
        if reached(now, self._muted_until_s):
            return False
        return kind not in FALL_CLASS or self.settings.mute_falls

    def _start(self, kind: str, event: Optional[Event], now: float, ignore_mute: bool = False) -> None:
        pattern = self.settings.pattern_for(kind)
        if pattern is None or self._closed:
            return
        current = self._sounding
        if current is not None:
            if current.priority > PRIORITY[kind]:
                self.suppressed_alarms += 1
                return
            if current.kind == kind and (kind not in SELF_ENDING
                                         or not reached(now - current.started_s, self.settings.cooldown_s)):
                self.suppressed_alarms += 1
                return  # already sounding this: a repeat does not restart it
        if kind in SELF_ENDING and not self._may_sound_again(kind, now):
            self.suppressed_alarms += 1
            return
        is_silent = not ignore_mute and self._is_muted(kind, now)
        self._sounding = _Sounding(kind, event, pattern, now, is_silent)
        if is_silent:
            self.alarm.stop()
        else:
            self.alarm.play(pattern, now)
        if kind in SELF_ENDING:
            self._last_start_s[kind] = now
            self._recent_starts_s.append(now)

    def _may_sound_again(self, kind: str, now: float) -> bool:
        if not reached(now - self._last_start_s.get(kind, -math.inf), self.settings.cooldown_s):
            return False
        while self._recent_starts_s and reached(now - self._recent_starts_s[0], self.settings.rate_limit_window_s):
            self._recent_starts_s.popleft()
        return len(self._recent_starts_s) < self.settings.rate_limit_alarms

    def _stop_sounding(self) -> None:
        self._sounding = None
        self.alarm.stop()

    def _drain_button(self, now: float) -> List[Event]:
        raised: List[Event] = []
        # looked at on every wake of the loop: empty() raises nothing, where an empty get_nowait() raised
        # queue.Empty each time (the loop is the queue's only reader)
        while not self._presses.empty():
            edge, edge_s = self._presses.get_nowait()
            t_s = min(edge_s, now) if self._edges_share_clock else now
            if edge == PRESS:
                raised += self._on_press(t_s, now)
            elif edge == RELEASE:
                raised += self._on_release(t_s, now)
        return raised

    def _on_press(self, t_s: float, now: float) -> List[Event]:
        self._press_started_s = t_s
        self._press_was_sos = False
        sounding = self._sounding
        # silence at once; whether this is a cancel or an SOS is known at release or after long_press_s
        self._press_target = sounding if sounding is not None and sounding.event is not None else None
        if sounding is not None:
            self._stop_sounding()
        return []

    def _on_release(self, t_s: float, now: float) -> List[Event]:
        started_s = self._press_started_s
        target, was_sos = self._press_target, self._press_was_sos
        self._press_started_s, self._press_target, self._press_was_sos = None, None, False
        if started_s is None or was_sos:
            return []
        if reached(t_s - started_s, self.settings.long_press_s):  # released late, before a tick saw the hold
            return self._raise_sos(started_s, now)
        return self._cancel(target, t_s, now, "button", held_s=t_s - started_s)

    def _cancel(self, target: Optional[_Sounding], t_s: float, now: float, source: str,
                held_s: Optional[float] = None) -> List[Event]:
        falls = self._falls.cancel_open(now)  # "I'm OK" answers every open fall
        self._press_target = None  # whatever a held button would have cancelled is cancelled now
        if self._sounding is not None:
            self._stop_sounding()
        if target is None and not falls:
            return []  # nothing a carer needs to hear about (a test alarm, or a press with nothing going on)
        cancelled = target.event if target is not None and target.event is not None else falls[-1].fall
        features: Dict[str, Any] = {"source": source, "cancelled_type": cancelled.type,
                                    "cancelled_id": cancelled.id}
        if len(falls) > 1:
            features["cancelled_ids"] = [w.fall.id for w in falls]
        if held_s is not None:
            features["held_s"] = round(held_s, 3)
        return [Event(CANCELLED, t_onset_s=t_s, t_detect_s=now, features=features)]

    def _raise_sos(self, pressed_s: float, now: float) -> List[Event]:
        self._press_was_sos = True
        self._press_target = None
        event = Event(SOS, t_onset_s=pressed_s, t_detect_s=now,
                      features={"source": "button", "held_s": round(now - pressed_s, 3)})
        self._start(SOS, event, now)
        return [event]

    def _escalate_if_due(self, now: float) -> List[Event]:
        if self._press_started_s is not None:
            return []  # the wearer is pressing: wait for the release (cancel) or the hold (sos)
        raised: List[Event] = []
        for window in self._falls.overdue(now):
            event = Event(HELP_NEEDED, t_onset_s=now, t_detect_s=now,
                          features={"reason": "not_cancelled", "fall_id": window.fall.id,
                                    "cancel_window_s": self.settings.cancel_window_s})
            window.help_event = event
            self._start(HELP_NEEDED, event, now)
            raised.append(event)
        return raised

    def _update_led(self) -> None:
        if self._led is None or self._closed:
            return
        if self._sounding is not None and self._sounding.kind != TEST_ALARM \
                or self._falls.open_falls(self.clock.monotonic()):
            self._led.on()
        else:
            self._led.off()
