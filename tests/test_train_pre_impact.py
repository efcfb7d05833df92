"""scripts/train_pre_impact.py: the exported trees score exactly as scikit-learn's model does."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from firmware_py.detection.detectors.fall_features import FEATURE_NAMES
from firmware_py.detection.detectors.trees import TreeEnsemble

sklearn_ensemble = pytest.importorskip("sklearn.ensemble")

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "train_pre_impact.py"


def _script():
    spec = importlib.util.spec_from_file_location("train_pre_impact", SCRIPT)
    module = importlib.util.module_from_spec(spec)
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
