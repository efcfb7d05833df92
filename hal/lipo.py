"""A single-cell LiPo's state of charge from its voltage, and back (the INA219 measures volts, not charge).

The curve is a typical 3.7 V LiPo cell's resting voltage against charge, as battery makers publish it
(4.20 V full, a long plateau around 3.7-3.9 V, a knee below 3.6 V). It is an estimate: under the Pi's load the
voltage reads lower (the percentage too), and on the charger it reads higher, so ``battery_low`` waits for
the charger to be off. A fuel-gauge chip that counts charge (MAX17048) would be more exact.
"""
from __future__ import annotations

import numpy as np

#: (volts, percent), rising
CURVE_V_PERCENT = (
    (3.27, 0.0), (3.61, 5.0), (3.69, 10.0), (3.71, 15.0), (3.73, 20.0), (3.75, 25.0), (3.77, 30.0),
    (3.79, 35.0), (3.80, 40.0), (3.82, 45.0), (3.84, 50.0), (3.85, 55.0), (3.87, 60.0), (3.91, 65.0),
    (3.95, 70.0), (3.98, 75.0), (4.02, 80.0), (4.08, 85.0), (4.11, 90.0), (4.15, 95.0), (4.20, 100.0),
)
_V = np.array([v for v, _ in CURVE_V_PERCENT])
_P = np.array([p for _, p in CURVE_V_PERCENT])

#: voltages a connected single LiPo cell (with its protection circuit) can show; outside is a bad reading
PLAUSIBLE_V = (2.5, 4.5)


def percent_from_voltage(voltage_v: float) -> float:
    """State of charge in percent (0-100, clamped) for a cell voltage."""
    return float(np.interp(voltage_v, _V, _P))


def voltage_from_percent(percent: float) -> float:
    """The cell voltage at a state of charge (the emulated battery uses it)."""
    return float(np.interp(percent, _P, _V))
