#!/usr/bin/env python3
"""Write the UMAFall development trials (../shared/data/umafall) as the project's CSV, for ``retrowalk evaluate``.

    .venv/bin/python scripts/export_umafall_csv.py /tmp/retrowalk-umafall
    .venv/bin/retrowalk evaluate /tmp/retrowalk-umafall --format csv --config /tmp/retrowalk-umafall/retrowalk.toml
    .venv/bin/retrowalk evaluate /tmp/retrowalk-umafall --format csv --config /tmp/retrowalk-umafall/retrowalk.toml --no-mounting

The recordings are other people's work: they are read from ../shared and written to a folder outside the
project, never copied in. Each file is named by what happened (``fall_backwardFall-S05-R1.csv``,
``walk_Jogging-S01-R1.csv``, ``other_Bending-S03-R2.csv``) and carries the waist tag's mounting
(+X up, +Y right, +Z forward: ``body_from_sensor = [[0,0,1],[0,-1,0],[1,0,0]]``) in its header, as a
calibrated device would; ``--no-mounting`` ignores it. The sample times are the tag's own (~20 Hz, jittery).
``retrowalk.toml`` beside them sets the tag's gyro range (±250 °/s: it clips in most falls). The gyro's x
and z axes are turned to agree with the accelerometer's (:data:`GYRO_SIGN`).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from firmware_py.evaluation.datasets import write_csv  # noqa: E402
from hal.types import SampleBlock  # noqa: E402

UMAFALL_BODY_FROM_SENSOR = np.array([[0.0, 0.0, 1.0], [0.0, -1.0, 0.0], [1.0, 0.0, 0.0]])
CONFIG = "[sensor]\ngyro_range_dps = 250\n"
#: the tag's gyroscope x and z axes point the other way from its accelerometer's: only with them turned does
#: the measured rate turn gravity the way the accelerometer sees it turn (d(a/|a|)/dt = -w x a/|a|): of the 8
#: sign patterns this one fits best on 116 of the 232 trials, the gyro as read on 8 (SisFall, checked the same
#: way, fits best as read). As read, a walker's turn tilted the trunk in the tilt filter.
GYRO_SIGN = np.array([-1.0, 1.0, -1.0])


def kind_word(activity: str, is_fall: bool) -> str:
    if is_fall:
        return "fall"
    return "walk" if activity in ("Walking", "Jogging") else "other"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dest", type=Path, help="folder to write (outside the project)")
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared", help="the shared folder (../shared)")
    args = parser.parse_args(argv)
    data = args.shared / "data"
    if not (data / "load.py").is_file():
        print(f"export_umafall_csv: {data}/load.py is not there; pass --shared DIR", file=sys.stderr)
        return 2
    sys.path.insert(0, str(data))
    import load  # the dataset's own loader (numpy only)

    args.dest.mkdir(parents=True, exist_ok=True)
    count = 0
    for trial in load.iter_trials("umafall"):
        t_s = np.asarray(trial.extra["t_s"], dtype=float).reshape(-1)
        keep = np.r_[True, np.diff(t_s) > 0]          # repeated BLE timestamps: keep time increasing
        name = f"{kind_word(trial.activity, trial.is_fall)}_{trial.trial_id}.csv"
        block = SampleBlock(t_s[keep] - t_s[0], np.asarray(trial.accel_g, float)[keep],
                            np.asarray(trial.gyro_dps, float)[keep] * GYRO_SIGN)
        write_csv(args.dest / name, [block], body_from_sensor=UMAFALL_BODY_FROM_SENSOR)
        count += 1
    (args.dest / "retrowalk.toml").write_text(CONFIG)
    print(f"wrote {count} UMAFall development trials under {args.dest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
