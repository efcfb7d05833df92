"""Loaders: SisFall text files as distributed, the project's CSV, and the class a file name gives."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from firmware_py.evaluation.datasets import (find_recordings, iter_recordings, kind_from_name, load_csv, load_recording,
                                             write_csv)
from firmware_py.evaluation.sisfall import SISFALL_BODY_FROM_SENSOR, load_sisfall_file, sisfall_kind
from firmware_py.errors import DataFormatError
from hal.types import SampleBlock

SHARED_SISFALL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sisfall"


def _write_sisfall(path: Path, rows) -> Path:
    """Rows of nine counts in the distributed layout: right-aligned in four columns, ';' and CRLF."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes("".join(",".join("%4d" % v for v in row) + ";\r\n" for row in rows).encode())
    return path


def test_sisfall_counts_decode_to_g_and_dps_when_read_as_distributed(tmp_path):
    rows = [[256, -256, 0, 16384, -16384, 0, 1024, 0, 0],  # +1 g x, -1 g y; 1000 and -1000 °/s
            [17, -179, -99, -18, -504, -352, 76, -697, -279]]
    rec = load_sisfall_file(_write_sisfall(tmp_path / "SA01" / "D01_SA01_R01.txt", rows))
    assert rec.accel_g[0] == pytest.approx([1.0, -1.0, 0.0])
    assert rec.gyro_dps[0] == pytest.approx([1000.0, -1000.0, 0.0])
    assert rec.accel_g[1] == pytest.approx([17 / 256, -179 / 256, -99 / 256])
    assert rec.gyro_dps[1, 0] == pytest.approx(-18 * 0.061035, rel=1e-4)
    assert rec.t_s[1] == pytest.approx(1 / 200)
    assert (rec.kind, rec.activity, rec.impact_index) == ("walk", "D01", None)


def test_sisfall_standing_reads_upright_in_the_body_frame_when_mounting_applied(tmp_path):
    # SisFall standing: ay ≈ -1 g (Y points down); in the body frame that is +1 g up (z)
    rec = load_sisfall_file(_write_sisfall(tmp_path / "D07_SA03_R02.txt", [[5, -256, -60, 0, 0, 0, 0, 0, 0]]))
    body = rec.accel_g @ rec.body_from_sensor.T
    assert body[0, 2] == pytest.approx(1.0)
    assert np.allclose(rec.body_from_sensor, SISFALL_BODY_FROM_SENSOR)


def test_sisfall_fall_impact_is_peak_accel_when_no_labels(tmp_path):
    rows = [[0, -256, 0, 0, 0, 0, 0, 0, 0]] * 10 + [[0, -1280, 300, 0, 0, 0, 0, 0, 0]] + [[256, 0, 0] + [0] * 6] * 5
    rec = load_sisfall_file(_write_sisfall(tmp_path / "F02_SA01_R01.txt", rows))
    assert rec.kind == "fall"
    assert rec.impact_index == 10


def test_sisfall_impact_stays_inside_fall_run_when_labels_given(tmp_path):
    rows = ([[0, -256, 0] + [0] * 6] * 5 + [[0, -2000, 0] + [0] * 6] + [[0, -256, 0] + [0] * 6] * 5
            + [[0, -900, 0] + [0] * 6] + [[0, -256, 0] + [0] * 6] * 3)
    rec = load_sisfall_file(_write_sisfall(tmp_path / "F05_SA01_R01.txt", rows), fall_run=(9, 14))
    assert rec.impact_index == 11


def test_malformed_sisfall_line_is_named_when_a_count_is_missing(tmp_path):
    rows = [[1] * 9, [2] * 9]
    path = _write_sisfall(tmp_path / "D05_SA01_R01.txt", rows)
    path.write_bytes(path.read_bytes() + b"   1,   2,   3,   4,   5,   6,   7,   8;\r\n")
    with pytest.raises(DataFormatError, match=r"D05_SA01_R01\.txt, line 3: expected nine integer"):
        load_sisfall_file(path)


def test_sisfall_file_with_text_in_a_column_is_named_with_its_line(tmp_path):
    path = tmp_path / "D05_SA01_R02.txt"
    path.write_bytes(b"   1,   2,   3,   4,   5,   6,   7,   8,   9;\r\n"
                     b"   1,   2,  x3,   4,   5,   6,   7,   8,   9;\r\n")
    with pytest.raises(DataFormatError, match="line 2"):
        load_sisfall_file(path)


def test_sisfall_name_is_required_when_loading_a_trial(tmp_path):
    path = _write_sisfall(tmp_path / "walk.txt", [[1] * 9])
    with pytest.raises(DataFormatError, match="D01_SA01_R01"):
        load_sisfall_file(path)


@pytest.mark.parametrize("code, kind", [("F01", "fall"), ("F15", "fall"), ("D18", "stumble"), ("D01", "walk"),
                                        ("D04", "walk"), ("D05", "other"), ("D19", "other")])
def test_sisfall_activity_code_gives_the_class_when_loaded(code, kind):
    assert sisfall_kind(code) == kind


@pytest.mark.parametrize("name, kind", [("fall_backward_01.csv", "fall"), ("Fall2.csv", "fall"),
                                        ("stumble-kitchen.csv", "stumble"), ("walk_park.csv", "walk"),
                                        ("sitting.csv", "other"), ("my_fall.csv", "other")])
def test_csv_file_name_gives_the_class_when_named_by_the_user(name, kind):
    assert kind_from_name(name) == kind


