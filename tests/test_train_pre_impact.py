"""scripts/train_pre_impact.py: the exported trees score exactly as scikit-learn's model does."""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from firmware_py.detection.detectors.fall_features import FEATURE_NAMES
from firmware_py.detection.detectors.trees import TreeEnsemble, load_model

sklearn_ensemble = pytest.importorskip("sklearn.ensemble")

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "train_pre_impact.py"


def _script():
    spec = importlib.util.spec_from_file_location("train_pre_impact", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module     # its dataclasses, and its pool's workers, look the module up by name
    spec.loader.exec_module(module)
    return module


def test_exported_trees_score_like_scikit_learn_including_trees_that_stop_early():
    train = _script()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, len(FEATURE_NAMES)))
    y = (x[:, 2] + 0.5 * x[:, 13] ** 2 + rng.normal(scale=0.5, size=len(x)) > 1.0).astype(int)
    # a large min_samples_leaf makes some branches end above max_depth: those leaves are padded
    params = {**train.TREES, "max_iter": 30, "early_stopping": False, "min_samples_leaf": 400}
    model = sklearn_ensemble.HistGradientBoostingClassifier(**params).fit(x, y)
    assert any(p[0].nodes["depth"][p[0].nodes["is_leaf"] == 1].min() < train.TREES["max_depth"]
               for p in model._predictors)
    ensemble = train.export(model)
    assert isinstance(ensemble, TreeEnsemble) and len(ensemble) == 30
    probe = rng.normal(scale=2.0, size=(500, len(FEATURE_NAMES)))
    ours = np.array([ensemble.score(row) for row in probe])
    np.testing.assert_allclose(ours, model.decision_function(probe), atol=1e-9)
    train.check_export(model, ensemble, probe)      # the script's own guard agrees


def test_activity_weights_are_read_and_a_bad_one_is_named():
    train = _script()
    assert train._weights("D18=2,D10=1.5") == {"D18": 2.0, "D10": 1.5}
    with pytest.raises(Exception, match="'D18': use ACTIVITY=WEIGHT"):
        train._weights("D18")


def test_subjects_are_read_from_sisfall_and_exported_umafall_names():
    train = _script()
    assert train.subject_of("F01_SA01_R01") == "SA01"
    assert train.subject_of("fall_backwardFall-S05-R1") == "S05"
    assert train.subject_of("other_Aplausing-S17-R2-2") == "S17"
    with pytest.raises(SystemExit, match="cannot tell the subject"):
        train.subject_of("walk_outside")


def test_augmented_copies_are_repeatable_and_within_the_devices_asked_for():
    train = _script()
    copies = train.augmentations("F01_SA01_R01", 40)
    assert copies == train.augmentations("F01_SA01_R01", 40)            # the same on every run
    assert copies != train.augmentations("F01_SA03_R01", 40)            # but not the same for every trial
    assert all(20.0 <= a.rate_hz <= 200.0 for a in copies)
    assert {a.gyro_clip_dps for a in copies} == {None, 250.0, 500.0}
    assert len({a.rotation_seed for a in copies}) == 40


def test_an_augmented_recording_is_clipped_where_its_gyro_would_clip_and_keeps_its_body_frame():
    from firmware_py.evaluation import scenarios

    train = _script()
    rec = scenarios.backward_fall(seed=1).to_recording()
    copy, gyro_range_dps = train.recorded_as(rec, train.Augmentation(3, 50.0, 250.0), 2000.0)
    assert gyro_range_dps == 250.0 and np.abs(copy.gyro_dps).max() <= 250.0
    assert abs(np.median(np.diff(copy.t_s)) - 0.02) < 1e-9
    # the sensor is turned, and the mounting with it: in the body frame gravity is still up
    still = copy.accel_g[:10].mean(axis=0)
    assert not np.allclose(still, rec.accel_g[:10].mean(axis=0), atol=0.1)
    np.testing.assert_allclose(copy.body_from_sensor @ still, rec.accel_g[:10].mean(axis=0), atol=0.05)
    # a device whose own gyro clips lower is left as it is
    assert train.recorded_as(rec, train.Augmentation(3, 50.0, 500.0), 250.0)[1] == 250.0


