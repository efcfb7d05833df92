#!/usr/bin/env python3
"""Train the pre-impact model (``firmware_py/detection/detectors/pre_impact_model.json``) on every development
dataset as users have it (SisFall's text files, the project's CSV).

    python3 ../shared/data/export_sisfall.py /tmp/retrowalk-sisfall      # the text files, as distributed
    python3 scripts/export_umafall_csv.py /tmp/retrowalk-umafall          # UMAFall as the project's CSV
    .venv/bin/pip install -e '.[train]'                                  # scikit-learn, for training only
    .venv/bin/python scripts/train_pre_impact.py /tmp/retrowalk-sisfall /tmp/retrowalk-umafall \
        --labels ../shared/data/sisfall --augment 2

Each folder is one dataset. A ``retrowalk.toml`` inside it (export_umafall_csv.py writes one) gives its
sensor: its ``[sensor] gyro_range_dps`` tells the pipeline where that gyro clips, as ``retrowalk evaluate
--config`` would. ``--augment N`` adds N copies of every training trial as another device would have
recorded it: the sensor turned at random on the body (the mounting turned with it, as ``retrowalk
calibrate`` would find it), resampled at 20-200 Hz, and the gyro clipped at ±250 or ±500 °/s (or not), so
the model learns from more than SisFall's one belt and rate. Trials are scored as recorded.

Every recording runs through the real pipeline, which logs the features of every frame
(``Pipeline.record_features``). Frames of a fall trial from ``--window`` s up to 0.05 s before the impact
(peak |a| in the SisFall_enhanced FALL run when ``--labels`` is given) in which the waist is going down
are "a fall starting"; every descending frame of the other trials is "not a fall". A
histogram gradient-boosted tree ensemble (scikit-learn) learns them, and is written as plain arrays that
``firmware_py/detection/detectors/trees.py`` scores with numpy.

**Datasets weighted.** ``--dataset-weight retrowalk-umafall=0.3`` scales every frame of a dataset (named by
its folder), so a small one informs the trees without outweighing another's positives; ``--negatives-only
retrowalk-umafall`` trains on that dataset's daily activities only, for a dataset whose impacts are not
labelled (UMAFall: peak |a| at 20 Hz stands in, so its "falling" frames are placed loosely). Both are scored
as recorded, like every dataset.

**Subjects left out.** Before the final model is trained on everyone, ``--folds`` models are each trained
with a group of subjects left out, and the left-out trials are run through the *whole pipeline* with
that fold's model (``retrowalk evaluate``'s scoring). Those figures -- measured only on people the model
never saw -- are what the report and the model file's ``cross_validation`` give; the figures of the
final model on its own training subjects are optimistic and only printed for comparison.

**Datasets left out.** With two datasets or more, one model per dataset is trained on the others (with
their augmented copies) and that dataset is scored through the whole pipeline: how the model does on a
device and a group of people it never saw, which is what a new wearer is.

Only the development subjects belong here: a held-out set exists to check these figures.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
import tempfile
import zlib
from dataclasses import dataclass, replace
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
from firmware_py.evaluation.evaluate import default_pipeline, evaluate_files, run_recording  # noqa: E402
from firmware_py.evaluation.metrics import compute_metrics  # noqa: E402
from firmware_py.detection.pipeline import DetectionSettings  # noqa: E402
from firmware_py.evaluation.transforms import Transform  # noqa: E402
from hal.mpu6050_settings import SensorSettings  # noqa: E402

DESCENT_S = FEATURE_NAMES.index("descent_s")
#: hyper-parameters, chosen with subjects left out (docs/detection.md); a fixed seed for the early-stopping split
#: --direction-free: train the "gravity only" model (the features that need the heading zeroed)
DIRECTION_FREE = False
TREES = dict(max_iter=200, max_depth=3, learning_rate=0.1, l2_regularization=1.0, min_samples_leaf=50,
             early_stopping=True, validation_fraction=0.1, n_iter_no_change=10, random_state=0)


@dataclass(frozen=True)
class Dataset:
    """One folder of recordings, and the gyro range its device clipped at."""

    name: str
    folder: Path
    gyro_range_dps: float
    files: Tuple[Tuple[str, str], ...]      # (path, format) of every recording


def read_dataset(folder: Path) -> Dataset:
    """The recordings under ``folder``; its ``retrowalk.toml`` (if there) names the sensor they came from."""
    config = folder / "retrowalk.toml"
    gyro_range_dps = SensorSettings.gyro_range_dps
    if config.is_file():
        from firmware_py.config import load_config
        gyro_range_dps = load_config(config).sensor.gyro_range_dps
    files = tuple((str(p), f) for p, f in find_recordings(folder))
    if not files:
        raise SystemExit(f"{folder}: no recordings (SisFall .txt or the project's .csv)")
    return Dataset(folder.name, folder, float(gyro_range_dps), files)


@dataclass(frozen=True)
class Augmentation:
    """One way another device could have recorded a trial (see the module docstring)."""

    rotation_seed: int                      # Transform's seed: a random rotation per trial and seed
    rate_hz: float
    gyro_clip_dps: Optional[float]          # None: not clipped beyond the dataset's own range


#: the gyro ranges a waist device is commonly set to (the MPU-6050's ±250 and ±500 °/s), or none
GYRO_CLIPS_DPS = (None, 250.0, 500.0)
RATES_HZ = (20.0, 200.0)


def augmentations(name: str, copies: int, seed: int = 0) -> List[Augmentation]:
    """``copies`` ways to record the trial ``name``, the same on every run (seeded by the name)."""
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    out = []
    for copy in range(copies):
        # log-uniform: as many 20-60 Hz devices as 60-200 Hz ones (a BLE tag and a wired IMU alike)
        rate_hz = round(float(np.exp(rng.uniform(*np.log(RATES_HZ)))), 1)
        clip = GYRO_CLIPS_DPS[int(rng.integers(len(GYRO_CLIPS_DPS)))]
        out.append(Augmentation(rotation_seed=seed * 1000 + copy + 1, rate_hz=rate_hz, gyro_clip_dps=clip))
    return out


def recorded_as(rec, augmentation: Augmentation, gyro_range_dps: float):
    """``rec`` as the augmented device would have read it, and that device's gyro range."""
    rec = Transform(rotate=True, resample_hz=augmentation.rate_hz, seed=augmentation.rotation_seed).apply(rec)
    if augmentation.gyro_clip_dps is not None and augmentation.gyro_clip_dps < gyro_range_dps:
        gyro_range_dps = augmentation.gyro_clip_dps
        rec = replace(rec, gyro_dps=np.clip(rec.gyro_dps, -gyro_range_dps, gyro_range_dps))
    return rec, gyro_range_dps


