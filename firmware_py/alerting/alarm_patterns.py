"""Buzzer patterns: what a pattern is, what each event sounds like by default, and how one plays on a clock.

Patterns are data, ``(on_s, off_s)`` steps repeated ``repeat`` times (0 = until cancelled), played by ``Alarm``
from the loop rather than by gpiozero's ``blink()`` thread: on virtual time the exact sequence is testable, and
the loop wakes at each edge (``PatternSettings.next_change_s``, via ``AlertManager.next_due_s``), so the timing
does not depend on how often the FIFO is read. The cost: a stalled loop freezes the pattern in its current
state (the systemd watchdog restarts a stalled daemon; ``close()`` turns the buzzer off).

``alerts`` decides which pattern sounds when; this module only knows patterns and the buzzer's ``on()`` /
``off()``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional, Tuple

from ..events import FALL, HELP_NEEDED, LOSS_OF_BALANCE, SHUTTING_DOWN, SOS, STUMBLE

if TYPE_CHECKING:  # gpiozero is imported where pins are opened, not where settings are read
    from hal.gpio import Buzzer

#: the loop period the patterns are stepped at; shorter steps cannot be played reliably
MIN_STEP_S = 0.05
#: a tick landing on a step boundary or a deadline counts as past it (virtual clocks accumulate float error)
_BOUNDARY_S = 1e-6

TEST_ALARM = "test_alarm"


def reached(elapsed_s: float, limit_s: float) -> bool:
    """``elapsed_s >= limit_s``, counting a tick that lands on the limit as there (float error)."""
    return elapsed_s + _BOUNDARY_S >= limit_s


@dataclass(frozen=True)
class PatternSettings:
    """One buzzer pattern: ``steps_s`` of ``(on_s, off_s)``, played ``repeat`` times (0 = until cancelled).

    A field left out (``None``) takes the event's default pattern's value, so ``[alerts.sos] repeat = 2``
    keeps the Morse steps.
    """

    steps_s: Optional[Tuple[Tuple[float, float], ...]] = None
    repeat: Optional[int] = None

    def __post_init__(self) -> None:
        if self.steps_s is not None:
            self._check_steps()
        if self.repeat is not None:
            self._check_repeat()

    def _check_steps(self) -> None:
        # TOML gives lists of lists; keep the frozen value hashable and comparable
        try:
            steps = tuple((float(on_s), float(off_s)) for on_s, off_s in self.steps_s)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"steps_s = {self.steps_s!r} is not a list of [on_s, off_s] pairs, "
                             f"e.g. [[0.2, 0.1], [0.2, 1.0]]") from exc
        object.__setattr__(self, "steps_s", steps)
        if not steps:
            raise ValueError("steps_s = [] is empty; give at least one [on_s, off_s] pair")
        for i, (on_s, off_s) in enumerate(steps):
            if not (math.isfinite(on_s) and on_s >= MIN_STEP_S):
                raise ValueError(f"steps_s[{i}] on_s = {on_s:g} is not allowed; use at least {MIN_STEP_S:g} s "
                                 f"(the main loop's period: shorter beeps are not played reliably)")
            if not (math.isfinite(off_s) and (off_s == 0 or off_s >= MIN_STEP_S)):
                raise ValueError(f"steps_s[{i}] off_s = {off_s:g} is not allowed; use 0 (no gap) or at least "
                                 f"{MIN_STEP_S:g} s")

    def _check_repeat(self) -> None:
        if isinstance(self.repeat, bool) or not isinstance(self.repeat, int) or self.repeat < 0:
            raise ValueError(f"repeat = {self.repeat!r} is not allowed; use 0 (until cancelled) or a count >= 1")

    def with_defaults(self, default: "PatternSettings") -> "PatternSettings":
        """This pattern with the fields it leaves out taken from ``default``."""
        return PatternSettings(self.steps_s if self.steps_s is not None else default.steps_s,
                               self.repeat if self.repeat is not None else default.repeat)

    @property
    def cycle_s(self) -> float:
        return sum(on_s + off_s for on_s, off_s in self.steps_s)

    @property
    def duration_s(self) -> float:
        """How long it sounds; ``inf`` for a pattern that plays until cancelled."""
        return math.inf if self.repeat == 0 else self.repeat * self.cycle_s

    def is_on_at(self, elapsed_s: float) -> Optional[bool]:
        """Buzzer state ``elapsed_s`` after the start; ``None`` once the pattern has finished."""
        elapsed_s += _BOUNDARY_S
        if elapsed_s >= self.duration_s:
            return None
        position_s = max(elapsed_s, 0.0) % self.cycle_s
        for on_s, off_s in self.steps_s:
            if position_s < on_s:
                return True
            position_s -= on_s + off_s
            if position_s < 0:
                return False
        return False

    def next_change_s(self, elapsed_s: float) -> float:
        """When (elapsed time from the start) the buzzer next changes state or the pattern ends; ``inf`` when
        it never does (a continuous tone). The daemon's loop sleeps until then."""
        state = self.is_on_at(elapsed_s)
        if state is None:
            return math.inf
        edges, position_s = [], 0.0
        for on_s, off_s in self.steps_s:
            edges += [position_s + on_s, position_s + on_s + off_s]
            position_s += on_s + off_s
        cycle_start_s = math.floor((max(elapsed_s, 0.0) + _BOUNDARY_S) / self.cycle_s) * self.cycle_s
        candidates = sorted(start_s + edge_s for start_s in (cycle_start_s, cycle_start_s + self.cycle_s)
                            for edge_s in edges)
        for edge_s in candidates + [self.duration_s]:
            if edge_s > elapsed_s + _BOUNDARY_S and self.is_on_at(edge_s) != state:
                return edge_s
        return math.inf


