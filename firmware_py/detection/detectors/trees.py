"""A boosted-tree score, evaluated with numpy, from a small JSON model file.

The pre-impact model (``pre_impact_model.json`` beside this module, made by ``scripts/train_pre_impact.py``)
is an ensemble of shallow regression trees whose leaf values add up to a log-odds that the frame is the
start of a fall. Every tree is stored padded to a complete binary tree of the same depth, in level order,
so that one frame is scored for all trees at once with a few array look-ups per level instead of a
Python walk through each tree. A node sends a value ``x[feature] <= threshold`` to the left, like the
trainer (scikit-learn's histogram gradient boosting) does.

File format (``"format": "retrowalk-trees/1"``)::

    {"format": "retrowalk-trees/1", "features": [names...], "depth": d, "baseline": b,
     "feature": [[f of node 0..2^d-2] per tree], "threshold": [[...] per tree], "leaf": [[2^d values] per tree],
     "threshold_suggested": s, "trained": {...}}
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import numpy as np

FORMAT = "retrowalk-trees/1"
#: the model that ships with retrowalk
DEFAULT_MODEL_PATH = Path(__file__).with_name("pre_impact_model.json")


class ModelError(ValueError):
    """A model file that cannot be used; the message names the file and what is wrong with it."""


class TreeEnsemble:
    """Score = ``baseline`` + the sum over trees of the leaf each tree sends ``x`` to.

    Parameters
    ----------
    features : names of the inputs, in order
    depth : every tree's depth (stored complete)
    baseline : the score before any tree
    feature, threshold : (n_trees, 2**depth - 1) split of each internal node, level order
    leaf : (n_trees, 2**depth) leaf values, left to right
    """

    def __init__(self, features: Sequence[str], depth: int, baseline: float, feature: np.ndarray,
                 threshold: np.ndarray, leaf: np.ndarray, meta: Optional[dict] = None) -> None:
        self.features = tuple(str(f) for f in features)
        self.depth = int(depth)
        if not 1 <= self.depth <= 16:
            raise ModelError(f"depth = {depth!r} is not allowed; use 1 to 16")
        self.baseline = float(baseline)
        internal = 2 ** self.depth - 1
        empty = len(leaf) == 0           # no trees: the score is the baseline
        self.feature = np.asarray(feature, dtype=np.intp).reshape((0, internal) if empty else np.shape(feature))
        self.threshold = np.asarray(threshold, dtype=float).reshape((0, internal) if empty else np.shape(threshold))
        self.leaf = np.asarray(leaf, dtype=float).reshape((0, internal + 1) if empty else np.shape(leaf))
        self.meta = dict(meta or {})
        n_trees = len(self.leaf)
        if (self.feature.shape != (n_trees, internal) or self.threshold.shape != (n_trees, internal)
                or self.leaf.shape != (n_trees, internal + 1)):
            raise ModelError(f"tree arrays do not match depth {self.depth}: feature {self.feature.shape}, "
                             f"threshold {self.threshold.shape}, leaf {self.leaf.shape}")
        if n_trees and not (0 <= self.feature.min() and self.feature.max() < len(self.features)):
            raise ModelError(f"a node splits on feature {self.feature.max()} but there are {len(self.features)}")
        self._trees = np.arange(n_trees)
        # flat indices: row offsets let one take() per level replace a 2-D fancy index
        self._feature_flat = self.feature.ravel()
        self._threshold_flat = self.threshold.ravel()
        self._leaf_flat = self.leaf.ravel()
        self._row_internal = self._trees * internal
        self._row_leaf = self._trees * (internal + 1)

    def __len__(self) -> int:
        return len(self.leaf)

    def score(self, x: Sequence[float]) -> float:
        """The ensemble's score of one feature vector (higher: more like the start of a fall)."""
        values = np.asarray(x, dtype=float)
        node = np.zeros(len(self._trees), dtype=np.intp)
        for _ in range(self.depth):
            at = self._row_internal + node
            right = values.take(self._feature_flat.take(at)) > self._threshold_flat.take(at)
            node = 2 * node + 1 + right
        leaf = node - (2 ** self.depth - 1)
        return self.baseline + float(self._leaf_flat.take(self._row_leaf + leaf).sum())

    @classmethod
    def from_dict(cls, data: Any, source: str = "model") -> "TreeEnsemble":
        fix = "make it with scripts/train_pre_impact.py"
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise ModelError(f"{source}: format is {found!r}, expected {FORMAT!r}; {fix}")
        try:
            model = cls(data["features"], data["depth"], data["baseline"], np.array(data["feature"]),
                        np.array(data["threshold"]), np.array(data["leaf"]),
                        meta={k: v for k, v in data.items()
                              if k not in ("feature", "threshold", "leaf", "baseline", "depth", "features")})
        except KeyError as exc:
            raise ModelError(f"{source}: the key {exc} is missing; {fix}") from None
        except (TypeError, ValueError) as exc:     # ragged lists, a depth that is no number, ...
            raise ModelError(f"{source}: {exc}; {fix}") from None
        if not (np.isfinite(model.leaf).all() and np.isfinite(model.threshold).all() and np.isfinite(model.baseline)):
            raise ModelError(f"{source}: a leaf, threshold or the baseline is not a finite number; {fix}")
        return model

    def to_dict(self) -> dict:
        return {"format": FORMAT, "features": list(self.features), "depth": self.depth, "baseline": self.baseline,
                "feature": self.feature.tolist(), "threshold": self.threshold.tolist(), "leaf": self.leaf.tolist(),
                **{k: v for k, v in self.meta.items() if k != "format"}}


def load_model(path: Union[str, Path, None] = None, features: Optional[Sequence[str]] = None) -> TreeEnsemble:
    """Read a model file (default: the one shipped with retrowalk). With ``features``, the model must use
    exactly those inputs in that order, or :class:`ModelError` says which differ."""
    path = Path(path) if path else DEFAULT_MODEL_PATH
    try:
        data = json.loads(path.read_text())
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the model ({exc.strerror}); check [detection.balance] model_file") from None
    except ValueError as exc:
        raise ModelError(f"{path}: not JSON ({exc}); make it with scripts/train_pre_impact.py") from None
    model = TreeEnsemble.from_dict(data, str(path))
    if features is not None and tuple(features) != model.features:
        missing = [f for f in features if f not in model.features]
        extra = [f for f in model.features if f not in features]
        raise ModelError(f"{path}: the model's inputs do not match this retrowalk's features "
                         f"(missing {missing}, unknown {extra}, or another order); retrain it with "
                         f"scripts/train_pre_impact.py")
    return model