def _features(job: Tuple[str, str, Optional[Tuple[int, int]], float, Optional[Augmentation]]) -> dict:
    path, fmt, fall_run, gyro_range_dps, augmentation = job
    rec = load_recording(path, fmt, {Path(path).stem: fall_run} if fall_run else None)
    if augmentation is not None:
        rec, gyro_range_dps = recorded_as(rec, augmentation, gyro_range_dps)
    log: List[Tuple[float, List[float]]] = []

    def make(recording, settings):
        # a stand-in model: the features do not depend on it, and the shipped one may be for older features
        pipeline = default_pipeline(recording, settings, model=TreeEnsemble(FEATURE_NAMES, 1, -1e9, [], [], []),
                                    gyro_range_dps=gyro_range_dps)
        pipeline.record_features(log)
        return pipeline

    run_recording(rec, None, make_pipeline=make)
    t = np.array([row[0] for row in log])
    x = np.array([row[1] for row in log], dtype=float).reshape(len(log), len(FEATURE_NAMES))
    return dict(path=path, format=fmt, name=rec.name, kind=rec.kind, activity=rec.activity, impact=rec.impact_t_s,
                t=t, x=x, augmented=augmentation is not None)


#: the subject in a trial's name: SisFall's F01_SA01_R01, UMAFall's fall_backwardFall-S05-R1 (as exported)
_SUBJECT = re.compile(r"(?:^|[_-])(S[A-Z]?\d+)(?:[_-]|$)")


