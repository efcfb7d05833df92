"""scripts/export_umafall_csv.py writes UMAFall's development trials as the project's CSV (needs ../shared)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from firmware_py.evaluation.datasets import find_recordings, load_csv

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """The export, run once for this file's tests, as a user runs it."""
    if not (SHARED / "data" / "umafall").is_dir():
        pytest.skip("../shared/data is not here (recordings are not part of the project)")
    spec = importlib.util.spec_from_file_location("export_umafall_csv", ROOT / "scripts" / "export_umafall_csv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    dest = tmp_path_factory.mktemp("umafall")
    assert module.main([str(dest), "--shared", str(SHARED)]) == 0
    return dest


def test_umafall_trials_become_csv_named_by_what_happened(exported):
    files = find_recordings(exported, "csv")
    assert len(files) == 232 and (exported / "retrowalk.toml").is_file()
    fall = load_csv(exported / "fall_backwardFall-S05-R1.csv")
    assert fall.kind == "fall" and np.allclose(fall.body_from_sensor, [[0, 0, 1], [0, -1, 0], [1, 0, 0]])
    assert np.all(np.diff(fall.t_s) > 0) and 15 < 1 / np.median(np.diff(fall.t_s)) < 25
    assert load_csv(exported / "walk_Jogging-S05-R1.csv").kind == "walk"


def _gravity_turn_error(rec, gyro_sign) -> float:
    """How far the gyro's rate (signs flipped by ``gyro_sign``) is from turning the accelerometer's gravity as
    the accelerometer sees it turn: mean |d(a/|a|)/dt + w x a/|a||^2 over quiet, turning 50 ms steps."""
    t = np.arange(rec.t_s[0], rec.t_s[-1], 0.05)
    smooth = np.ones(5) / 5
    a, w = ([np.convolve(np.interp(t, rec.t_s, x[:, i]), smooth, "same") for i in range(3)]
            for x in (rec.accel_g, rec.gyro_dps * gyro_sign))
    a, w = np.column_stack(a), np.radians(np.column_stack(w))
    g = a / np.linalg.norm(a, axis=1, keepdims=True)
    quiet = (abs(np.linalg.norm(a, axis=1) - 1) < 0.15) & (np.linalg.norm(w, axis=1) > np.radians(20))
    return float(np.mean(np.sum((np.gradient(g, 0.05, axis=0) + np.cross(w, g))[quiet] ** 2, axis=1)))


def test_the_exported_gyro_turns_gravity_the_way_the_accelerometer_sees_it(exported):
    # the tag's gyro x and z point the other way from its accelerometer's; written as read, a walker's turn
    # tilted the trunk 40° in the tilt filter and raised a loss_of_balance (walk_Walking-S03-R1)
    for name in ("walk_Walking-S03-R1", "walk_Walking-S03-R3", "other_Bending-S05-R1"):     # turns, bends
        rec = load_csv(exported / f"{name}.csv")
        as_written = _gravity_turn_error(rec, np.ones(3))
        assert all(as_written < _gravity_turn_error(rec, np.array(s)) for s in
                   ((-1, 1, -1), (1, -1, 1), (-1, -1, -1), (1, 1, -1), (-1, 1, 1))), name
