"""Faults the emulated MPU-6050 can be told to show, as plain data (TOML- and JSON-friendly)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence, Tuple

import numpy as np

__all__ = ["FaultPlan", "Window", "parse_windows", "in_windows"]

Window = Tuple[float, float]
"""(start_s, end_s): from start_s up to, not including, end_s."""


def parse_windows(name: str, value: Iterable[Sequence[float]]) -> Tuple[Window, ...]:
    """Windows as TOML or JSON give them (lists of [start_s, end_s]), checked, as tuples; ``name`` is the key
    the error message names."""
    out = []
    for pair in value:
        if len(pair) != 2 or not (0 <= float(pair[0]) < float(pair[1])):
            raise ValueError(f"{name} entry {list(pair)!r} is not allowed; use [start_s, end_s] with "
                             f"0 <= start_s < end_s (seconds since the chip was created)")
        out.append((float(pair[0]), float(pair[1])))
    return tuple(out)


def in_windows(t_s: np.ndarray, windows: Tuple[Window, ...]) -> np.ndarray:
    mask = np.zeros(len(t_s), dtype=bool)
    for start, end in windows:
        mask |= (t_s >= start) & (t_s < end)
    return mask


@dataclass(frozen=True)
class FaultPlan:
    """Faults to inject, as plain data (times: seconds of chip clock since the chip was created).

    nack_windows_s : transfers inside a window fail with ``OSError(EREMOTEIO)``, as the kernel reports a NACK.
    nack_rate : probability that any one transfer is NACKed (seeded by ``seed``).
    vanish_windows_s : the chip stops answering altogether (a loose wire), then comes back with its registers.
    freeze_windows_s : the chip stops producing samples: data registers keep the last sample, nothing new
        reaches the FIFO.
    overflow_at_s : at each time the FIFO overflows as after a host stall: its oldest half frame is lost and
        INT_STATUS FIFO_OFLOW is set, so every later frame is misaligned until the FIFO is reset.
    """

    nack_windows_s: Tuple[Window, ...] = ()
    nack_rate: float = 0.0
    vanish_windows_s: Tuple[Window, ...] = ()
    freeze_windows_s: Tuple[Window, ...] = ()
    overflow_at_s: Tuple[float, ...] = ()
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("nack_windows_s", "vanish_windows_s", "freeze_windows_s"):
            object.__setattr__(self, name, parse_windows(name, getattr(self, name)))
        if not 0.0 <= float(self.nack_rate) <= 1.0:
            raise ValueError(f"nack_rate = {self.nack_rate} is not allowed; use a probability from 0.0 to 1.0")
        times = tuple(sorted(float(t) for t in self.overflow_at_s))
        if any(t < 0 for t in times):
            raise ValueError(f"overflow_at_s = {list(times)} is not allowed; times are seconds >= 0")
        object.__setattr__(self, "overflow_at_s", times)

    def refuses(self, now_s: float) -> bool:
        """Whether a transfer at chip time ``now_s`` falls in a vanish or NACK window (``nack_rate`` is the
        chip's to draw: it holds the seeded generator)."""
        return any(start <= now_s < end for start, end in self.vanish_windows_s + self.nack_windows_s)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "FaultPlan":
        """Build from a plain mapping (TOML, JSON); an unknown key is an error that names it."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault plan key(s) {unknown}; use {sorted(known)}")
        return cls(**dict(data))
