"""The figures of an evaluation: how each trial went (:class:`TrialResult`), and the metrics over many.

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

import math
from dataclasses import asdict, dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

from ..events import FALL, LOSS_OF_BALANCE, STUMBLE

__all__ = ["TrialResult", "compute_metrics", "format_table", "iter_results", "HEADLINE", "WARNING_WINDOW_S",
           "LATE_WINDOW_S"]

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
