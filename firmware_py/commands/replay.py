"""retrowalk replay — run the detectors on one recording, list the events, optionally plot why they fired."""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, List, Optional, Tuple

from . import add_recording_config_option

HELP = "run the detectors on one recording and print the events (--plot OUT.png to see why)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="a recording: .csv, or a SisFall Dnn_SAxx_Rnn.txt")
    parser.add_argument("--format", choices=("sisfall", "csv"), default=None,
                        help="file format (default: from the file name)")
    parser.add_argument("--plot", type=Path, metavar="OUT.png",
                        help="draw signals, tilt, steps and events on one time axis (needs matplotlib: "
                             "pip install 'retrowalk[plot]')")
    add_recording_config_option(parser)


def _features(features: dict) -> str:
    parts = []
    for key, value in features.items():
        if isinstance(value, float):
            parts.append(f"{key}={value:.3g}")
        elif isinstance(value, (int, str, bool)):
            parts.append(f"{key}={value}")
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    from ..evaluation.datasets import load_recording
    from ..evaluation.evaluate import settings_from_config
    from ..evaluation.replay import replay

    settings = make_pipeline = None
    if args.config is not None:
        settings, make_pipeline = settings_from_config(args.config)
    if args.plot is not None:
        from ..evaluation.plot import require_matplotlib

        require_matplotlib()  # fail before the run, not after it
    fmt = args.format or ("csv" if args.file.suffix.lower() == ".csv" else None)
    if fmt == "csv" and args.plot is None:
        # no plot: read and detect chunk by chunk, so an hours-long CSV needs the memory of one chunk
        recording, events = _replay_csv_streaming(args.file, settings, make_pipeline)
    else:
        recording = load_recording(args.file, args.format)
        events = list(replay(recording, settings, make_pipeline=make_pipeline,
                             keep_state=args.plot is not None).events)
    label = " (synthetic)" if recording.synthetic else ""
    print(f"{recording.name}{label}: {recording.duration_s:.1f} s, class {recording.kind}, "
          f"activity {recording.activity}")
    if recording.impact_t_s is not None:
        print(f"  impact (peak |a|) at {recording.impact_t_s:8.3f} s")
    if not events:
        print("  no events")
    for event in events:
        print(f"  {event.t_detect_s:8.3f} s  {event.type:<16} onset {event.t_onset_s:8.3f} s  "
              f"{event.severity:<8} {_features(event.features)}")
    if args.plot is not None:
        from ..evaluation.plot import plot_replay

        plot_replay(args.plot, recording, replay(recording, settings, make_pipeline=make_pipeline))
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0


@dataclass(frozen=True)
class _Described:
    """What the header line says of a recording read as a stream (a ``Recording`` has the same fields)."""

    name: str
    synthetic: bool
    duration_s: float
    kind: str
    activity: str
    impact_t_s: Optional[float]


def _replay_csv_streaming(path: Path, settings: Any,
                          make_pipeline: Any = None) -> Tuple[_Described, List[Any]]:
    """The events of a CSV recording read chunk by chunk through the pipeline (the same events as read
    whole: the pipeline's events do not depend on block sizes), and what the header line says of it."""
    import numpy as np

    from hal.types import SampleBlock
    from ..evaluation.datasets import activity_from_name, kind_from_name, open_csv
    from ..evaluation.evaluate import default_pipeline
    from ..evaluation.recording import Recording

    stream = open_csv(path)
    kind = kind_from_name(path.name)
    mounting_only = Recording(name=path.stem, t_s=np.zeros(0), accel_g=np.zeros((0, 3)), gyro_dps=np.zeros((0, 3)),
                              body_from_sensor=stream.body_from_sensor, kind=kind, activity="", impact_index=None)
    pipeline = (make_pipeline or default_pipeline)(mounting_only, settings)
    events: List[Any] = []
    first_t = last_t = impact_t = None
    impact_score = -np.inf
    marked = stream.meta.get("impact_t_s")
    for chunk in stream.chunks():
        t_s, accel_g = chunk[:, 0], chunk[:, 1:4]
        first_t = float(t_s[0]) if first_t is None else first_t
        last_t = float(t_s[-1])
        if kind == "fall":  # the impact: the sample nearest the marked time, else the peak of |a|
            score = (-np.abs(t_s - float(marked)) if marked is not None  # type: ignore[arg-type]
                     else np.einsum("ij,ij->i", accel_g, accel_g))
            i = int(np.argmax(score))
            if score[i] > impact_score:
                impact_score, impact_t = float(score[i]), float(t_s[i])
        events += pipeline.process(SampleBlock(t_s, accel_g, chunk[:, 4:7]))
    events += pipeline.finish()
    return _Described(path.stem, stream.is_synthetic, (last_t or 0.0) - (first_t or 0.0), kind,
                      activity_from_name(path, "csv"), impact_t), events
