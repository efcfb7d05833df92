"""Replay: the events of one recording with their times, and a plot a person can read."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from firmware_py.evaluation import scenarios
from firmware_py.evaluation.datasets import write_csv
from firmware_py.errors import RetrowalkError
from firmware_py.evaluation.replay import replay
from firmware_py.events import Event

REPO = Path(__file__).resolve().parents[2]


class _StandIn:
    """Test-only stand-in for the pipeline: tilt from gravity, a fall on |a| > 2.5 g (plumbing, not detection)."""

    def __init__(self, recording, settings):
        self.tilt_deg, self.steps, self.fired = 0.0, 0, False

    def process(self, block):
        up = block.accel_g[-1] / np.linalg.norm(block.accel_g[-1])
        self.tilt_deg = float(np.degrees(np.arccos(np.clip(up[2], -1, 1))))
        self.steps += 1
        hits = np.flatnonzero(np.linalg.norm(block.accel_g, axis=1) > 2.5)
        if hits.size and not self.fired:
            self.fired = True
            return [Event("fall", float(block.t_s[hits[0]]), float(block.t_s[-1]), {"peak_accel_g": 4.5})]
        return []

    def state(self):
        return {"tilt_deg": self.tilt_deg, "steps": self.steps, "is_walking": False, "posture": "upright"}

    def finish(self):
        return []


def test_replay_trace_follows_the_trunk_when_a_fall_is_replayed():
    s = scenarios.backward_fall(seed=0, lie_s=3.0)
    trace = replay(s.to_recording(), make_pipeline=_StandIn, block_s=0.02)
    assert len(trace.t_s) == -(-len(s.t_s) // 4)   # one state per 4-sample block, the last one short
    assert set(trace.state) == {"tilt_deg", "steps", "is_walking"}   # only numbers are traced
    assert trace.state["tilt_deg"][-1] == pytest.approx(90.0, abs=3.0)
    assert [e.type for e in trace.events] == ["fall"]


def test_plot_is_written_with_signals_and_events_when_matplotlib_is_installed(tmp_path):
    pytest.importorskip("matplotlib")
    from firmware_py.evaluation.plot import plot_replay

    s = scenarios.backward_fall(seed=0, lie_s=3.0)
    recording = s.to_recording()
    out = plot_replay(tmp_path / "fall.png", recording, replay(recording, make_pipeline=_StandIn))
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_missing_matplotlib_gives_the_install_command_when_plotting(monkeypatch):
    from firmware_py.evaluation import plot

    monkeypatch.setitem(sys.modules, "matplotlib", None)   # as if not installed
    with pytest.raises(RetrowalkError, match=r"pip install 'retrowalk\[plot\]'"):
        plot.require_matplotlib()


def test_replay_command_lists_events_with_times_when_run_on_a_csv(tmp_path):
    pytest.importorskip("firmware_py.detection.pipeline")
    s = scenarios.backward_fall(seed=2, lie_s=4.0)
    path = tmp_path / "fall_synthetic.csv"
    write_csv(path, s.blocks(0.5), body_from_sensor=np.eye(3))
    args = [sys.executable, "-m", "firmware_py.cli", "replay", str(path)]
    if pytest.importorskip("matplotlib"):
        args += ["--plot", str(tmp_path / "fall.png")]
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "fall_synthetic (synthetic)" in proc.stdout
    impact = s.truth_times("fall")[0]
    fall_lines = [line for line in proc.stdout.splitlines() if line.split()[2:3] == ["fall"]]
    assert fall_lines, proc.stdout
    assert impact - 0.5 <= float(fall_lines[0].split()[0]) <= impact + 2.0
    assert (tmp_path / "fall.png").stat().st_size > 20_000


def test_replay_command_names_the_file_when_it_cannot_be_read(tmp_path):
    path = tmp_path / "walk.csv"
    path.write_text("time,ax\n")
    proc = subprocess.run([sys.executable, "-m", "firmware_py.cli", "replay", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "walk.csv, line 1: expected the header" in proc.stderr


# ---- inputs replay refuses in one line (issue 10) ---------------------------------------------------------

HEADER = "t_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n"


def _csv(tmp_path, rows, name="walk_bad.csv"):
    path = tmp_path / name
    path.write_text(HEADER + "".join(",".join(str(v) for v in row) + "\n" for row in rows))
    return path


@pytest.mark.parametrize("rows,message", [
    ([(0.0, 0, 0, 1, 0, 0, 0), (0.0, 0, 0, 1, 0, 0, 0)], "t_s repeats at sample 2"),
    ([(0.0, 0, 0, 1, 0, 0, 0), (1e12, 0, 0, 1, 0, 0, 0)], "times must be within"),
    ([(0.0, 0, 0, 1, 0, 0, 0), (5000.0, 0, 0, 1, 0, 0, 0)], "t_s jumps by 5000 s at sample 2"),
    ([(1e300, 0, 0, 1, 0, 0, 0)], "t_s = 1e+300 s"),
    ([(0.0, 0, 0, 1e308, 0, 0, 0)], "within ±64 g"),
    ([(0.0, 0, 0, 1, 0, 0, 1e308)], "within ±5000 °/s"),
])
def test_replay_refuses_impossible_samples_in_one_line_without_a_traceback(tmp_path, rows, message):
    proc = subprocess.run([sys.executable, "-m", "firmware_py.cli", "replay", str(_csv(tmp_path, rows))],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_a_csv_longer_than_one_chunk_reads_the_same_and_names_a_bad_line_in_a_later_chunk(tmp_path, monkeypatch):
    from firmware_py.evaluation import datasets

    rows = [(i * 0.005, 0.0, 0.0, 1.0, 0.1, 0.0, 0.0) for i in range(2500)]
    whole = datasets.load_csv(_csv(tmp_path, rows, "walk_ok.csv"))
    monkeypatch.setattr(datasets.csv_samples, "CHUNK_LINES", 1000)
    chunked = datasets.load_csv(_csv(tmp_path, rows, "walk_ok.csv"))
    assert np.array_equal(whole.t_s, chunked.t_s) and np.array_equal(whole.accel_g, chunked.accel_g)
    path = _csv(tmp_path, rows[:2200] + [("x",)] + rows[2200:], "walk_broken.csv")
    with pytest.raises(RetrowalkError, match=r"line 2202: expected seven numbers"):
        datasets.load_csv(path)


def test_replaying_a_csv_in_chunks_gives_the_events_and_header_of_replaying_it_whole(tmp_path, monkeypatch):
    from firmware_py.evaluation import csv_samples
    from firmware_py.commands.replay import _replay_csv_streaming
    from firmware_py.evaluation.datasets import load_csv

    s = scenarios.backward_fall(seed=2, lie_s=4.0)
    path = tmp_path / "fall_synthetic.csv"
    write_csv(path, s.blocks(0.5), body_from_sensor=np.eye(3))
    recording = load_csv(path)
    whole = replay(recording).events
    monkeypatch.setattr(csv_samples, "CHUNK_LINES", 700)  # several chunks: blocks of 700 samples
    described, streamed = _replay_csv_streaming(path, None)
    assert [(e.type, round(e.t_detect_s, 3)) for e in streamed] == [(e.type, round(e.t_detect_s, 3)) for e in whole]
    assert "fall" in [e.type for e in streamed]
    assert (described.name, described.kind, described.synthetic) == (recording.name, recording.kind, True)
    assert described.duration_s == pytest.approx(recording.duration_s)
    assert described.impact_t_s == pytest.approx(recording.impact_t_s)
