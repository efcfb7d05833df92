"""scripts/export_umafall_csv.py writes UMAFall's development trials as the project's CSV (needs ../shared)."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from firmware_py.evaluation.datasets import find_recordings, load_csv

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


def test_umafall_trials_become_csv_named_by_what_happened(tmp_path):
    if not (SHARED / "data" / "umafall").is_dir():
        pytest.skip("../shared/data is not here (recordings are not part of the project)")
    spec = importlib.util.spec_from_file_location("export_umafall_csv", ROOT / "scripts" / "export_umafall_csv.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    assert module.main([str(tmp_path), "--shared", str(SHARED)]) == 0

    files = find_recordings(tmp_path, "csv")
    assert len(files) == 232 and (tmp_path / "retrowalk.toml").is_file()
    fall = load_csv(tmp_path / "fall_backwardFall-S05-R1.csv")
    assert fall.kind == "fall" and np.allclose(fall.body_from_sensor, [[0, 0, 1], [0, -1, 0], [1, 0, 0]])
    assert np.all(np.diff(fall.t_s) > 0) and 15 < 1 / np.median(np.diff(fall.t_s)) < 25
    assert load_csv(tmp_path / "walk_Jogging-S05-R1.csv").kind == "walk"