def test_two_tiny_datasets_are_trained_on_together_and_each_is_left_out_once(tmp_path, capsys):
    from firmware_py.evaluation import scenarios
    from firmware_py.evaluation.datasets import write_csv

    train = _script()
    for dataset, seed in (("one", 0), ("two", 10)):
        folder = tmp_path / dataset
        folder.mkdir()
        for subject in (1, 2):
            s = seed + subject
            fall = scenarios.backward_fall(seed=s, walk_s=4.0, lie_s=3.0)
            write_csv(folder / f"fall_backward-S{subject:02d}-R1.csv", fall.blocks(), body_from_sensor=np.eye(3),
                      impact_t_s=fall.truth_times("fall")[0], synthetic=True)
            walk = scenarios.backward_walk(duration_s=8.0, seed=s)
            write_csv(folder / f"walk_backward-S{subject:02d}-R1.csv", walk.blocks(), body_from_sensor=np.eye(3),
                      synthetic=True)
    (tmp_path / "two" / "retrowalk.toml").write_text("[sensor]\ngyro_range_dps = 250\n")
    out = tmp_path / "model.json"
    assert train.main([str(tmp_path / "one"), str(tmp_path / "two"), "--folds", "2", "--augment", "1",
                       "--max-iter", "5", "--jobs", "1", "--output", str(out), "--dataset-weight", "two=0.5"]) == 0
    report = capsys.readouterr()
    assert "subjects left out" in report.err and "datasets left out" in report.err
    assert len(load_model(out)) > 0                          # a model the daemon can load
    meta = json.loads(out.read_text())
    assert set(meta["leave_one_dataset_out"]) == {"threshold", "one", "two"}
    assert set(meta["cross_validation"]["by_dataset"]) == {"one", "two"}
    assert meta["trained"]["trials"] == 8 and meta["trained"]["augmented"]["copies_per_trial"] == 1
    assert "gyro ±250" in meta["trained"]["data"]
    assert meta["trained"]["dataset_weights"] == {"two": 0.5} and meta["trained"]["negatives_only"] == []
    with pytest.raises(SystemExit, match="no dataset three"):
        train.main([str(tmp_path / "one"), str(tmp_path / "two"), "--negatives-only", "three"])


def _trial(dataset: str, kind: str, activity: str) -> dict:
    """Ten descending frames 0.1 s apart; a fall's impact at 1.0 s puts frames 0.4-0.9 s in its window."""
    x = np.zeros((10, len(FEATURE_NAMES)))
    x[:, FEATURE_NAMES.index("descent_s")] = 0.1
    return dict(x=x, t=np.arange(10) * 0.1, kind=kind, activity=activity, impact=1.0 if kind == "fall" else None,
                dataset_name=dataset)


def test_a_dataset_weight_scales_its_frames_and_negatives_only_drops_its_falls():
    train = _script()
    trials = [_trial("sis", "fall", "F01"), _trial("sis", "adl", "D18"),
              _trial("uma", "fall", "fall"), _trial("uma", "adl", "walk")]
    x, y, w = train.training_rows(trials, 0.6, 4.0, {"D18": 2.0})
    assert (y == 1).sum() == 12 and set(w[y == 1]) == {4.0}            # both datasets' falls, as before
    x, y, w = train.training_rows(trials, 0.6, 4.0, {"D18": 2.0}, train.DatasetWeights({"uma": 0.25}))
    assert sorted(w[y == 1]) == [1.0] * 6 + [4.0] * 6
    assert sorted(w[y == 0]) == [0.25] * 10 + [2.0] * 10                # activity weight x dataset weight
    x, y, w = train.training_rows(trials, 0.6, 4.0, {}, train.DatasetWeights({"uma": 0.5}, ("uma",)))
    assert (y == 1).sum() == 6 and set(w[y == 1]) == {4.0}              # only SisFall's falls are positives
    assert sorted(w[y == 0]) == [0.5] * 10 + [1.0] * 10                 # UMAFall's daily activities stay
    assert train._dataset_weights("retrowalk-umafall=0.3") == {"retrowalk-umafall": 0.3}
    with pytest.raises(Exception, match="use DATASET=WEIGHT"):
        train._dataset_weights("umafall")


def test_an_output_folder_that_does_not_exist_is_refused_before_training(tmp_path):
    missing = tmp_path / "no-such-folder" / "model.json"
    result = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path), "--output", str(missing)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "does not exist" in result.stderr and "no-such-folder" in result.stderr