# International Morse "SOS": dot 1 unit, dash 3, gap 1, between letters 3, between words 7 (unit 0.15 s)
_MORSE_SOS = ((0.15, 0.15), (0.15, 0.15), (0.15, 0.45), (0.45, 0.15), (0.45, 0.15), (0.45, 0.45),
              (0.15, 0.15), (0.15, 0.15), (0.15, 1.05))

#: what each event sounds like unless configured (docs/alerts.md)
DEFAULT_PATTERNS = {
    STUMBLE: PatternSettings(((0.15, 0.0),), 1),  # one short chirp
    LOSS_OF_BALANCE: PatternSettings(((0.1, 0.1),), 15),  # 5 beeps a second for 3 s
    FALL: PatternSettings(((1.0, 0.0),), 0),  # continuous
    HELP_NEEDED: PatternSettings(((0.2, 0.1), (0.2, 0.1), (0.2, 1.0)), 0),  # three beeps, pause
    SOS: PatternSettings(_MORSE_SOS, 0),
    TEST_ALARM: PatternSettings(((0.5, 0.5),), 2),
    SHUTTING_DOWN: PatternSettings(((0.6, 0.3), (0.6, 0.3), (1.2, 0.0)), 1),  # two long, one longer: going off
}



class Alarm:
    """Plays one pattern at a time on a buzzer, stepped by ``tick``.

    ``play`` sets the first state at once, so the buzzer is on when ``play`` returns.
    """

    def __init__(self, buzzer: Buzzer) -> None:
        self.buzzer = buzzer
        self._pattern: Optional[PatternSettings] = None
        self._started_s = 0.0
        self._is_on = False

    @property
    def is_playing(self) -> bool:
        return self._pattern is not None

    @property
    def is_on(self) -> bool:
        return self._is_on

    def play(self, pattern: PatternSettings, now_s: float) -> None:
        self._pattern = pattern
        self._started_s = now_s
        self._set(True)  # every pattern starts with a beep (on_s > 0)

    def tick(self, now_s: float) -> bool:
        """Apply the state due at ``now_s``; returns whether the pattern is still playing."""
        if self._pattern is None:
            return False
        state = self._pattern.is_on_at(now_s - self._started_s)
        if state is None:
            self.stop()
            return False
        self._set(state)
        return True

    def stop(self) -> None:
        self._pattern = None
        self._set(False)

    def _set(self, value: bool) -> None:
        if value != self._is_on:
            self._is_on = value
            if value:
                self.buzzer.on()
            else:
                self.buzzer.off()
