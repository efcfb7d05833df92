"""The SisFall dataset's text files, read as distributed.

SisFall (Sucerquia et al., Sensors 17(1):198, 2017): ``SAxx/Dnn_SAxx_Rnn.txt``, one line per 200 Hz
sample of nine right-aligned integer raw counts separated by ``,`` and ending in ``;`` and CRLF:
ADXL345 x, y, z (13 bit, ±16 g), ITG3200 x, y, z (16 bit, ±2000 °/s), MMA8451Q x, y, z (unused here).
The dataset Readme's conversion is ``value = (2 * range / 2**resolution) * counts``.

The impact of a SisFall fall is the peak of |a| inside the SisFall_enhanced FALL label run. Those labels
are not part of the text files; without them (the normal case for a user) the impact is the peak of |a|
over the whole fall trial, which is the same sample in most trials (the FALL run brackets the impact).
:func:`sisfall_fall_runs` reads the label runs from the development copy in ``../shared/data`` when
it is there.
"""
from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Dict, Optional, Tuple, Union

import numpy as np

from .recording import Recording, peak_index
from ..errors import DataFormatError

__all__ = ["load_sisfall_file", "sisfall_kind", "sisfall_fall_runs", "is_sisfall_name", "SISFALL_BODY_FROM_SENSOR",
           "SISFALL_RATE_HZ"]

SISFALL_RATE_HZ = 200.0
#: ADXL345, 13 bit over ±16 g: 32 / 2**13 g per count (= 1/256)
SISFALL_ACCEL_G_PER_COUNT = 2 * 16 / 2 ** 13
#: ITG3200, 16 bit over ±2000 °/s: 4000 / 2**16 °/s per count (the Readme's formula; it fits the data
#: within a few per cent, the ITG3200 datasheet's 1/14.375 does not, see ../shared/data/sisfall/README.md)
SISFALL_GYRO_DPS_PER_COUNT = 2 * 2000 / 2 ** 16
#: SisFall device on the belt: +X right, +Y down, +Z forward. Body frame: x anterior, y left, z up.
SISFALL_BODY_FROM_SENSOR = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])

_SISFALL_NAME = re.compile(r"^([DF]\d\d)_(S[AE]\d\d)_(R\d\d)$")
_SISFALL_LINE = re.compile(rb"^\s*-?\d+(\s*,\s*-?\d+){8}\s*;?\s*$")


def is_sisfall_name(stem: str) -> bool:
    """Whether a file name (without its suffix) is a SisFall trial's, e.g. ``D01_SA01_R01``."""
    return _SISFALL_NAME.match(stem) is not None


def sisfall_kind(activity: str) -> str:
    """``F..`` fall, ``D18`` stumble, ``D01``–``D04`` (walking and jogging) walk, anything else other."""
    if activity.startswith("F"):
        return "fall"
    if activity == "D18":
        return "stumble"
    if activity in ("D01", "D02", "D03", "D04"):
        return "walk"
    return "other"


def _first_bad_sisfall_line(data: bytes) -> Tuple[int, bytes]:
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.strip() and not _SISFALL_LINE.match(line):
            return number, line.strip()
    return 0, b""


def load_sisfall_file(path: Union[str, Path], fall_run: Optional[Tuple[int, int]] = None) -> Recording:
    """Read one SisFall trial file as distributed (``SAxx/Dnn_SAxx_Rnn.txt``).

    Parameters
    ----------
    path : str or Path
        The text file. Its name gives the activity code, subject and repetition.
    fall_run : (start, end_exclusive) or None
        The SisFall_enhanced FALL label run of this trial, if known; the impact is the peak of |a|
        inside it. Without it the impact of a fall trial is the peak of |a| over the whole trial.

    Raises
    ------
    DataFormatError
        The name is not ``Dnn_SAxx_Rnn.txt`` or a line is not nine integers ending in ``;``;
        the message names the file and line.
    """
    path = Path(path)
    match = _SISFALL_NAME.match(path.stem)
    if not match:
        raise DataFormatError(f"{path}: not a SisFall trial name; expected e.g. D01_SA01_R01.txt "
                              "(activity code, subject, repetition)")
    activity = match.group(1)
    data = path.read_bytes()
    try:
        # one C-level parse of the whole file: ~7 ms for a 100 s trial (np.array over split() is 4x slower)
        raw = np.loadtxt(io.BytesIO(data.replace(b";", b"")), delimiter=",", dtype=np.int32, ndmin=2)
    except ValueError:
        raw = None
    if raw is None or raw.shape[1:] != (9,) or len(raw) == 0:
        number, line = _first_bad_sisfall_line(data)
        if number:
            raise DataFormatError(f"{path}, line {number}: expected nine integer raw counts separated by ',' "
                                  f"and ending in ';', got {line[:80]!r}")
        raise DataFormatError(f"{path}: no samples; expected lines of nine integer raw counts ending in ';'")
    accel_g = raw[:, 0:3] * SISFALL_ACCEL_G_PER_COUNT
    gyro_dps = raw[:, 3:6] * SISFALL_GYRO_DPS_PER_COUNT
    kind = sisfall_kind(activity)
    impact = None
    if kind == "fall":
        impact = peak_index(accel_g, *fall_run) if fall_run else peak_index(accel_g)
    return Recording(
        name=path.stem, t_s=np.arange(len(raw)) / SISFALL_RATE_HZ, accel_g=accel_g, gyro_dps=gyro_dps,
        body_from_sensor=SISFALL_BODY_FROM_SENSOR.copy(), kind=kind, activity=activity,
        impact_index=impact, source_path=str(path), synthetic=False,
    )


def sisfall_fall_runs(npz_folder: Union[str, Path]) -> Dict[str, Tuple[int, int]]:
    """The SisFall_enhanced FALL label run ``(start, end_exclusive)`` per trial name, from the per-subject
    ``.npz`` files of ``../shared/data/sisfall`` (only their small ``__meta__`` entry is read).

    Returns an empty dict when the folder is absent: labels are an optional refinement of the impact.
    """
    runs: Dict[str, Tuple[int, int]] = {}
    folder = Path(npz_folder)
    if not folder.is_dir():
        return runs
    for npz_path in sorted(folder.glob("S*.npz")):
        with np.load(npz_path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["__meta__"]))
        segments = (meta.get("temporal_labels") or {}).get("segments") or {}
        for trial, segs in segments.items():
            fall = [(int(s), int(e)) for cls, s, e in segs if int(cls) == 2]
            if fall:
                runs[trial] = fall[0]
    return runs
