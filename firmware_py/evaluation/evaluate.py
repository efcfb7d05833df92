"""Running labelled recordings through the detection pipeline, one trial at a time or a folder in parallel.

The pipeline is the very object the daemon runs (``firmware_py.detection.pipeline.Pipeline``), fed blocks of
about 0.1 s as the daemon reads them from the FIFO; there is no offline variant of the algorithm. What each
trial reported is a :class:`~firmware_py.evaluation.metrics.TrialResult`; ``metrics.py`` scores them.
"""
from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import traceback
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from hal.mpu6050_settings import SensorSettings

from .datasets import activity_from_name, find_recordings, load_recording
from .metrics import TrialResult
from .recording import Recording
from ..errors import DataFormatError
from ..events import SESSION_SUMMARY
from .transforms import Transform

log = logging.getLogger(__name__)

__all__ = ["run_recording", "evaluate_files", "settings_from_config", "default_pipeline", "BLOCK_S"]

#: the daemon drains the FIFO every ~0.1 s, so evaluation feeds blocks of the same size
BLOCK_S = 0.1


def default_pipeline(recording: Recording, settings: Any, model: Any = None,
                     gyro_range_dps: float = SensorSettings.gyro_range_dps) -> Any:
    from ..detection.calibration import Calibration
    from ..detection.pipeline import DetectionSettings, Pipeline

    calibration = None
    if recording.body_from_sensor is not None:
        # datasets carry their known mounting; the gyro bias is unknown there and left to the pipeline
        calibration = Calibration(gyro_bias_dps=(0.0, 0.0, 0.0),
                                  body_from_sensor=np.asarray(recording.body_from_sensor).tolist())
    return Pipeline(settings if settings is not None else DetectionSettings(), calibration=calibration, model=model,
                    gyro_range_dps=gyro_range_dps)


PipelineFactory = Callable[[Recording, Any], Any]


def settings_from_config(path: Path) -> Tuple[Any, PipelineFactory]:
    """For ``--config FILE``: its ``[detection]`` settings, and pipelines that take the recordings to come from
    a gyro of its ``[sensor] gyro_range_dps`` (the default, ±2000 °/s, is SisFall's). A bad model file is one
    ``ConfigError`` here, not one per trial."""
    from ..config import load_config
    from ..detection.detectors.balance import load_model_for

    config = load_config(path)
    load_model_for(config.detection.balance)
    return config.detection, functools.partial(default_pipeline, gyro_range_dps=config.sensor.gyro_range_dps)


def run_recording(recording: Recording, settings: Any = None, block_s: float = BLOCK_S,
                  make_pipeline: Optional[PipelineFactory] = None) -> TrialResult:
    """Run one recording through a fresh pipeline in blocks of ``block_s`` and keep what it reported."""
    pipeline = (make_pipeline or default_pipeline)(recording, settings)
    events = []
    for block in recording.blocks(block_s):
        events.extend(pipeline.process(block))
    events.extend(pipeline.finish())
    bouts = [0, 0, 0]
    for e in events:
        if e.type == SESSION_SUMMARY:
            for i, direction in enumerate(("forward", "backward", "unknown")):
                bouts[i] += e.features.get("bouts", {}).get(direction, 0)
    return TrialResult(
        name=recording.name, activity=recording.activity, kind=recording.kind,
        duration_s=recording.duration_s, impact_t_s=recording.impact_t_s,
        events=tuple((e.type, float(e.t_onset_s), float(e.t_detect_s)) for e in events),
        source_path=recording.source_path, bouts=tuple(bouts),  # type: ignore[arg-type]
    )


def _run_file(job: Tuple[str, str, Optional[Tuple[int, int]], Any, Optional[PipelineFactory], Transform]) -> TrialResult:
    path, fmt, fall_run, settings, make_pipeline, transform = job
    try:
        recording = transform.apply(load_recording(path, fmt, {Path(path).stem: fall_run} if fall_run else None))
    except DataFormatError as exc:
        return TrialResult(name=Path(path).stem, activity="", kind="other", duration_s=0.0, impact_t_s=None,
                           source_path=str(path), error=str(exc))
    try:
        return run_recording(recording, settings, make_pipeline=make_pipeline)
    except Exception as exc:  # a pipeline bug: name the trial that shows it, keep scoring the rest
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        return TrialResult(name=recording.name, activity=recording.activity, kind=recording.kind,
                           duration_s=recording.duration_s, impact_t_s=recording.impact_t_s, source_path=str(path),
                           error=f"{path}: the pipeline raised {type(exc).__name__}: {exc} "
                                 f"(at {Path(frame.filename).name}:{frame.lineno})")


def evaluate_files(path: Path, fmt: Optional[str] = None, settings: Any = None, jobs: Optional[int] = None,
                   fall_runs: Optional[Dict[str, Tuple[int, int]]] = None,
                   progress: Optional[Callable[[int, int], None]] = None,
                   make_pipeline: Optional[PipelineFactory] = None,
                   activities: Optional[Sequence[str]] = None,
                   transform: Transform = Transform()) -> List[TrialResult]:
    """Run every recording under ``path`` through the pipeline, ``jobs`` processes at once (default: one
    per core), and return the results sorted by file. ``progress(done, total)`` is called as trials finish.
    Files that cannot be read come back with ``error`` set; the others still run. ``activities`` keeps only
    those activity codes (SisFall ``F02``) or CSV name words (``fall``). ``transform`` changes each
    recording first (``transforms.py``: no mounting, rotated, resampled, reversed in time).
    """
    files = find_recordings(path, fmt)
    if activities:
        wanted = {a.lower() for a in activities}
        files = [(p, f) for p, f in files if activity_from_name(p, f).lower() in wanted]
    if not files:
        raise DataFormatError(f"{path}: no recordings found (looked for {fmt or 'SisFall .txt or .csv'} files"
                              f"{' of ' + ', '.join(activities) if activities else ''})")
    runs = fall_runs or {}
    work = [(str(p), f, runs.get(p.stem), settings, make_pipeline, transform) for p, f in files]
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(work)))
    results: List[TrialResult] = []
    if progress:
        progress(0, len(work))
    if jobs == 1:
        for item in work:
            results.append(_run_file(item))
            if progress:
                progress(len(results), len(work))
    else:
        # spawn: workers start clean (no inherited threads or state) on every platform
        context = multiprocessing.get_context("spawn")
        with context.Pool(jobs) as pool:
            for result in pool.imap_unordered(_run_file, work, chunksize=4):
                results.append(result)
                if progress:
                    progress(len(results), len(work))
    return sorted(results, key=lambda r: r.source_path)
