"""Evaluation: the metrics a user reads, computed right; the CLI end to end; the floors gate."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from firmware_py.evaluation.datasets import write_csv
from firmware_py.evaluation.evaluate import evaluate_files, run_recording
from firmware_py.evaluation.metrics import TrialResult, compute_metrics, format_table
from firmware_py.events import Event
from firmware_py.evaluation import scenarios

REPO = Path(__file__).resolve().parents[2]


def _fall(name, impact, events, activity="F02"):
    return TrialResult(name, activity, "fall", 15.0, impact, tuple(events))


def _adl(name, activity, kind, events=(), duration_s=12.0):
    return TrialResult(name, activity, kind, duration_s, None, tuple(events))


def _results():
    return [
        # four falls, impact at 10 s: warned 0.4 s and 0.2 s before, warned 0.1 s late, one missed
        _fall("F02_a", 10.0, [("loss_of_balance", 9.5, 9.6), ("fall", 10.0, 10.3)]),
        _fall("F02_b", 10.0, [("loss_of_balance", 9.7, 9.8), ("fall", 10.0, 10.5)]),
        _fall("F01_a", 10.0, [("loss_of_balance", 9.9, 10.1), ("fall", 10.0, 10.9)], activity="F01"),
        _fall("F01_b", 10.0, [("stumble", 9.0, 9.1)], activity="F01"),
        # two stumble trials: one reported as a stumble, one as a loss of balance
        _adl("D18_a", "D18", "stumble", [("stumble", 3.0, 3.1)]),
        _adl("D18_b", "D18", "stumble", [("loss_of_balance", 3.0, 3.1)]),
        # two walking trials of 100 s with one false fall alarm between them; a sit-down without alarms
        _adl("D01_a", "D01", "walk", [("fall", 50.0, 50.4)], duration_s=100.0),
        _adl("D01_b", "D01", "walk", [("session_summary", 0.0, 100.0)], duration_s=100.0),
        _adl("D07_a", "D07", "other"),
    ]


def test_metrics_match_hand_count_when_results_are_known():
    m = compute_metrics(_results())
    assert m["trials"] == 9
    assert m["fall_sensitivity"] == pytest.approx(3 / 4)
    assert m["specificity"] == pytest.approx(3 / 5)        # D18_b and D01_a alarmed
    assert m["stumble_recall"] == pytest.approx(1 / 2)
    assert m["stumble_as_fall_rate"] == pytest.approx(1 / 2)
    assert m["walking_false_alarms_per_hour"] == pytest.approx(1 / (200 / 3600))   # 18 per hour
    assert m["pre_impact_share"] == pytest.approx(2 / 4)
    assert m["lead_time_median_s"] == pytest.approx(0.2)  # of 0.4, 0.2, -0.1
    assert m["lead_time_p10_s"] == pytest.approx(-0.04)
    assert m["fall_latency_median_s"] == pytest.approx(0.5)  # of 0.3, 0.5, 0.9


def test_per_activity_rows_split_the_figures_when_several_codes():
    m = compute_metrics(_results())
    assert list(m["per_activity"]) == ["D01", "D07", "D18", "F01", "F02"]
    f02 = m["per_activity"]["F02"]
    assert f02["fall_sensitivity"] == 1.0 and f02["lead_time_median_s"] == pytest.approx(0.3)
    assert m["per_activity"]["F01"]["fall_sensitivity"] == 0.5
    assert m["per_activity"]["D01"]["walking_false_alarms_per_hour"] == pytest.approx(18.0)
    assert m["per_activity"]["D07"]["specificity"] == 1.0
    table = format_table(m)
    assert "F02" in table and "75.0%" in table and "18.00" in table


def test_early_warning_is_not_counted_as_lead_when_far_before_impact():
    r = _fall("F03_x", 10.0, [("loss_of_balance", 2.0, 2.1), ("fall", 10.0, 10.2)])
    assert r.lead_time_s is None                        # 7.9 s early: not a warning of this fall
    m = compute_metrics([r])
    assert m["fall_sensitivity"] == 1.0 and m["pre_impact_share"] == 0.0


def test_unreadable_file_is_listed_and_left_out_when_evaluating(tmp_path):
    bad = TrialResult("x", "", "other", 0.0, None, (), str(tmp_path / "x.csv"), error="x.csv, line 2: bad")
    m = compute_metrics(_results() + [bad])
    assert m["trials"] == 9 and m["failed"] == [{"file": str(tmp_path / "x.csv"), "error": "x.csv, line 2: bad"}]


class _ThresholdStandIn:
    """Test-only stand-in for the pipeline: an alarm when |a| exceeds 2.5 g (checks the plumbing, not detection)."""

    def __init__(self, recording, settings):
        self.fired = False

    def process(self, block):
        magnitude = np.linalg.norm(block.accel_g, axis=1)
        hits = np.flatnonzero(magnitude > 2.5)
        if hits.size and not self.fired:
            self.fired = True
            t = float(block.t_s[hits[0]])
            return [Event("fall", t, float(block.t_s[-1]))]
        return []

    def finish(self):
        return []


def _scenario_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "trials"
    folder.mkdir()
    cases = {
        "fall_synthetic_backward.csv": scenarios.backward_fall(seed=1, lie_s=4.0),
        "walk_synthetic.csv": scenarios.backward_walk(30.0, seed=2),
        "stumble_synthetic.csv": scenarios.stumble(seed=3),
        "sitting_synthetic.csv": scenarios.sitting(seed=4),
    }
    for name, s in cases.items():
        write_csv(folder / name, s.blocks(0.5), body_from_sensor=np.eye(3))
    return folder


def test_evaluation_runs_every_file_in_blocks_when_given_a_folder(tmp_path):
    folder = _scenario_folder(tmp_path)
    seen = []
    results = evaluate_files(folder, "csv", jobs=1, make_pipeline=_ThresholdStandIn,
                             progress=lambda done, total: seen.append((done, total)))
    assert [r.name for r in results] == ["fall_synthetic_backward", "sitting_synthetic", "stumble_synthetic",
                                         "walk_synthetic"]
    assert seen[-1] == (4, 4)
    fall = results[0]
    assert fall.kind == "fall" and fall.alarmed
    # the impact is the peak |a|: the stand-in fires on the same sample, detected at the end of its 0.1 s block
    assert 0.0 <= fall.fall_latency_s <= 0.1
    m = compute_metrics(results)
    assert m["fall_sensitivity"] == 1.0 and m["specificity"] == 1.0


def test_only_the_asked_activities_run_when_filtered(tmp_path):
    folder = _scenario_folder(tmp_path)
    results = evaluate_files(folder, "csv", jobs=1, make_pipeline=_ThresholdStandIn, activities=["fall", "walk"])
    assert [r.activity for r in results] == ["fall", "walk"]


def test_one_recording_is_fed_in_tenth_second_blocks_when_run():
    sizes = []

    class Recorder(_ThresholdStandIn):
        def process(self, block):
            sizes.append(len(block))
            return []

    rec = scenarios.standing(2.0, seed=0).to_recording()
    run_recording(rec, make_pipeline=Recorder)
    assert sum(sizes) == len(rec) and max(sizes) == 20


def test_trial_that_crashes_the_pipeline_is_named_when_evaluating(tmp_path):
    folder = _scenario_folder(tmp_path)

    class Crashing(_ThresholdStandIn):
        def process(self, block):
            if block.t_s[0] > 1.0:
                raise ZeroDivisionError("division by zero")
            return []

    results = evaluate_files(folder, "csv", jobs=1, make_pipeline=Crashing)
    assert len(results) == 4 and all(r.error for r in results)
    assert "walk_synthetic.csv: the pipeline raised ZeroDivisionError: division by zero" in results[3].error
    assert compute_metrics(results)["trials"] == 0


def _retrowalk(*args, cwd=REPO):
    return subprocess.run([sys.executable, "-m", "firmware_py.cli", "evaluate", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300)


def test_evaluate_command_scores_synthetic_csv_trials_when_run_end_to_end(tmp_path):
    pytest.importorskip("firmware_py.detection.pipeline")
    folder = _scenario_folder(tmp_path)
    out = tmp_path / "out" / "eval.json"
    proc = _retrowalk(str(folder), "--format", "csv", "--json", "--output", str(out), "--jobs", "2")
    assert proc.returncode == 0, proc.stderr
    assert "fall sensitivity" in proc.stdout and "walk" in proc.stdout
    assert "trials" not in proc.stderr          # no progress bar when stderr is not a terminal (CI logs)
    m = json.loads(out.read_text())
    for key in ("fall_sensitivity", "specificity", "stumble_recall", "stumble_as_fall_rate",
                "walking_false_alarms_per_hour", "pre_impact_share", "lead_time_median_s", "lead_time_p10_s",
                "fall_latency_median_s", "trials", "per_activity"):
        assert key in m
    assert m["trials"] == 4
    assert m["fall_sensitivity"] == 1.0            # the synthetic backward fall is caught
    assert m["walking_false_alarms_per_hour"] == 0.0
    assert m["per_activity"]["sitting"]["specificity"] == 1.0


def test_evaluate_json_alone_on_stdout_when_no_output_file_is_given(tmp_path):
    pytest.importorskip("firmware_py.detection.pipeline")
    folder = _scenario_folder(tmp_path)
    proc = _retrowalk(str(folder), "--json", "--jobs", "1", "--activity", "fall")
    assert proc.returncode == 0, proc.stderr
    m = json.loads(proc.stdout)                 # nothing but the JSON object: pipe it to jq
    assert m["trials"] == 1 and m["trials_by_kind"]["fall"] == 1
    assert "fall sensitivity" in proc.stderr     # the table went to stderr


def test_evaluate_command_names_the_bad_file_when_one_cannot_be_read(tmp_path):
    pytest.importorskip("firmware_py.detection.pipeline")
    (tmp_path / "walk_broken.csv").write_text("t_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n0.0,0,0,1,0,0\n")
    proc = _retrowalk(str(tmp_path), "--jobs", "1")
    assert proc.returncode == 1
    assert "walk_broken.csv, line 2" in proc.stdout


def test_check_floors_names_each_metric_below_its_floor_when_checked(tmp_path):
    measured = tmp_path / "m.json"
    floors = tmp_path / "f.json"
    measured.write_text(json.dumps({"fall_sensitivity": 0.97, "walking_false_alarms_per_hour": 0.0,
                                    "lead_time_median_s": None,
                                    "per_activity": {"F02": {"fall_sensitivity": 1.0}}}))
    floors.write_text(json.dumps({"_why": "comment", "fall_sensitivity": {"min": 0.98},
                                  "walking_false_alarms_per_hour": {"max": 0.0},
                                  "lead_time_median_s": {"min": 0.28},
                                  "per_activity.F02.fall_sensitivity": {"min": 0.95}}))
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "check_floors.py"), str(measured), str(floors)],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert "FAIL fall_sensitivity = 0.97, must be >= 0.98" in proc.stdout
    assert "FAIL lead_time_median_s: not measured" in proc.stdout
    assert "ok   walking_false_alarms_per_hour = 0" in proc.stdout
    assert "ok   per_activity.F02.fall_sensitivity = 1" in proc.stdout


def test_check_floors_passes_when_every_figure_meets_its_floor(tmp_path):
    measured = tmp_path / "m.json"
    measured.write_text(json.dumps({"specificity": 0.995, "fall_latency_median_s": 0.4}))
    floors = tmp_path / "f.json"
    floors.write_text(json.dumps({"specificity": {"min": 0.99}, "fall_latency_median_s": {"max": 1.0}}))
    proc = subprocess.run([sys.executable, str(REPO / "scripts" / "check_floors.py"), str(measured), str(floors)],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and "all 2 detection figures meet their floors" in proc.stdout