def subject_of(name: str) -> str:
    found = _SUBJECT.search(name)
    if not found:
        raise SystemExit(f"{name}: cannot tell the subject (expected names like SisFall's F01_SA01_R01 or "
                         "UMAFall's fall_backwardFall-S05-R1)")
    return found.group(1)


@dataclass(frozen=True)
class DatasetWeights:
    """How much each dataset's frames count. ``frame_weight``: a factor on every frame of that dataset (its
    augmented copies too), so a small dataset informs without outweighing another's positives;
    ``negatives_only``: datasets whose fall frames are left out (their impact is not labelled, so "the 0.6 s
    before it" is placed loosely) while their daily activities still teach what is not a fall."""

    frame_weight: Dict[str, float]
    negatives_only: Tuple[str, ...] = ()


def training_rows(trials: List[dict], window_s: float, positive_weight: float, weights: Dict[str, float],
                  dataset_weights: DatasetWeights = DatasetWeights({})):
    xs, ys, ws = [], [], []
    for tr in trials:
        x, t = tr["x"], tr["t"]
        dataset = tr.get("dataset_name", "")
        factor = dataset_weights.frame_weight.get(dataset, 1.0)
        if DIRECTION_FREE:
            x = x.copy()
            x[:, list(DIRECTION_INDEX)] = 0.0     # what the detector feeds while the heading is unknown
        descending = x[:, DESCENT_S] > 0
        if tr["kind"] == "fall":
            if tr["impact"] is None or dataset in dataset_weights.negatives_only:
                continue
            pos = descending & (t >= tr["impact"] - window_s) & (t <= tr["impact"] - 0.05)
            xs.append(x[pos]); ys.append(np.ones(pos.sum()))
            ws.append(np.full(pos.sum(), positive_weight * factor))
        else:
            xs.append(x[descending]); ys.append(np.zeros(descending.sum()))
            ws.append(np.full(descending.sum(), weights.get(tr["activity"], 1.0) * factor))
    return np.vstack(xs), np.concatenate(ys), np.concatenate(ws)


