#!/usr/bin/env python3
"""Train the pre-impact model (``firmware_py/detection/detectors/pre_impact_model.json``) on SisFall as users have it.

    python3 ../shared/data/export_sisfall.py /tmp/retrowalk-sisfall      # the text files, as distributed
    .venv/bin/pip install -e '.[train]'                                  # scikit-learn, for training only
    .venv/bin/python scripts/train_pre_impact.py /tmp/retrowalk-sisfall --labels ../shared/data/sisfall

Every recording runs through the real pipeline, which logs the features of every frame
(``Pipeline.record_features``). Frames of a fall trial from ``--window`` s up to 0.05 s before the impact
(peak |a| in the SisFall_enhanced FALL run when ``--labels`` is given) in which the waist is going down
are "a fall starting"; every descending frame of the other trials is "not a fall". A
histogram gradient-boosted tree ensemble (scikit-learn) learns them, and is written as plain arrays that
``firmware_py/detection/detectors/trees.py`` scores with numpy.

**Subjects left out.** Before the final model is trained on everyone, ``--folds`` models are each trained
with a group of subjects left out, and the left-out trials are run through the *whole pipeline* with
that fold's model (``retrowalk evaluate``'s scoring). Those figures -- measured only on people the model
never saw -- are what the report and the model file's ``cross_validation`` give; the figures of the
final model on its own training subjects are optimistic and only printed for comparison.

Only the development subjects belong here: a held-out set exists to check these figures.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from dataclasses import replace
from multiprocessing import Pool
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from firmware_py.evaluation.datasets import find_recordings, load_recording  # noqa: E402
from firmware_py.evaluation.sisfall import sisfall_fall_runs  # noqa: E402
from firmware_py.detection.detectors.fall_features import DIRECTION_INDEX, FEATURE_NAMES  # noqa: E402
from firmware_py.detection.detectors.trees import DEFAULT_MODEL_PATH, TreeEnsemble  # noqa: E402
from firmware_py.evaluation.evaluate import evaluate_files, run_recording  # noqa: E402
from firmware_py.evaluation.metrics import compute_metrics  # noqa: E402
from firmware_py.detection.pipeline import DetectionSettings  # noqa: E402
from firmware_py.evaluation.transforms import Transform  # noqa: E402

DESCENT_S = FEATURE_NAMES.index("descent_s")
#: hyper-parameters, chosen with subjects left out (docs/detection.md); a fixed seed for the early-stopping split
#: --direction-free: train the "gravity only" model (the features that need the heading zeroed)
DIRECTION_FREE = False
TREES = dict(max_iter=200, max_depth=3, learning_rate=0.1, l2_regularization=1.0, min_samples_leaf=50,
             early_stopping=True, validation_fraction=0.1, n_iter_no_change=10, random_state=0)


def _features(job: Tuple[str, str, Optional[Tuple[int, int]]]) -> dict:
    path, fmt, fall_run = job
    rec = load_recording(path, fmt, {Path(path).stem: fall_run} if fall_run else None)
    log: List[Tuple[float, List[float]]] = []

    def make(recording, settings):
        from firmware_py.evaluation.evaluate import default_pipeline
        # a stand-in model: the features do not depend on it, and the shipped one may be for older features
        pipeline = default_pipeline(recording, settings, model=TreeEnsemble(FEATURE_NAMES, 1, -1e9, [], [], []))
        pipeline.record_features(log)
        return pipeline

    run_recording(rec, None, make_pipeline=make)
    t = np.array([row[0] for row in log])
    x = np.array([row[1] for row in log], dtype=float).reshape(len(log), len(FEATURE_NAMES))
    return dict(path=path, name=rec.name, kind=rec.kind, activity=rec.activity, impact=rec.impact_t_s, t=t, x=x)


def subject_of(name: str) -> str:
    parts = name.split("_")
    if len(parts) < 3:
        raise SystemExit(f"{name}: cannot tell the subject (expected SisFall names like F01_SA01_R01)")
    return parts[1]


def training_rows(trials: List[dict], window_s: float, positive_weight: float, weights: Dict[str, float]):
    xs, ys, ws = [], [], []
    for tr in trials:
        x, t = tr["x"], tr["t"]
        if DIRECTION_FREE:
            x = x.copy()
            x[:, list(DIRECTION_INDEX)] = 0.0     # what the detector feeds while the heading is unknown
        descending = x[:, DESCENT_S] > 0
        if tr["kind"] == "fall":
            if tr["impact"] is None:
                continue
            pos = descending & (t >= tr["impact"] - window_s) & (t <= tr["impact"] - 0.05)
            xs.append(x[pos]); ys.append(np.ones(pos.sum())); ws.append(np.full(pos.sum(), positive_weight))
        else:
            xs.append(x[descending]); ys.append(np.zeros(descending.sum()))
            ws.append(np.full(descending.sum(), weights.get(tr["activity"], 1.0)))
    return np.vstack(xs), np.concatenate(ys), np.concatenate(ws)


def fit(trials: List[dict], window_s: float, positive_weight: float,
        weights: Dict[str, float]) -> Tuple[TreeEnsemble, np.ndarray]:
    """The exported model (checked against scikit-learn's scores) and the labels it learned from."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    x, y, w = training_rows(trials, window_s, positive_weight, weights)
    model = HistGradientBoostingClassifier(**TREES).fit(x, y, sample_weight=w)
    ensemble = export(model)
    check_export(model, ensemble, x)
    return ensemble, y


def export(model) -> TreeEnsemble:
    """scikit-learn's trees as complete binary trees of one depth (see trees.py)."""
    depth = max(1, int(TREES["max_depth"]))
    internal = 2 ** depth - 1
    features, thresholds, leaves = [], [], []
    for (predictor,) in model._predictors:     # one tree per iteration for a binary classifier
        nodes = predictor.nodes
        f = np.zeros(internal, dtype=int)
        th = np.full(internal, 1e300)              # "always left" for padding below an early leaf
        leaf = np.zeros(internal + 1)

        def fill(node: int, pos: int, level: int) -> None:
            if level == depth:
                if not nodes[node]["is_leaf"]:
                    raise SystemExit("a tree is deeper than max_depth")
                leaf[pos - internal] = nodes[node]["value"]
                return
            if nodes[node]["is_leaf"]:
                fill(node, 2 * pos + 1, level + 1)
                fill(node, 2 * pos + 2, level + 1)
                return
            f[pos] = nodes[node]["feature_idx"]
            th[pos] = nodes[node]["num_threshold"]
            fill(int(nodes[node]["left"]), 2 * pos + 1, level + 1)
            fill(int(nodes[node]["right"]), 2 * pos + 2, level + 1)

        fill(0, 0, 0)
        features.append(f.tolist()); thresholds.append(th.tolist()); leaves.append(leaf.tolist())
    baseline = float(np.ravel(model._baseline_prediction)[0])
    return TreeEnsemble(FEATURE_NAMES, depth, baseline, np.array(features), np.array(thresholds), np.array(leaves))


def check_export(model, ensemble: TreeEnsemble, x: np.ndarray) -> None:
    """The exported arrays must score exactly like scikit-learn (else the file is wrong, not the data)."""
    sample = x[:: max(1, len(x) // 2000)]
    ours = np.array([ensemble.score(row) for row in sample])
    theirs = model.decision_function(sample)
    if not np.allclose(ours, theirs, atol=1e-6):
        raise SystemExit(f"export mismatch: largest difference {np.abs(ours - theirs).max()}")


def left_out_results(files: List[Tuple[str, str]], runs: Dict[str, Tuple[int, int]], model_file: str,
                     threshold: float, jobs: int) -> list:
    """These recordings through the whole pipeline with this model and threshold (evaluate's scoring)."""
    settings = DetectionSettings()
    key = "gravity_only_model_file" if DIRECTION_FREE else "model_file"
    threshold_key = "gravity_only_score_threshold" if DIRECTION_FREE else "score_threshold"
    settings = replace(settings, balance=replace(settings.balance, **{threshold_key: threshold, key: model_file}))
    with tempfile.TemporaryDirectory() as tmp:
        for path, _fmt in files:        # a folder of links to this fold's files, for evaluate_files
            os.symlink(path, Path(tmp) / Path(path).name)
        # the gravity-only model is scored as it is used: on an uncalibrated wearer
        return evaluate_files(Path(tmp), "sisfall", settings=settings, jobs=jobs,
                              transform=Transform(no_mounting=DIRECTION_FREE),
                              fall_runs={Path(p).stem: runs[Path(p).stem] for p, _ in files if Path(p).stem in runs})


def _weights(text: str) -> Dict[str, float]:
    out = {}
    for item in filter(None, text.split(",")):
        code, _, value = item.partition("=")
        try:
            out[code.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r}: use ACTIVITY=WEIGHT, e.g. D18=3") from None
    return out


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path, help="SisFall text files (export_sisfall.py's output)")
    parser.add_argument("--labels", type=Path, help="shared/data/sisfall (SisFall_enhanced FALL runs: the impact)")
    parser.add_argument("--output", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--threshold", type=float, default=None,
                        help="score threshold to report with (default: the shipped balance.score_threshold)")
    parser.add_argument("--sweep", type=lambda v: [float(x) for x in v.split(",")], default=[],
                        help="more thresholds to report the left-out figures at, e.g. 4,4.5,5")
    parser.add_argument("--folds", type=int, default=6)
    parser.add_argument("--window", type=float, default=0.6, help="seconds before the impact that count as falling")
    parser.add_argument("--positive-weight", type=float, default=4.0)
    parser.add_argument("--weight", type=_weights, default={"D18": 2.0},
                        help="weights of activities' frames as not-a-fall, e.g. D18=2 (stumbles: the hard "
                             "negatives the issue bounds); default %(default)s")
    parser.add_argument("--max-iter", type=int, default=TREES["max_iter"], help="most trees (boosting rounds)")
    parser.add_argument("--learning-rate", type=float, default=TREES["learning_rate"])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--direction-free", action="store_true",
                        help="train the model for a wearer whose heading is unknown (mounting 'gravity only'): "
                             "the direction features zeroed, left-out subjects scored uncalibrated; write it with "
                             "--output firmware_py/detection/detectors/pre_impact_model_gravity_only.json")
    args = parser.parse_args(argv)
    global DIRECTION_FREE
    DIRECTION_FREE = args.direction_free
    TREES.update(max_iter=args.max_iter, learning_rate=args.learning_rate)
    try:
        import sklearn
        from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: F401
        from sklearn.model_selection import GroupKFold
    except ImportError:
        raise SystemExit("scikit-learn is needed to train: .venv/bin/pip install -e '.[train]'") from None

    files = [(str(p), f) for p, f in find_recordings(args.folder, "sisfall")]
    runs = sisfall_fall_runs(args.labels) if args.labels else {}
    print(f"{len(files)} recordings; logging features through the pipeline ...", file=sys.stderr)
    with Pool(args.jobs) as pool:
        trials = pool.map(_features, [(p, f, runs.get(Path(p).stem)) for p, f in files], chunksize=8)
    subjects = np.array([subject_of(tr["name"]) for tr in trials])
    shipped = DetectionSettings().balance
    threshold = (args.threshold if args.threshold is not None
                 else shipped.gravity_only_score_threshold if DIRECTION_FREE else shipped.score_threshold)

    keys = ("fall_sensitivity", "specificity", "walking_false_alarms_per_hour", "stumble_recall", "stumble_as_fall_rate", "pre_impact_share",
            "lead_time_median_s", "lead_time_p10_s")
    sweep = sorted(set(args.sweep + [threshold]))
    cv_by_threshold = {th: [] for th in sweep}
    with tempfile.TemporaryDirectory() as tmp:
        for k, (train, test) in enumerate(GroupKFold(n_splits=args.folds).split(trials, groups=subjects)):
            ensemble, _ = fit([trials[i] for i in train], args.window, args.positive_weight, args.weight)
            fold_path = Path(tmp) / f"fold{k}.json"
            fold_path.write_text(json.dumps(ensemble.to_dict()))
            left_out = sorted(set(subjects[test]))
            print(f"fold {k + 1}/{args.folds}: {len(ensemble)} trees, scoring {', '.join(left_out)} "
                  f"through the pipeline", file=sys.stderr)
            for th in sweep:
                cv_by_threshold[th] += left_out_results([files[i] for i in test], runs, str(fold_path), th, args.jobs)
    print("subjects left out, whole pipeline:", file=sys.stderr)
    print(f"{'threshold':>10}" + "".join(f"{k[:18]:>20}" for k in keys), file=sys.stderr)
    for th in sweep:
        m = compute_metrics(cv_by_threshold[th])
        print(f"{th:>10.2f}" + "".join(f"{m[k]:>20.3f}" if m[k] is not None else f"{'-':>20}" for k in keys),
              file=sys.stderr)
    cv = compute_metrics(cv_by_threshold[threshold])

    final, y = fit(trials, args.window, args.positive_weight, args.weight)
    final.meta.update({
        "threshold_suggested": threshold,
        "trained": {"data": "SisFall development subjects (text files as distributed)",
                    "direction_free": DIRECTION_FREE,
                    "subjects": sorted(set(subjects.tolist())), "trials": len(trials),
                    "frames": {"falling": int(y.sum()), "not_falling": int(len(y) - y.sum())},
                    "window_s": args.window, "positive_weight": args.positive_weight, "weights": args.weight,
                    "trees": TREES, "scikit_learn": sklearn.__version__, "frame_s": DetectionSettings().frame_s},
        "cross_validation": {"folds": args.folds, "by": "subject", "threshold": threshold,
                             **{k: cv[k] for k in keys}},
    })
    args.output.write_text(json.dumps(final.to_dict(), separators=(",", ":")) + "\n")
    print(json.dumps({"trees": len(final), "cross_validation": final.meta["cross_validation"]}, indent=1))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
