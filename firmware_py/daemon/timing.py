"""The wearer's timing as the daemon lives it: how long a sample that completes an event waits before the
event leaves the pipeline, and how long an event takes to turn the buzzer on.

Every frame's last sample could complete an event (events are decided per frame), so all of them are
measured, not only the few that did: thousands of figures a minute instead of a handful an hour. The figures
go into 0.1 ms bins (a fixed list: no growth over a long run), and ``summary()`` reads percentiles from them;
``close()`` logs that line and ``bench/daemon.py`` reads it.
"""
from __future__ import annotations

from typing import Dict, Iterable, Optional

import numpy as np

BIN_MS = 0.1
MAX_MS = 2000.0


class Latencies:
    """A histogram of latencies in ms (0.1 ms bins up to 2 s; anything longer lands in the last bin)."""

    def __init__(self) -> None:
        self.counts = [0] * (int(MAX_MS / BIN_MS) + 1)
        self.n = 0
        self.max_ms = 0.0

    def add_s(self, latencies_s: Iterable[float]) -> None:
        # plain Python: one or two figures per FIFO read, where numpy's per-call cost would dominate
        last = len(self.counts) - 1
        for seconds in latencies_s:
            ms = seconds * 1000.0
            self.counts[min(max(int(ms / BIN_MS), 0), last)] += 1
            self.n += 1
            if ms > self.max_ms:
                self.max_ms = ms

    def percentile_ms(self, q: float) -> Optional[float]:
        """The ``q``-th percentile (upper edge of its bin), ``None`` before any figure."""
        if self.n == 0:
            return None
        rank = int(np.searchsorted(np.cumsum(self.counts), q / 100.0 * self.n))
        return round(min((rank + 1) * BIN_MS, self.max_ms), 2)


class TimingStats:
    """Sample-to-event latency (every frame's last sample), and event-to-buzzer (every alarm started).

    Frames read while the wearer rested (several frames a read, see ``wakeup``) are kept apart: their wait
    is the price of the resting reads, and the first movement ends it before an event can be completed.
    """

    def __init__(self) -> None:
        self.sample_to_event = Latencies()
        self.sample_to_event_resting = Latencies()
        self.event_to_buzzer = Latencies()

    def frames_done(self, block_t_s: np.ndarray, samples_until_frame: Optional[int], frame_samples: int,
                    done_s: float, resting: bool = False) -> None:
        """The pipeline returned at ``done_s`` after a block whose frame-completing samples follow from how
        many samples the open frame still needed before it (``samples_until_frame``)."""
        if not samples_until_frame or not frame_samples or samples_until_frame > len(block_t_s):
            return
        ends_s = block_t_s[samples_until_frame - 1::frame_samples].tolist()
        (self.sample_to_event_resting if resting else self.sample_to_event).add_s([done_s - t for t in ends_s])

    def buzzer(self, seconds: float) -> None:
        self.event_to_buzzer.add_s([seconds])

    def summary(self) -> Dict[str, Optional[float]]:
        return {"sample_to_event_p50_ms": self.sample_to_event.percentile_ms(50),
                "sample_to_event_p99_ms": self.sample_to_event.percentile_ms(99),
                "sample_to_event_max_ms": round(self.sample_to_event.max_ms, 2),
                "frames_timed": self.sample_to_event.n,
                "sample_to_event_p99_ms_resting": self.sample_to_event_resting.percentile_ms(99),
                "frames_timed_resting": self.sample_to_event_resting.n,
                "buzzer_p50_ms": self.event_to_buzzer.percentile_ms(50),
                "buzzer_p99_ms": self.event_to_buzzer.percentile_ms(99),
                "buzzer_max_ms": round(self.event_to_buzzer.max_ms, 3),
                "alarms_timed": self.event_to_buzzer.n}
