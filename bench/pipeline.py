"""Samples per second through the whole detection pipeline on one core.

    python bench/pipeline.py [--seconds 600] [--single-seconds 60] [--block-s 0.1]

Feeds a long synthetic backward walk (with a stumble and a fall at the end, so every detector has work)
through ``Pipeline.process`` in blocks of ``--block-s`` (what the daemon does; the best of three passes),
then the first ``--single-seconds`` of it one sample at a time, and prints both rates. The last stdout line
is one JSON object with ``samples_per_s_block`` and ``samples_per_s_single`` (target: >= 200,000 samples/s
in blocks, i.e. 1,000x real time at 200 Hz).
"""
from __future__ import annotations

import os

# one core: no BLAS thread pools behind numpy's back
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from firmware_py.evaluation import scenarios  # noqa: E402
from firmware_py.detection.pipeline import Pipeline  # noqa: E402
from hal.types import SampleBlock  # noqa: E402


def long_walk(seconds: float, seed: int = 0) -> SampleBlock:
    """A backward walk of ``seconds`` ending in the demo's stumble and fall (synthetic)."""
    demo = scenarios.demo_walk(seed=seed)
    walk = scenarios.backward_walk(max(seconds - demo.duration_s, 10.0), seed=seed)
    t_s = np.concatenate([walk.t_s, walk.t_s[-1] + 1.0 / walk.rate_hz + demo.t_s])
    return SampleBlock(t_s, np.concatenate([walk.accel_g, demo.accel_g]),
                       np.concatenate([walk.gyro_dps, demo.gyro_dps]))


def feed(samples: SampleBlock, step: int) -> tuple:
    """(seconds of CPU, events) for feeding ``samples`` in blocks of ``step`` samples to a fresh pipeline."""
    pipeline = Pipeline()
    blocks = [samples.slice(i, i + step) for i in range(0, len(samples), step)]
    events = 0
    started = time.process_time()
    for block in blocks:
        events += len(pipeline.process(block))
    events += len(pipeline.finish())
    return time.process_time() - started, events


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=600.0, help="length of the synthetic walk (default 600)")
    ap.add_argument("--single-seconds", type=float, default=60.0,
                    help="how much of it to feed one sample at a time (default 60; that path is slow)")
    ap.add_argument("--block-s", type=float, default=0.1, help="block length in seconds (default 0.1)")
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    samples = long_walk(args.seconds)
    rate_hz = 1.0 / float(np.median(np.diff(samples.t_s)))
    block_n = max(1, int(round(args.block_s * rate_hz)))
    feed(samples.slice(0, min(len(samples), 2000)), block_n)  # warm-up: imports, first allocations

    # best of three: the first timed pass after the warm-up ran at half speed in both clean-clone CI runs
    # (0.86 s of CPU against 0.48 s, the same code and input), which says more about the host than the code
    passes = [feed(samples, block_n) for _ in range(3)]
    block_cpu_s, block_events = min(passes)
    print("timed passes: " + ", ".join(f"{cpu_s:.2f}" for cpu_s, _ in passes) + " s CPU (the best is reported)")
    single = samples.slice(0, min(len(samples), int(args.single_seconds * rate_hz)))
    single_cpu_s, single_events = feed(single, 1)

    per_s_block = len(samples) / block_cpu_s
    per_s_single = len(single) / single_cpu_s
    print(f"synthetic walk: {len(samples)} samples ({len(samples) / rate_hz:.0f} s at {rate_hz:.0f} Hz), "
          f"{block_events} events")
    print(f"blocks of {block_n} samples: {per_s_block:,.0f} samples/s "
          f"({per_s_block / rate_hz:,.0f}x real time), {block_cpu_s:.2f} s CPU")
    print(f"one sample at a time ({len(single)} samples): {per_s_single:,.0f} samples/s "
          f"({per_s_single / rate_hz:,.1f}x real time), {single_events} events")
    print(json.dumps({
        "samples_per_s_block": round(per_s_block),
        "samples_per_s_single": round(per_s_single),
        "realtime_factor_block": round(per_s_block / rate_hz, 1),
        "samples": len(samples),
        "block_samples": block_n,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
