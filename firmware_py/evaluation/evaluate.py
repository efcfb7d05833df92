"""How well the detectors do on labelled recordings: run the pipeline on each trial, then score.

The pipeline is the very object the daemon runs (``firmware_py.detection.pipeline.Pipeline``), fed blocks of
about 0.1 s as the daemon reads them from the FIFO; there is no offline variant of the algorithm.

Metrics (see docs/evaluation.md for the full definitions):

- ``fall_sensitivity``: share of fall trials in which a ``fall`` or ``loss_of_balance`` event fired;
- ``specificity``: share of non-fall trials (all ADLs, stumbles included) with neither;
- ``walking_false_alarms_per_hour``: ``fall`` + ``loss_of_balance`` events on walking/jogging trials per
  hour of those trials;
- ``stumble_recall``: share of stumble trials with a ``stumble`` event; ``stumble_as_fall_rate``: share of
  them with a ``fall`` or ``loss_of_balance`` event;
- lead time: impact time minus the detection time of the first ``loss_of_balance`` detected between
  ``WARNING_WINDOW_S`` before and ``LATE_WINDOW_S`` after the impact (positive = warned before impact):
  median and 10th percentile over the falls that got one, and ``pre_impact_share``, the share of all falls
  warned before impact;
- ``fall_latency_median_s``: detection time of the first ``fall`` event after the impact, minus the impact.
"""
from __future__ import annotations

import functools
import logging
import math
import multiprocessing
import os
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from hal.mpu6050_settings import SensorSettings

from .datasets import Recording, activity_from_name, find_recordings, load_recording
from ..errors import DataFormatError
from ..events import FALL, LOSS_OF_BALANCE, SESSION_SUMMARY, STUMBLE
from .transforms import Transform

log = logging.getLogger(__name__)

__all__ = [
    "TrialResult", "run_recording", "evaluate_files", "compute_metrics", "format_table", "BLOCK_S",
    "WARNING_WINDOW_S", "LATE_WINDOW_S",
]

#: the daemon drains the FIFO every ~0.1 s, so evaluation feeds blocks of the same size
BLOCK_S = 0.1
#: a loss_of_balance more than this long before the impact is not a warning of that fall
WARNING_WINDOW_S = 3.0
#: a loss_of_balance or fall detected more than this long after the impact does not count for timing
LATE_WINDOW_S = 5.0

_ALARMS = (FALL, LOSS_OF_BALANCE)


@dataclass(frozen=True)
class TrialResult:
    """What the pipeline reported on one trial, in plain (picklable, JSON-able) data.

    ``events`` are ``(type, t_onset_s, t_detect_s)`` in the recording's time.
    """

    name: str
    activity: str
    kind: str
    duration_s: float
    impact_t_s: Optional[float]
    events: Tuple[Tuple[str, float, float], ...] = ()
    source_path: str = ""
    error: str = ""
    bouts: Tuple[int, int, int] = (0, 0, 0)       # walking bouts told forward, backward, unknown

    def times(self, event_type: str) -> List[float]:
        """Detection times of every event of this type."""
        return [t_detect for kind, _, t_detect in self.events if kind == event_type]

    @property
    def alarm_count(self) -> int:
        return sum(1 for kind, _, _ in self.events if kind in _ALARMS)

    @property
    def alarmed(self) -> bool:
        return self.alarm_count > 0

    @property
    def stumbled(self) -> bool:
        return bool(self.times(STUMBLE))

    @property
    def lead_time_s(self) -> Optional[float]:
        """Impact minus detection of the first loss_of_balance near this fall (positive: before impact)."""
        if self.impact_t_s is None:
            return None
        for t in self.times(LOSS_OF_BALANCE):
            if self.impact_t_s - WARNING_WINDOW_S <= t <= self.impact_t_s + LATE_WINDOW_S:
                return self.impact_t_s - t
        return None

    @property
    def fall_latency_s(self) -> Optional[float]:
        """Detection of the first fall event after the impact, minus the impact."""
        if self.impact_t_s is None:
            return None
        for t in self.times(FALL):
            if self.impact_t_s - 0.5 <= t <= self.impact_t_s + LATE_WINDOW_S:
                return t - self.impact_t_s
        return None


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


def _share(hits: int, total: int) -> Optional[float]:
    return hits / total if total else None


def _median(values: Sequence[float]) -> Optional[float]:
    return float(np.median(values)) if len(values) else None


def _percentile(values: Sequence[float], q: float) -> Optional[float]:
    return float(np.percentile(values, q)) if len(values) else None


