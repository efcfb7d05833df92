"""The boosted-tree scorer and its model file: scores as the trees say, and bad files are named."""
from __future__ import annotations

import json

import numpy as np
import pytest

from firmware_py.detection.detectors.fall_features import FEATURE_NAMES
from firmware_py.detection.detectors.trees import ModelError, TreeEnsemble, load_model

INF = 1e300      # the trainer's "always left" padding


def _two_trees() -> TreeEnsemble:
    # tree 0: x0 <= 1 ? (x1 <= 5 ? 1 : 2) : (x2 <= 0 ? 3 : 4)
    # tree 1: a stump padded to depth 2: x1 <= 0 ? -1 : +1
    return TreeEnsemble(("a", "b", "c"), 2, 0.5,
                        feature=[[0, 1, 2], [1, 0, 0]],
                        threshold=[[1.0, 5.0, 0.0], [0.0, INF, INF]],
                        leaf=[[1.0, 2.0, 3.0, 4.0], [-1.0, -1.0, 1.0, 1.0]])


@pytest.mark.parametrize("x,expected", [
    ((0.0, 0.0, 0.0), 0.5 + 1.0 - 1.0),
    ((0.0, 6.0, 0.0), 0.5 + 2.0 + 1.0),
    ((1.0, 5.0, 0.0), 0.5 + 1.0 + 1.0),      # equal to the threshold goes left, as in the trainer
    ((2.0, -1.0, 0.0), 0.5 + 3.0 - 1.0),
    ((2.0, 1.0, 0.5), 0.5 + 4.0 + 1.0),
])
def test_score_walks_every_tree_and_adds_the_leaves(x, expected):
    assert _two_trees().score(x) == pytest.approx(expected)


def test_a_model_survives_its_file(tmp_path):
    model = _two_trees()
    path = tmp_path / "m.json"
    path.write_text(json.dumps(model.to_dict()))
    again = load_model(path)
    rng = np.random.default_rng(0)
    for x in rng.normal(0, 3, size=(50, 3)):
        assert again.score(x) == model.score(x)


def test_model_file_problems_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(ModelError, match=r"missing\.json: cannot read the model .*model_file"):
        load_model(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ModelError, match=r"bad\.json: not JSON"):
        load_model(bad)
    bad.write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ModelError, match=r"bad\.json: format is 'something-else'.*train_pre_impact"):
        load_model(bad)
    data = _two_trees().to_dict()
    del data["leaf"]
    bad.write_text(json.dumps(data))
    with pytest.raises(ModelError, match=r"bad\.json: the key 'leaf' is missing"):
        load_model(bad)


@pytest.mark.parametrize("text,problem", [
    ("[1, 2]", "format is 'list'"),
    ('{"format": "retrowalk-trees/1", "features": ["a"], "depth": "x", "baseline": 0, "feature": [], '
     '"threshold": [], "leaf": []}', "invalid literal"),
    ('{"format": "retrowalk-trees/1", "features": ["a"], "depth": 1, "baseline": 0, "feature": [[0], [0, 1]], '
     '"threshold": [[0]], "leaf": [[1, 2]]}', "inhomogeneous"),
    ('{"format": "retrowalk-trees/1", "features": ["a"], "depth": 1, "baseline": NaN, "feature": [[0]], '
     '"threshold": [[0]], "leaf": [[1, 2]]}', "not a finite number"),
])
def test_a_malformed_model_is_a_model_error_naming_the_file(tmp_path, text, problem):
    path = tmp_path / "m.json"
    path.write_text(text)
    with pytest.raises(ModelError, match=rf"m\.json: .*{problem}.*train_pre_impact"):
        load_model(path)


def test_a_model_for_other_features_is_refused(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps(_two_trees().to_dict()))
    with pytest.raises(ModelError, match=r"inputs do not match.*missing \['tilt_deg'"):
        load_model(path, FEATURE_NAMES)


def test_tree_arrays_must_fit_the_depth():
    with pytest.raises(ModelError, match="do not match depth 2"):
        TreeEnsemble(("a",), 2, 0.0, [[0, 0]], [[0.0, 0.0]], [[0.0, 0.0, 0.0, 0.0]])
    with pytest.raises(ModelError, match="splits on feature 3"):
        TreeEnsemble(("a",), 1, 0.0, [[3]], [[0.0]], [[0.0, 0.0]])

