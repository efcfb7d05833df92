"""retrowalk replay — run the detectors on one recording, list the events, optionally plot why they fired."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

HELP = "run the detectors on one recording and print the events (--plot OUT.png to see why)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="a recording: .csv, or a SisFall Dnn_SAxx_Rnn.txt")
    parser.add_argument("--format", choices=("sisfall", "csv"), default=None,
                        help="file format (default: from the file name)")
    parser.add_argument("--plot", type=Path, metavar="OUT.png",
                        help="draw signals, tilt, steps and events on one time axis (needs matplotlib: "
                             "pip install 'retrowalk[plot]')")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="take the [detection] settings from this retrowalk.toml (default: built-in defaults)")


def _features(features: dict) -> str:
    parts = []
    for key, value in features.items():
        if isinstance(value, float):
            parts.append(f"{key}={value:.3g}")
        elif isinstance(value, (int, str, bool)):
            parts.append(f"{key}={value}")
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
    from ..datasets import load_recording
    from ..evaluate import replay

    settings = None
    if args.config is not None:
        from ..config import load_config
        from ..detectors.balance import load_model_for

        settings = load_config(args.config).detection
        load_model_for(settings.balance)      # a bad model file: one clear error, not one per trial
    if args.plot is not None:
        from ..plot import require_matplotlib

        require_matplotlib()  # fail before the run, not after it
    recording = load_recording(args.file, args.format)
    trace = replay(recording, settings, keep_state=args.plot is not None)
    label = " (synthetic)" if recording.synthetic else ""
    print(f"{recording.name}{label}: {recording.duration_s:.1f} s, class {recording.kind}, "
          f"activity {recording.activity}")
    if recording.impact_t_s is not None:
        print(f"  impact (peak |a|) at {recording.impact_t_s:8.3f} s")
    if not trace.events:
        print("  no events")
    for event in trace.events:
        print(f"  {event.t_detect_s:8.3f} s  {event.type:<16} onset {event.t_onset_s:8.3f} s  "
              f"{event.severity:<8} {_features(event.features)}")
    if args.plot is not None:
        from ..plot import plot_replay

        plot_replay(args.plot, recording, trace)
        print(f"plot written to {args.plot}", file=sys.stderr)
    return 0