def _scores(results: Sequence[TrialResult], walked: str = "forward") -> Dict[str, Any]:
    falls = [r for r in results if r.kind == "fall"]
    adls = [r for r in results if r.kind != "fall"]
    stumbles = [r for r in results if r.kind == "stumble"]
    walks = [r for r in results if r.kind == "walk"]
    leads = [r.lead_time_s for r in falls if r.lead_time_s is not None]
    latencies = [r.fall_latency_s for r in falls if r.fall_latency_s is not None]
    walk_hours = sum(r.duration_s for r in walks) / 3600.0
    falls_timed = [r for r in falls if r.impact_t_s is not None]
    return {
        "trials": len(results),
        "fall_sensitivity": _share(sum(r.alarmed for r in falls), len(falls)),
        "specificity": _share(sum(not r.alarmed for r in adls), len(adls)),
        "walking_false_alarms_per_hour": (sum(r.alarm_count for r in walks) / walk_hours) if walk_hours else None,
        "walking_stumbles_per_hour": (sum(len(r.times(STUMBLE)) for r in walks) / walk_hours) if walk_hours else None,
        "stumble_recall": _share(sum(r.stumbled for r in stumbles), len(stumbles)),
        "stumble_as_fall_rate": _share(sum(r.alarmed for r in stumbles), len(stumbles)),
        "pre_impact_share": _share(sum(1 for v in leads if v > 0), len(falls_timed)),
        "lead_time_median_s": _median(leads),
        "lead_time_p10_s": _percentile(leads, 10),
        "fall_latency_median_s": _median(latencies),
        "walking_direction_right": _share(sum(r.bouts[0 if walked == "forward" else 1] for r in walks),
                                          sum(sum(r.bouts) for r in walks)),
        "alarm_rate": _share(sum(r.alarmed for r in results), len(results)),
        "stumble_rate": _share(sum(r.stumbled for r in results), len(results)),
    }


#: the headline keys of ``--json`` (besides ``trials`` and ``per_activity``), in table order
HEADLINE = ("fall_sensitivity", "specificity", "stumble_recall", "stumble_as_fall_rate",
            "walking_false_alarms_per_hour", "walking_stumbles_per_hour", "walking_direction_right",
            "pre_impact_share", "lead_time_median_s", "lead_time_p10_s", "fall_latency_median_s")


def compute_metrics(results: Sequence[TrialResult], walked: str = "forward") -> Dict[str, Any]:
    """All metrics overall and per activity code, as the ``--json`` object.

    ``walked`` is the direction the walk trials were walked in (``backward`` when they were reversed in time),
    for ``walking_direction_right``. Trials that could not be read are listed under ``failed`` and left out of
    every figure.
    """
    ok = [r for r in results if not r.error]
    overall = _scores(ok, walked)
    per_activity: Dict[str, Any] = {}
    for activity in sorted({r.activity for r in ok}):
        group = [r for r in ok if r.activity == activity]
        row = _scores(group, walked)
        row["kind"] = group[0].kind
        per_activity[activity] = row
    kinds = {kind: sum(1 for r in ok if r.kind == kind) for kind in ("fall", "stumble", "walk", "other")}
    metrics: Dict[str, Any] = {key: overall[key] for key in HEADLINE}
    metrics.update({
        "trials": len(ok),
        "trials_by_kind": kinds,
        "walking_hours": sum(r.duration_s for r in ok if r.kind == "walk") / 3600.0,
        "alarm_count_on_walks": sum(r.alarm_count for r in ok if r.kind == "walk"),
        "per_activity": per_activity,
        "failed": [{"file": r.source_path, "error": r.error} for r in results if r.error],
    })
    return metrics


