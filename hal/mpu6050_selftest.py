"""The result of the MPU-6050 factory self-test (RM-MPU-6000A rev 4.2 §4.1): per axis, the change of the
self-test response from the factory trim, against the product spec's ±14 % limit."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from . import mpu6050_registers as R

__all__ = ["AxisSelfTest", "SelfTestResult", "axis_result"]


@dataclass(frozen=True)
class AxisSelfTest:
    """One axis of the factory self-test (RM §4.1): response, factory trim, and the change between them."""

    axis: str
    response_lsb: float
    factory_trim_lsb: float
    change_pct: float
    passed: bool


@dataclass(frozen=True)
class SelfTestResult:
    axes: Tuple[AxisSelfTest, ...]

    @property
    def passed(self) -> bool:
        return all(a.passed for a in self.axes)

    def __str__(self) -> str:
        parts = [f"{a.axis} {a.change_pct:+.1f} %" + ("" if a.passed else " FAIL") for a in self.axes]
        verdict = "passed" if self.passed else f"failed (limit ±{R.SELF_TEST_LIMIT_PCT:g} % of factory trim)"
        return f"self-test {verdict}: " + ", ".join(parts)


def axis_result(axis: str, response_lsb: float, trim_lsb: float) -> AxisSelfTest:
    if trim_lsb == 0:
        return AxisSelfTest(axis, float(response_lsb), 0.0, float("nan"), False)
    change_pct = (response_lsb - trim_lsb) / trim_lsb * 100.0
    return AxisSelfTest(axis, float(response_lsb), float(trim_lsb), float(change_pct),
                        abs(change_pct) <= R.SELF_TEST_LIMIT_PCT)