def test_csv_round_trip_keeps_samples_when_timestamps_jitter(tmp_path):
    rng = np.random.default_rng(3)
    t_s = np.cumsum(rng.uniform(0.004, 0.006, 500))  # ~200 Hz with jitter
    accel = rng.normal(0, 1, (500, 3))
    gyro = rng.normal(0, 100, (500, 3))
    blocks = [SampleBlock(t_s[i:i + 37], accel[i:i + 37], gyro[i:i + 37]) for i in range(0, 500, 37)]
    mount = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], float)
    path = tmp_path / "walk_jitter.csv"
    assert write_csv(path, blocks, body_from_sensor=mount) == 500
    rec = load_csv(path)
    assert np.allclose(rec.t_s, t_s, atol=1e-6)
    assert np.allclose(rec.accel_g, accel, atol=1e-5)
    assert np.allclose(rec.gyro_dps, gyro, atol=1e-4)
    assert np.array_equal(rec.body_from_sensor, mount)
    assert (rec.kind, rec.activity) == ("walk", "walk")
    assert sum(len(b) for b in rec.blocks(0.1)) == 500


def test_synthetic_csv_stays_labelled_synthetic_when_read_back(tmp_path):
    from firmware_py.evaluation import scenarios

    path = tmp_path / "walk_emulated.csv"
    write_csv(path, scenarios.standing(1.0, seed=0).blocks(0.1), synthetic=True)
    assert load_csv(path).synthetic is True
    write_csv(tmp_path / "walk_me.csv", scenarios.standing(1.0, seed=0).blocks(0.1))
    assert load_csv(tmp_path / "walk_me.csv").synthetic is False


def test_csv_without_mounting_leaves_it_unknown_when_loaded(tmp_path):
    path = tmp_path / "stumble_1.csv"
    path.write_text("t_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n0.0,0,0,1,0,0,0\n0.005,0,0,1,0,0,0\n")
    rec = load_csv(path)
    assert rec.body_from_sensor is None and rec.kind == "stumble" and len(rec) == 2


def test_csv_bad_line_is_named_when_a_column_is_missing(tmp_path):
    path = tmp_path / "walk.csv"
    path.write_text("# body_from_sensor=[[1,0,0],[0,1,0],[0,0,1]]\nt_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n"
                    "0.0,0,0,1,0,0,0\n0.005,0,0,1,0,0\n")
    with pytest.raises(DataFormatError, match=r"walk\.csv, line 4: expected seven numbers"):
        load_csv(path)


def test_csv_mounting_that_is_not_a_rotation_is_refused_when_loaded(tmp_path):
    path = tmp_path / "walk.csv"
    path.write_text("# body_from_sensor=[[1,0,0],[0,1,0],[0,0,-1]]\nt_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n"
                    "0.0,0,0,1,0,0,0\n")
    with pytest.raises(DataFormatError, match=r"walk\.csv, line 1: body_from_sensor .* is not a rotation"):
        load_csv(path)


def test_csv_without_header_is_refused_when_loaded(tmp_path):
    path = tmp_path / "walk.csv"
    path.write_text("0.0,0,0,1,0,0,0\n")
    with pytest.raises(DataFormatError, match="line 1: expected the header"):
        load_csv(path)


def test_csv_time_going_backwards_is_refused_when_loaded(tmp_path):
    path = tmp_path / "walk.csv"
    path.write_text("t_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps\n0.0,0,0,1,0,0,0\n0.01,0,0,1,0,0,0\n0.005,0,0,1,0,0,0\n")
    with pytest.raises(DataFormatError, match="backwards at sample 3"):
        load_csv(path)


def test_folder_search_finds_sisfall_trials_and_skips_readme_when_scanning(tmp_path):
    _write_sisfall(tmp_path / "SA01" / "D01_SA01_R01.txt", [[1] * 9])
    _write_sisfall(tmp_path / "SA01" / "F01_SA01_R01.txt", [[1] * 9])
    (tmp_path / "Readme.txt").write_text("SisFall")
    found = find_recordings(tmp_path, "sisfall")
    assert [p.name for p, _ in found] == ["D01_SA01_R01.txt", "F01_SA01_R01.txt"]
    assert [r.kind for r in iter_recordings(tmp_path)] == ["walk", "fall"]


@pytest.mark.skipif(not SHARED_SISFALL.is_dir(), reason="../shared/data (SisFall) is not here")
def test_exported_sisfall_file_matches_the_shared_loader_when_shared_is_present(tmp_path):
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("shared_load", SHARED_SISFALL.parent / "load.py")
    shared_load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(shared_load)
    trial = shared_load.load_trial("sisfall", "F02_SA01_R01")
    with np.load(SHARED_SISFALL / "SA01.npz") as npz:
        raw = np.cumsum(npz["F02_SA01_R01"].astype(np.int32), axis=1).T
        assert json.loads(str(npz["__meta__"]))["subject"] == "SA01"
    rec = load_recording(_write_sisfall(tmp_path / "F02_SA01_R01.txt", raw.tolist()))
    assert np.allclose(rec.accel_g, trial.accel_g, atol=1e-6)
    assert np.allclose(rec.gyro_dps, trial.gyro_dps, rtol=1e-4, atol=1e-3)


def test_any_raw_counts_decode_exactly_when_written_as_distributed(tmp_path_factory):
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.extra.numpy import arrays

    folder = tmp_path_factory.mktemp("sisfall")

    @settings(max_examples=40, deadline=None)
    @given(arrays(np.int32, st.tuples(st.integers(1, 30), st.just(9)), elements=st.integers(-4096, 32767)))
    def check(counts):
        rec = load_sisfall_file(_write_sisfall(folder / "D10_SA05_R04.txt", counts.tolist()))
        assert np.array_equal(rec.accel_g * 256, counts[:, :3])
        assert np.allclose(rec.gyro_dps * 65536 / 4000, counts[:, 3:6], atol=1e-9)

    check()