def _cell(value: Optional[float], kind: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if kind == "pct":
        return f"{100 * value:.1f}%"
    if kind == "s":
        return f"{value:+.3f}"
    return f"{value:.2f}"


def format_table(metrics: Dict[str, Any]) -> str:
    """A plain-text table: one row per activity code, then the overall figures."""
    header = (f"{'activity':<9}{'kind':<9}{'trials':>7}{'alarm':>9}{'stumble':>9}{'warned':>9}"
              f"{'lead_med_s':>12}{'lead_p10_s':>12}{'fall_lat_s':>12}")
    lines = ["alarm: trials with a fall or loss_of_balance event; stumble: trials with a stumble event; warned: "
             "falls with loss_of_balance before the impact; lead and latency in seconds (lead > 0: before impact)",
             "", header, "-" * len(header)]
    for activity, row in metrics["per_activity"].items():
        lines.append(
            f"{activity:<9}{row['kind']:<9}{row['trials']:>7}{_cell(row['alarm_rate'], 'pct'):>9}"
            f"{_cell(row['stumble_rate'], 'pct'):>9}{_cell(row['pre_impact_share'], 'pct'):>9}"
            f"{_cell(row['lead_time_median_s'], 's'):>12}{_cell(row['lead_time_p10_s'], 's'):>12}"
            f"{_cell(row['fall_latency_median_s'], 's'):>12}")
    kinds = metrics["trials_by_kind"]
    lines += [
        "",
        f"trials: {metrics['trials']} ({kinds['fall']} falls, {kinds['stumble']} stumbles, "
        f"{kinds['walk']} walks, {kinds['other']} other)",
        f"fall sensitivity (fall or loss_of_balance on a fall):   {_cell(metrics['fall_sensitivity'], 'pct')}",
        f"specificity (neither on a non-fall trial):              {_cell(metrics['specificity'], 'pct')}",
        f"false alarms per hour of walking/jogging:               "
        f"{_cell(metrics['walking_false_alarms_per_hour'], 'f')} "
        f"({metrics['alarm_count_on_walks']} in {metrics['walking_hours']:.2f} h)",
        f"stumble chirps per hour of walking/jogging:             {_cell(metrics['walking_stumbles_per_hour'], 'f')}",
        f"walking bouts told the right direction:                 {_cell(metrics['walking_direction_right'], 'pct')}",
        f"stumble recall (stumble event on a stumble trial):      {_cell(metrics['stumble_recall'], 'pct')}",
        f"stumbles reported as fall or loss_of_balance:           {_cell(metrics['stumble_as_fall_rate'], 'pct')}",
        f"falls warned before impact (loss_of_balance):           {_cell(metrics['pre_impact_share'], 'pct')}",
        f"lead time before impact, median / 10th percentile (s):  "
        f"{_cell(metrics['lead_time_median_s'], 's')} / {_cell(metrics['lead_time_p10_s'], 's')}",
        f"fall event latency after impact, median (s):            {_cell(metrics['fall_latency_median_s'], 's')}",
    ]
    for failed in metrics["failed"]:
        lines.append(f"FAILED: {failed['error']}")
    return "\n".join(lines)


def iter_results(results: Iterable[TrialResult]) -> Iterable[Dict[str, Any]]:
    """Each trial as a JSON-able dict (for ``--trials-json``)."""
    for r in results:
        d = asdict(r)
        d["events"] = [list(e) for e in r.events]
        d["lead_time_s"] = r.lead_time_s
        d["fall_latency_s"] = r.fall_latency_s
        yield d


@dataclass(frozen=True, eq=False)
class ReplayTrace:
    """The pipeline's view of a recording over time, sampled after every small block (for plots).

    ``state`` maps each numeric ``Pipeline.state()`` key (``tilt_deg``, ``trunk_rate_dps``, ``steps``,
    ``is_walking`` ...) to an array aligned with ``t_s``.
    """

    t_s: np.ndarray
    state: Dict[str, np.ndarray]
    events: Tuple[Any, ...]


def replay(recording: Recording, settings: Any = None, block_s: float = 0.02,
           make_pipeline: Optional[PipelineFactory] = None, keep_state: bool = True) -> ReplayTrace:
    """Run one recording and keep the pipeline's state after each ``block_s`` block as well as its events.

    Small blocks give a fine trace; the events are the same as with the daemon's 0.1 s blocks because the
    pipeline gives the same events whatever the block size. ``keep_state=False`` keeps the events only (a
    long recording's per-block trace is only needed for a plot).
    """
    pipeline = (make_pipeline or default_pipeline)(recording, settings)
    events: List[Any] = []
    times: List[float] = []
    rows: List[Dict[str, Any]] = []
    for block in recording.blocks(block_s):
        events.extend(pipeline.process(block))
        if keep_state:
            times.append(float(block.t_s[-1]))
            rows.append(pipeline.state() if hasattr(pipeline, "state") else {})
    events.extend(pipeline.finish())
    keys = [k for k, v in (rows[0].items() if rows else ())
            if isinstance(v, (bool, int, float, np.bool_, np.integer, np.floating)) or v is None]
    state = {k: np.array([np.nan if row.get(k) is None else float(row.get(k)) for row in rows]) for k in keys}
    return ReplayTrace(np.array(times), state, tuple(events))
