"""The project's CSV of samples: its columns, reading it in chunks, and the checks every sample must pass
(times that increase without absurd gaps, values a sensor on a person can give) before the pipeline sees it."""
from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import numpy as np

from ..errors import DataFormatError

CSV_COLUMNS = ("t_s", "ax_g", "ay_g", "az_g", "gx_dps", "gy_dps", "gz_dps")
_CSV_HEADER = ",".join(CSV_COLUMNS)

#: lines parsed per chunk: a large CSV is read in pieces, so memory holds the samples, not the text
CHUNK_LINES = 65536
#: sample times must stay below this (float64 keeps microseconds up to ~1e10 s) ...
MAX_ABS_T_S = 1e9
#: ... and advance by at most this between samples (a recording is one session: split it at a longer gap)
MAX_GAP_S = 3600.0
#: largest |value| per axis: beyond any sensor on a person (the MPU-6050 measures at most 16 g, 2000 °/s)
MAX_ABS_ACCEL_G = 64.0
MAX_ABS_GYRO_DPS = 5000.0


def count_lines(f: Any) -> int:
    """Lines from the current position of binary file ``f`` to its end (counted in 1 MiB blocks)."""
    count = 0
    for block in iter(lambda: f.read(1 << 20), b""):
        count += block.count(b"\n")
    return count


def parse_chunk(path: Path, lines: List[bytes], first_number: int) -> np.ndarray:
    """Parse ``lines`` (numbered from ``first_number``) into an (n, 7) array; DataFormatError names the line."""
    text = [line.decode("utf-8", errors="replace") for line in lines]
    try:
        values = np.loadtxt(text, delimiter=",", dtype=float, ndmin=2, comments="#")
    except ValueError:
        values = None
    if values is not None and (values.size == 0 or values.shape[1] == len(CSV_COLUMNS)):
        return values.reshape(-1, len(CSV_COLUMNS))
    for number, line in enumerate(text, start=first_number):
        fields = line.split("#")[0].strip()
        if not fields:
            continue
        parts = fields.split(",")
        try:
            ok = len(parts) == len(CSV_COLUMNS) and all(np.isfinite(float(p)) for p in parts)
        except ValueError:
            ok = False
        if not ok:
            raise DataFormatError(f"{path}, line {number}: expected seven numbers ({_CSV_HEADER}), "
                                  f"got {line.strip()[:80]!r}")
    raise DataFormatError(f"{path}: could not read the samples; expected seven numbers per line")


def check_samples(path: Path, values: np.ndarray, before: int = 0, prev_t_s: Optional[float] = None) -> None:
    """Refuse what the pipeline cannot take, naming the sample: non-finite values, times that do not
    increase, jump by more than MAX_GAP_S or are beyond MAX_ABS_T_S, values beyond any sensor.

    ``before``: samples already checked (a chunked read: numbering continues); ``prev_t_s``: the last one's time.
    """
    first = before + 1  # the number of values[0]
    if not np.all(np.isfinite(values)):
        row = int(np.flatnonzero(~np.all(np.isfinite(values), axis=1))[0])
        raise DataFormatError(f"{path}: sample {first + row} holds a value that is not a finite number")
    t_s = values[:, 0]
    far = np.flatnonzero(np.abs(t_s) > MAX_ABS_T_S)
    if far.size:
        raise DataFormatError(f"{path}: sample {first + int(far[0])} has t_s = {t_s[far[0]]:g} s; times must be "
                              f"within ±{MAX_ABS_T_S:g} s (seconds since the recording started)")
    times = t_s if prev_t_s is None else np.r_[prev_t_s, t_s]
    later = first + 1 if prev_t_s is None else first  # the number of the later sample of step[0]
    step = np.diff(times)
    backwards = np.flatnonzero(step < 0)
    if backwards.size:
        i = int(backwards[0])
        raise DataFormatError(f"{path}: t_s goes backwards at sample {later + i} ({times[i]:.6f} s then "
                              f"{times[i + 1]:.6f} s); timestamps must not decrease")
    repeated = np.flatnonzero(step == 0)
    if repeated.size:
        i = int(repeated[0])
        raise DataFormatError(f"{path}: t_s repeats at sample {later + i} ({times[i]:.6f} s twice); each sample "
                              f"needs its own, later time")
    gaps = np.flatnonzero(step > MAX_GAP_S)
    if gaps.size:
        i = int(gaps[0])
        raise DataFormatError(f"{path}: t_s jumps by {step[i]:g} s at sample {later + i}; at most {MAX_GAP_S:g} s "
                              f"between samples (split the recording at the gap)")
    for columns, bound, unit in (((1, 4), MAX_ABS_ACCEL_G, "g"), ((4, 7), MAX_ABS_GYRO_DPS, "°/s")):
        beyond = np.flatnonzero(np.any(np.abs(values[:, columns[0]:columns[1]]) > bound, axis=1))
        if beyond.size:
            row = int(beyond[0])
            raise DataFormatError(f"{path}: sample {first + row} holds "
                                  f"{values[row, columns[0]:columns[1]].tolist()} {unit}; each axis must be within "
                                  f"±{bound:g} {unit} (the MPU-6050 measures at most 16 g and 2000 °/s)")
