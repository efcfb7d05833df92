"""retrowalk evaluate — score the detectors on a folder of labelled recordings (SisFall or your own CSV)."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Optional

from . import add_recording_config_option

HELP = "run the detectors on every recording under PATH and print sensitivity, specificity, lead time"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", type=Path, metavar="PATH",
                        help="a recording or a folder of them (SisFall SAxx/Dnn_SAxx_Rnn.txt, or .csv)")
    parser.add_argument("--format", choices=("sisfall", "csv"), default=None,
                        help="file format (default: from the file names)")
    parser.add_argument("--json", action="store_true",
                        help="write the figures as one JSON object (to --output, else stdout)")
    parser.add_argument("--output", type=Path, metavar="FILE",
                        help="write the table (or with --json the JSON object) to FILE; the table still goes "
                             "to stdout")
    parser.add_argument("--jobs", type=int, default=None, metavar="N",
                        help="worker processes (default: one per core)")
    add_recording_config_option(parser)
    parser.add_argument("--labels", type=Path, metavar="DIR",
                        help="folder of SisFall per-subject .npz files with the SisFall_enhanced labels, to place "
                             "each impact inside its FALL label run (default: ../shared/data/sisfall when present, "
                             "else the peak |a| of each fall trial)")
    parser.add_argument("--no-labels", action="store_true",
                        help="ignore the SisFall_enhanced labels even when present")
    parser.add_argument("--activity", nargs="+", metavar="CODE",
                        help="only these activities: SisFall codes (F02 D18 ...) or CSV name words (fall walk ...)")
    parser.add_argument("--trials", type=Path, metavar="FILE",
                        help="also write every trial's events and timings as JSON lines to FILE")
    group = parser.add_argument_group("transforms", "check the figures as a stranger's device would see the "
                                      "recordings (docs/evaluation.md)")
    group.add_argument("--no-mounting", action="store_true",
                       help="ignore each file's mounting: an uncalibrated wearer (the pipeline learns it)")
    group.add_argument("--rotate", metavar="random|MATRIX",
                       help="turn the sensor on the body: 'random' (one rotation per trial, seeded by its name) "
                            "or a 3x3 rotation as JSON, e.g. '[[0,0,1],[0,1,0],[-1,0,0]]'")
    group.add_argument("--resample", type=float, metavar="HZ", help="resample every recording to HZ")
    group.add_argument("--time-reverse", action="store_true",
                       help="play every recording backwards in time (reversed walks stand in for backward walks)")
    group.add_argument("--seed", type=int, default=0, help="seed of --rotate random (default 0)")


def _find_labels(args: argparse.Namespace) -> Optional[Path]:
    if args.no_labels or args.format == "csv":
        return None
    if args.labels is not None:
        return args.labels
    candidates = []
    if os.environ.get("RETROWALK_SHARED"):
        candidates.append(Path(os.environ["RETROWALK_SHARED"]) / "data" / "sisfall")
    candidates.append(Path.cwd().parent / "shared" / "data" / "sisfall")
    candidates.append(Path(__file__).resolve().parents[2].parent / "shared" / "data" / "sisfall")
    for folder in candidates:
        if any(folder.glob("S*.npz")):
            return folder
    return None


class _Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal (quiet in CI logs and pipes)."""

    def __init__(self, stream=None) -> None:
        self.stream = stream if stream is not None else sys.stderr    # the current one, not the one at import
        self.enabled = self.stream.isatty()
        self.start = time.monotonic()

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * done / total) if total else width
        elapsed = time.monotonic() - self.start
        eta = f", {elapsed / done * (total - done):.0f} s left" if done else ""
        self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} trials{eta}   ")
        if done == total:
            self.stream.write("\n")
        self.stream.flush()


def run(args: argparse.Namespace) -> int:
    from ..evaluation.sisfall import sisfall_fall_runs
    from ..evaluation.evaluate import evaluate_files, settings_from_config
    from ..evaluation.metrics import compute_metrics, format_table, iter_results
    from ..evaluation.transforms import Transform, parse_rotation

    if args.jobs is not None and args.jobs < 1:
        print(f"retrowalk evaluate: --jobs {args.jobs} is not allowed; use 1 or more", file=sys.stderr)
        return 2
    try:
        transform = Transform(no_mounting=args.no_mounting, rotate=args.rotate is not None,
                              rotation=None if args.rotate is None else parse_rotation(args.rotate),
                              resample_hz=args.resample, time_reverse=args.time_reverse, seed=args.seed)
    except ValueError as exc:
        print(f"retrowalk evaluate: {exc}", file=sys.stderr)
        return 2
    settings = make_pipeline = None
    if args.config is not None:
        settings, make_pipeline = settings_from_config(args.config)
    labels = _find_labels(args)
    fall_runs = sisfall_fall_runs(labels) if labels is not None else {}
    results = evaluate_files(args.path, args.format, settings=settings, jobs=args.jobs, fall_runs=fall_runs,
                             progress=_Progress(), make_pipeline=make_pipeline, activities=args.activity,
                             transform=transform)
    metrics = compute_metrics(results, walked="backward" if args.time_reverse else "forward")
    metrics["impact_reference"] = (f"peak |a| inside the SisFall_enhanced FALL label run ({labels})" if fall_runs
                                   else "peak |a| of each fall trial (or impact_t_s in a CSV header)")
    metrics["transform"] = transform.describe()
    table = format_table(metrics) + f"\nimpact: {metrics['impact_reference']}\nrecordings: {metrics['transform']}"
    # stdout carries one thing: the JSON object when asked for it with no file, else the table
    json_to_stdout = args.json and args.output is None
    print(table, file=sys.stderr if json_to_stdout else sys.stdout)
    if args.json:
        text = json.dumps(metrics, indent=2)
        if json_to_stdout:
            print(text)
        else:
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(text + "\n")
    elif args.output is not None:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(table + "\n")
    if args.trials is not None:
        with args.trials.open("w") as out:
            for row in iter_results(results):
                out.write(json.dumps(row) + "\n")
    if metrics["failed"]:
        print(f"retrowalk evaluate: {len(metrics['failed'])} trial(s) could not be read or crashed the pipeline "
              "(listed above)", file=sys.stderr)
        return 1
    return 0
