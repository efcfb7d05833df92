"""Reading the sensor for a while (``retrowalk calibrate``, ``record``, the MQTT ``calibrate`` command)."""
from __future__ import annotations

from typing import Any, Iterator, Sequence

import numpy as np

from hal.clock import Clock
from hal.types import SampleBlock


def read_for(sensor: Any, clock: Clock, seconds: float, poll_interval_s: float = 0.05) -> Iterator[SampleBlock]:
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
    if not blocks:
        return SampleBlock.empty()
    return SampleBlock(np.concatenate([b.t_s for b in blocks]),
                       np.concatenate([b.accel_g for b in blocks]),
                       np.concatenate([b.gyro_dps for b in blocks]),
                       blocks[-1].temp_c, blocks[0].lost_samples)