def fit(trials: List[dict], window_s: float, positive_weight: float, weights: Dict[str, float],
        dataset_weights: DatasetWeights = DatasetWeights({})) -> Tuple[TreeEnsemble, np.ndarray]:
    """The exported model (checked against scikit-learn's scores) and the labels it learned from."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    x, y, w = training_rows(trials, window_s, positive_weight, weights, dataset_weights)
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


def left_out_results(dataset: Dataset, files: List[Tuple[str, str]], runs: Dict[str, Tuple[int, int]],
                     model_file: str, threshold: float, jobs: int) -> list:
    """These recordings of ``dataset`` through the whole pipeline with this model and threshold (evaluate's
    scoring, as ``retrowalk evaluate --config`` runs them for that dataset's gyro range)."""
    settings = DetectionSettings()
    key = "gravity_only_model_file" if DIRECTION_FREE else "model_file"
    threshold_key = "gravity_only_score_threshold" if DIRECTION_FREE else "score_threshold"
    settings = replace(settings, balance=replace(settings.balance, **{threshold_key: threshold, key: model_file}))
    with tempfile.TemporaryDirectory() as tmp:
        for path, _fmt in files:        # a folder of links to this fold's files, for evaluate_files
            os.symlink(path, Path(tmp) / Path(path).name)
        # the gravity-only model is scored as it is used: on an uncalibrated wearer
        return evaluate_files(Path(tmp), None, settings=settings, jobs=jobs,
                              make_pipeline=functools.partial(default_pipeline,
                                                              gyro_range_dps=dataset.gyro_range_dps),
                              transform=Transform(no_mounting=DIRECTION_FREE),
                              fall_runs={Path(p).stem: runs[Path(p).stem] for p, _ in files if Path(p).stem in runs})


def print_figures(title: str, rows: List[Tuple[str, float, dict]], keys: Tuple[str, ...]) -> None:
    print(title, file=sys.stderr)
    print(f"{'scored':>18}{'threshold':>10}" + "".join(f"{k[:18]:>20}" for k in keys), file=sys.stderr)
    for label, th, m in rows:
        print(f"{label[:18]:>18}{th:>10.2f}"
              + "".join(f"{m[k]:>20.3f}" if m[k] is not None else f"{'-':>20}" for k in keys), file=sys.stderr)


def _weights(text: str) -> Dict[str, float]:
    out = {}
    for item in filter(None, text.split(",")):
        code, _, value = item.partition("=")
        try:
            out[code.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r}: use ACTIVITY=WEIGHT, e.g. D18=3") from None
    return out


def _dataset_weights(text: str) -> Dict[str, float]:
    out = {}
    for item in filter(None, text.split(",")):
        name, _, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{item!r}: use DATASET=WEIGHT (the folder's name), "
                                             "e.g. retrowalk-umafall=0.3") from None
    return out


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folders", type=Path, nargs="+", metavar="folder",
                        help="one folder per dataset: SisFall text files (export_sisfall.py's output) or the "
                             "project's CSV (export_umafall_csv.py's output, with its retrowalk.toml)")
    parser.add_argument("--labels", type=Path, help="shared/data/sisfall (SisFall_enhanced FALL runs: the impact)")
    parser.add_argument("--output", type=Path, default=DEFAULT_MODEL_PATH)
    parser.add_argument("--threshold", type=float, default=None,
                        help="score threshold to report with (default: the shipped balance.score_threshold)")
    parser.add_argument("--sweep", type=lambda v: [float(x) for x in v.split(",")], default=[],
                        help="more thresholds to report the left-out figures at, e.g. 4,4.5,5")
    parser.add_argument("--folds", type=int, default=6)
    parser.add_argument("--augment", type=int, default=0, metavar="N",
                        help="N more copies of every training trial as another device would record it (turned, "
                             "20-200 Hz, gyro clipped at 250/500 dps); default %(default)s")
    parser.add_argument("--window", type=float, default=0.6, help="seconds before the impact that count as falling")
    parser.add_argument("--positive-weight", type=float, default=4.0)
    parser.add_argument("--weight", type=_weights, default={"D18": 2.0},
                        help="weights of activities' frames as not-a-fall, e.g. D18=2 (stumbles: the hard "
                             "negatives the issue bounds); default %(default)s")
    parser.add_argument("--dataset-weight", type=_dataset_weights, default={}, metavar="DATASET=W,...",
                        help="a factor on every frame of a dataset (named by its folder), e.g. "
                             "retrowalk-umafall=0.3: a small dataset informs without outweighing another's positives")
    parser.add_argument("--negatives-only", nargs="+", default=[], metavar="DATASET",
                        help="datasets (folder names) whose fall frames are not trained on, only their other "
                             "activities: for a dataset without labelled impacts (UMAFall: peak |a| stands in)")
    parser.add_argument("--max-iter", type=int, default=TREES["max_iter"], help="most trees (boosting rounds)")
    parser.add_argument("--learning-rate", type=float, default=TREES["learning_rate"])
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--direction-free", action="store_true",
                        help="train the model for a wearer whose heading is unknown (mounting 'gravity only'): "
                             "the direction features zeroed, left-out subjects scored uncalibrated; write it with "
                             "--output firmware_py/detection/detectors/pre_impact_model_gravity_only.json")
    args = parser.parse_args(argv)
    if not args.output.parent.is_dir():  # said before the minutes of training, not after
        raise SystemExit(f"--output {args.output}: the folder {args.output.parent} does not exist; create it first")
    global DIRECTION_FREE
    DIRECTION_FREE = args.direction_free
    TREES.update(max_iter=args.max_iter, learning_rate=args.learning_rate)
    try:
        import sklearn
        from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: F401
        from sklearn.model_selection import GroupKFold
    except ImportError:
        raise SystemExit("scikit-learn is needed to train: .venv/bin/pip install -e '.[train]'") from None

    datasets = [read_dataset(folder) for folder in args.folders]
    if len({d.name for d in datasets}) < len(datasets):
        raise SystemExit("two dataset folders have the same name; the report tells datasets by folder name")
    names = {d.name for d in datasets}
    unknown = (set(args.dataset_weight) | set(args.negatives_only)) - names
    if unknown:
        raise SystemExit(f"--dataset-weight/--negatives-only: no dataset {', '.join(sorted(unknown))} "
                         f"(the datasets are the folders' names: {', '.join(sorted(names))})")
    dataset_weights = DatasetWeights(args.dataset_weight, tuple(args.negatives_only))
    runs = sisfall_fall_runs(args.labels) if args.labels else {}
    # every trial as recorded, then its augmented copies: (dataset index, job)
    jobs = []
    for k, d in enumerate(datasets):
        for path, fmt in d.files:
            run = runs.get(Path(path).stem)
            jobs.append((k, (path, fmt, run, d.gyro_range_dps, None)))
            jobs += [(k, (path, fmt, run, d.gyro_range_dps, a)) for a in augmentations(Path(path).stem, args.augment)]
    print(f"{sum(len(d.files) for d in datasets)} recordings in {len(datasets)} dataset(s) "
          f"({', '.join(f'{d.name}: {len(d.files)}, gyro ±{d.gyro_range_dps:g} °/s' for d in datasets)}), "
          f"{args.augment} augmented cop{'y' if args.augment == 1 else 'ies'} each; logging features through "
          "the pipeline ...", file=sys.stderr)
    with Pool(args.jobs) as pool:
        trials = pool.map(_features, [job for _, job in jobs], chunksize=8)
    for (k, _), tr in zip(jobs, trials):
        tr["dataset"] = k
        tr["dataset_name"] = datasets[k].name
        tr["subject"] = f"{datasets[k].name}/{subject_of(tr['name'])}"
    recorded = [i for i, tr in enumerate(trials) if not tr["augmented"]]     # the trials that are scored
    subjects = np.array([trials[i]["subject"] for i in recorded])
    shipped = DetectionSettings().balance
    threshold = (args.threshold if args.threshold is not None
                 else shipped.gravity_only_score_threshold if DIRECTION_FREE else shipped.score_threshold)

    keys = ("fall_sensitivity", "specificity", "walking_false_alarms_per_hour", "stumble_recall", "stumble_as_fall_rate", "pre_impact_share",
            "lead_time_median_s", "lead_time_p10_s")
    sweep = sorted(set(args.sweep + [threshold]))

    def score(model: TreeEnsemble, test: List[int], path: Path) -> Dict[float, Dict[int, list]]:
        """The trials ``test`` (indices into ``trials``) through the pipeline with ``model``, by threshold and
        dataset."""
        path.write_text(json.dumps(model.to_dict()))
        out: Dict[float, Dict[int, list]] = {th: {} for th in sweep}
        for k, d in enumerate(datasets):
            files = [(trials[i]["path"], trials[i]["format"]) for i in test if trials[i]["dataset"] == k]
            if files:
                for th in sweep:
                    out[th][k] = left_out_results(d, files, runs, str(path), th, args.jobs)
        return out

    cv_by_threshold: Dict[float, Dict[int, list]] = {th: {k: [] for k in range(len(datasets))} for th in sweep}
    lodo: Dict[int, Dict[float, list]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for fold, (_, test) in enumerate(GroupKFold(n_splits=args.folds).split(recorded, groups=subjects)):
            left_out = set(subjects[test])
            train = [i for i, tr in enumerate(trials) if tr["subject"] not in left_out]   # with their copies
            ensemble, _ = fit([trials[i] for i in train], args.window, args.positive_weight, args.weight,
                                  dataset_weights)
            print(f"fold {fold + 1}/{args.folds}: {len(ensemble)} trees, scoring {', '.join(sorted(left_out))} "
                  f"through the pipeline", file=sys.stderr)
            scored = score(ensemble, [recorded[j] for j in test], Path(tmp) / f"fold{fold}.json")
            for th, by_dataset in scored.items():
                for k, results in by_dataset.items():
                    cv_by_threshold[th][k] += results
        if len(datasets) > 1:
            for k, d in enumerate(datasets):
                train = [i for i, tr in enumerate(trials) if tr["dataset"] != k]
                ensemble, _ = fit([trials[i] for i in train], args.window, args.positive_weight, args.weight,
                                  dataset_weights)
                print(f"dataset {d.name} left out: {len(ensemble)} trees from the others, scoring it through the "
                      "pipeline", file=sys.stderr)
                scored = score(ensemble, [i for i in recorded if trials[i]["dataset"] == k],
                               Path(tmp) / f"without{k}.json")
                lodo[k] = {th: scored[th][k] for th in sweep}

    rows = []
    for th in sweep:
        for k, d in enumerate(datasets):
            rows.append((d.name, th, compute_metrics(cv_by_threshold[th][k])))
        if len(datasets) > 1:
            rows.append(("all", th, compute_metrics([r for k in cv_by_threshold[th] for r in cv_by_threshold[th][k]])))
    print_figures("subjects left out, whole pipeline:", rows, keys)
    if lodo:
        print_figures("datasets left out (trained on the others), whole pipeline:",
                      [(datasets[k].name, th, compute_metrics(lodo[k][th])) for th in sweep for k in lodo], keys)
    cv = compute_metrics([r for k in cv_by_threshold[threshold] for r in cv_by_threshold[threshold][k]])

    final, y = fit(trials, args.window, args.positive_weight, args.weight, dataset_weights)
    final.meta.update({
        "threshold_suggested": threshold,
        "trained": {"data": "development subjects as users have the files: "
                            + ", ".join(f"{d.name} ({len(d.files)} trials, gyro ±{d.gyro_range_dps:g} °/s)"
                                        for d in datasets),
                    "direction_free": DIRECTION_FREE,
                    "subjects": sorted(set(subjects.tolist())), "trials": len(recorded),
                    "augmented": {"copies_per_trial": args.augment, "rotation": "random, mounting turned with it",
                                  "rate_hz": list(RATES_HZ), "gyro_clip_dps": list(GYRO_CLIPS_DPS)},
                    "frames": {"falling": int(y.sum()), "not_falling": int(len(y) - y.sum())},
                    "window_s": args.window, "positive_weight": args.positive_weight, "weights": args.weight,
                    "dataset_weights": args.dataset_weight, "negatives_only": list(args.negatives_only),
                    "trees": TREES, "scikit_learn": sklearn.__version__, "frame_s": DetectionSettings().frame_s},
        "cross_validation": {"folds": args.folds, "by": "subject", "threshold": threshold,
                             **{k: cv[k] for k in keys},
                             "by_dataset": {d.name: {key: compute_metrics(cv_by_threshold[threshold][k])[key]
                                                     for key in keys} for k, d in enumerate(datasets)}},
    })
    if lodo:
        final.meta["leave_one_dataset_out"] = {
            "threshold": threshold,
            **{datasets[k].name: {key: compute_metrics(lodo[k][threshold])[key] for key in keys} for k in lodo}}
    args.output.write_text(json.dumps(final.to_dict(), separators=(",", ":")) + "\n")
    print(json.dumps({"trees": len(final), "cross_validation": final.meta["cross_validation"],
                      "leave_one_dataset_out": final.meta.get("leave_one_dataset_out")}, indent=1))
    print(f"wrote {args.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
