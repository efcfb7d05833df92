"""Recordings from disk: the SisFall text files as distributed, and the project's own CSV.

Both loaders return a :class:`Recording` in the *sensor's* axes together with the mounting
(``body_from_sensor``) when it is known, so the pipeline sees a recording exactly as it would see the
chip on the body. The class of a trial (``fall``, ``stumble``, ``walk`` or ``other``) comes from the
SisFall activity code, or from the CSV file name, so a user labels their own trials by naming them.

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
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Tuple, Union

import numpy as np

from hal.types import SampleBlock

from . import csv_samples
# the CSV's columns and the checks on its samples live in csv_samples (CSV_COLUMNS re-exported here)
from .csv_samples import _CSV_HEADER, CSV_COLUMNS, check_samples, count_lines, parse_chunk
from ..errors import DataFormatError

log = logging.getLogger(__name__)

__all__ = [
    "Recording", "load_sisfall_file", "load_csv", "load_recording", "find_recordings", "iter_recordings",
    "write_csv", "kind_from_name", "activity_from_name", "sisfall_kind", "sisfall_fall_runs", "SISFALL_BODY_FROM_SENSOR",
    "CSV_COLUMNS", "KINDS", "FORMATS",
]

KINDS = ("fall", "stumble", "walk", "other")
FORMATS = ("sisfall", "csv")

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



@dataclass(frozen=True, eq=False)
class Recording:
    """One trial: samples in the sensor's axes, what kind of trial it is, and where it came from.

    Attributes
    ----------
    name : str
        Trial name, e.g. ``F02_SA01_R01`` or the CSV file's stem.
    t_s : ndarray, shape (n,)
        Seconds since the start of the recording.
    accel_g, gyro_dps : ndarray, shape (n, 3)
        Acceleration in g (gravity included) and angular rate in °/s, in the sensor's axes.
    body_from_sensor : ndarray, shape (3, 3), or None
        Rotation taking sensor-axis vectors to the body frame (x anterior, y left, z up);
        None when unknown (the pipeline then learns it while the wearer stands).
    kind : str
        ``fall``, ``stumble``, ``walk`` or ``other``.
    activity : str
        SisFall activity code (``F02``), or for CSV the leading word of the file name (``fall``).
    impact_index : int or None
        Sample of the impact in a fall trial (peak |a|), None for other trials.
    source_path : str
        File it was read from ("" for data made in memory).
    synthetic : bool
        True for generated traces (``firmware_py.evaluation.scenarios``), never for recordings of people.
    """

    name: str
    t_s: np.ndarray
    accel_g: np.ndarray
    gyro_dps: np.ndarray
    body_from_sensor: Optional[np.ndarray]
    kind: str
    activity: str
    impact_index: Optional[int]
    source_path: str = ""
    synthetic: bool = False

    def __post_init__(self) -> None:
        n = len(self.t_s)
        if self.accel_g.shape != (n, 3) or self.gyro_dps.shape != (n, 3):
            raise ValueError(f"recording {self.name}: t_s has {n} samples but accel_g is {self.accel_g.shape} "
                             f"and gyro_dps {self.gyro_dps.shape}; both must be ({n}, 3)")
        if self.kind not in KINDS:
            raise ValueError(f"recording {self.name}: kind = {self.kind!r} is not allowed; use one of "
                             f"{', '.join(KINDS)}")

    def __len__(self) -> int:
        return len(self.t_s)

    @property
    def duration_s(self) -> float:
        return float(self.t_s[-1] - self.t_s[0]) if len(self.t_s) > 1 else 0.0

    @property
    def impact_t_s(self) -> Optional[float]:
        return None if self.impact_index is None else float(self.t_s[self.impact_index])

    def blocks(self, block_s: float = 0.1) -> Iterator[SampleBlock]:
        """The recording as consecutive ``SampleBlock``s of about ``block_s`` seconds, as the daemon reads them."""
        if block_s <= 0:
            raise ValueError(f"block_s = {block_s} is not allowed; use a positive number of seconds")
        n = len(self.t_s)
        if n == 0:
            return
        # block edges by time, so a jittering or irregular rate still gives ~block_s per block
        count = int(np.ceil((self.t_s[-1] - self.t_s[0]) / block_s)) + 1
        # a microsecond of slack so float rounding of k * block_s does not move a sample across an edge
        edges = np.searchsorted(self.t_s, self.t_s[0] + np.arange(1, count + 1) * block_s - 1e-6, side="left")
        edges = np.unique(np.r_[edges, n])
        start = 0
        for stop in edges:
            if stop > start:
                yield SampleBlock(self.t_s[start:stop], self.accel_g[start:stop], self.gyro_dps[start:stop])
                start = int(stop)


def sisfall_kind(activity: str) -> str:
    """``F..`` fall, ``D18`` stumble, ``D01``–``D04`` (walking and jogging) walk, anything else other."""
    if activity.startswith("F"):
        return "fall"
    if activity == "D18":
        return "stumble"
    if activity in ("D01", "D02", "D03", "D04"):
        return "walk"
    return "other"


def kind_from_name(name: str) -> str:
    """A CSV recording's class from its file name: ``fall…``, ``stumble…``, ``walk…``, else ``other``."""
    stem = Path(name).name.lower()
    for kind in ("fall", "stumble", "walk"):
        if stem.startswith(kind):
            return kind
    return "other"


def _peak_index(accel_g: np.ndarray, start: int = 0, stop: Optional[int] = None) -> int:
    seg = accel_g[start:stop]
    return start + int(np.argmax(np.einsum("ij,ij->i", seg, seg)))


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
        impact = _peak_index(accel_g, *fall_run) if fall_run else _peak_index(accel_g)
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


def _parse_csv_comment(path: Path, number: int, text: str) -> Tuple[str, object]:
    key, _, value = text.partition("=")
    key = key.strip()
    if key == "body_from_sensor":
        try:
            matrix = np.array(json.loads(value), dtype=float)
        except ValueError:
            matrix = None
        if matrix is None or matrix.shape != (3, 3):
            raise DataFormatError(f"{path}, line {number}: body_from_sensor must be a 3x3 matrix like "
                                  f"[[0,0,1],[-1,0,0],[0,-1,0]], got {value.strip()[:80]!r}")
        if not np.allclose(matrix @ matrix.T, np.eye(3), atol=1e-3) or abs(np.linalg.det(matrix) - 1) > 1e-3:
            raise DataFormatError(f"{path}, line {number}: body_from_sensor {matrix.tolist()} is not a rotation; "
                                  "use an orthonormal matrix with determinant +1")
        return key, matrix
    if key == "impact_t_s":
        try:
            return key, float(value)
        except ValueError:
            raise DataFormatError(f"{path}, line {number}: impact_t_s must be a number of seconds, "
                                  f"got {value.strip()[:40]!r}") from None
    return key, value.strip()


class CsvStream:
    """An open CSV recording read chunk by chunk (``open_csv``): its ``# key=value`` metadata at once, its
    samples as checked (n, 7) arrays from ``chunks()``, so a recording of hours needs the memory of one chunk."""

    def __init__(self, path: Path, meta: Dict[str, object], body_start: int, first_line: int) -> None:
        self.path, self.meta = path, meta
        self._body_start, self._first_line = body_start, first_line

    @property
    def body_from_sensor(self) -> Optional[np.ndarray]:
        return self.meta.get("body_from_sensor")  # type: ignore[return-value]

    @property
    def is_synthetic(self) -> bool:
        return "synthetic" in self.path.stem.lower() or str(self.meta.get("synthetic", "")).lower() == "true"

    def count_lines(self) -> int:
        """Lines after the header (an upper bound on the samples), from a fast pass over the bytes."""
        with open(self.path, "rb") as f:
            f.seek(self._body_start)
            return count_lines(f) + 1

    def chunks(self) -> Iterator[np.ndarray]:
        """The samples, ``csv_samples.CHUNK_LINES`` lines at a time, each chunk checked (``check_samples``),
        times continuing across chunks. DataFormatError names the line or sample; none at all is an error."""
        before, prev_t = 0, None
        number = self._first_line
        try:
            with open(self.path, "rb") as f:
                f.seek(self._body_start)
                while True:
                    lines = [line for _, line in zip(range(csv_samples.CHUNK_LINES), f)]
                    if not lines:
                        break
                    chunk = parse_chunk(self.path, lines, number)
                    number += len(lines)
                    if not len(chunk):
                        continue
                    check_samples(self.path, chunk, before, prev_t)
                    before, prev_t = before + len(chunk), float(chunk[-1, 0])
                    yield chunk
        except OSError as exc:
            raise DataFormatError(f"{self.path}: cannot be read ({exc.strerror or exc})") from None
        if before == 0:
            raise DataFormatError(f"{self.path}: header but no samples")


def open_csv(path: Union[str, Path]) -> CsvStream:
    """Read a CSV recording's metadata and header; its samples come from ``CsvStream.chunks()``.

    Raises DataFormatError for a missing or wrong header or a bad ``# key=value`` line (see ``load_csv``)."""
    path = Path(path)
    meta: Dict[str, object] = {}
    header_line, header = 0, ""
    try:
        with open(path, "rb") as f:
            for number, raw in enumerate(f, start=1):
                stripped = raw.decode("utf-8", errors="replace").strip()
                if not stripped:
                    continue
                if stripped.startswith("#"):
                    key, value = _parse_csv_comment(path, number, stripped[1:])
                    meta[key] = value
                    continue
                header_line, header = number, stripped
                break
            body_start = f.tell()
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not header_line or header.replace(" ", "") != _CSV_HEADER:
        raise DataFormatError(f"{path}, line {header_line or 1}: expected the header {_CSV_HEADER!r}, "
                              f"got {header[:80] if header_line else 'nothing'!r}")
    return CsvStream(path, meta, body_start, header_line + 1)


def load_csv(path: Union[str, Path]) -> Recording:
    """Read the project's CSV (what ``retrowalk record`` writes) into one ``Recording``.

    Format: optional ``# key=value`` comment lines (``body_from_sensor=[[..],[..],[..]]`` for the mounting,
    ``impact_t_s=`` to mark the impact of a fall, ``synthetic=true`` for generated data), then the header
    ``t_s,ax_g,ay_g,az_g,gx_dps,gy_dps,gz_dps`` and one line per sample, at any rate; timestamps may
    jitter but must increase. The class comes from the file name (``fall…``, ``stumble…``, ``walk…``, else
    other). Read in chunks into one array sized by counting lines first: memory holds the samples, not the
    text (``open_csv`` reads without holding them at all).

    Raises
    ------
    DataFormatError
        Missing header, a line without seven numbers, time not increasing, jumping by more than an hour or
        beyond 1e9 s, values beyond any sensor; names file and line or sample.
    """
    stream = open_csv(path)
    path = stream.path
    meta = stream.meta
    values = np.empty((stream.count_lines(), len(CSV_COLUMNS)))
    filled = 0
    for chunk in stream.chunks():
        values[filled:filled + len(chunk)] = chunk
        filled += len(chunk)
    values = values[:filled]
    t_s = values[:, 0]
    accel_g = values[:, 1:4]
    kind = kind_from_name(path.name)
    impact = None
    if kind == "fall":
        if "impact_t_s" in meta:
            impact = int(np.argmin(np.abs(t_s - float(meta["impact_t_s"]))))  # type: ignore[arg-type]
        else:
            impact = _peak_index(accel_g)
    return Recording(
        name=path.stem, t_s=t_s, accel_g=accel_g, gyro_dps=values[:, 4:7],
        body_from_sensor=meta.get("body_from_sensor"),  # type: ignore[arg-type]
        kind=kind, activity=activity_from_name(path, "csv"), impact_index=impact,
        source_path=str(path), synthetic=stream.is_synthetic,
    )


def write_csv(path: Union[str, Path], blocks: Iterable[SampleBlock],
              body_from_sensor: Optional[np.ndarray] = None, impact_t_s: Optional[float] = None,
              synthetic: bool = False) -> int:
    """Write blocks of samples as the project's CSV, streaming (a recording may run for hours).

    ``synthetic=True`` (data from the emulated chip or a scenario) writes a ``# synthetic=true`` line, so
    the file is never mistaken for a recording of a person. Returns the number of samples written. The file is flushed after every block, so a recording cut
    short by a power loss keeps what was read up to then.
    """
    path = Path(path)
    written = 0
    with path.open("w", newline="\n") as out:
        if synthetic:
            out.write("# synthetic=true\n")
        if body_from_sensor is not None:
            matrix = np.asarray(body_from_sensor, dtype=float).round(6).tolist()
            out.write(f"# body_from_sensor={json.dumps(matrix)}\n")
        if impact_t_s is not None:
            out.write(f"# impact_t_s={impact_t_s:.6f}\n")
        out.write(_CSV_HEADER + "\n")
        for block in blocks:
            if len(block) == 0:
                continue
            table = np.column_stack([block.t_s, block.accel_g, block.gyro_dps])
            buf = io.StringIO()
            np.savetxt(buf, table, fmt=["%.6f"] + ["%.5f"] * 3 + ["%.4f"] * 3, delimiter=",")
            out.write(buf.getvalue())
            out.flush()
            written += len(block)
    return written


def activity_from_name(path: Union[str, Path], fmt: str) -> str:
    """The activity a file name gives: the SisFall code (``F02``) or the CSV name's first word (``fall``)."""
    stem = Path(path).stem
    if fmt == "sisfall":
        return stem.split("_")[0]
    word = re.match(r"[a-z]+", stem.lower())
    return word.group(0) if word else kind_from_name(stem)


def _detect_format(path: Path) -> str:
    if path.suffix.lower() == ".csv":
        return "csv"
    if path.suffix.lower() == ".txt" and _SISFALL_NAME.match(path.stem):
        return "sisfall"
    raise DataFormatError(f"{path}: cannot tell the format; name a .csv file, a SisFall Dnn_SAxx_Rnn.txt "
                          "file, or pass --format sisfall|csv")


def find_recordings(path: Union[str, Path], fmt: Optional[str] = None) -> List[Tuple[Path, str]]:
    """Every recording file under ``path`` (a file or a folder, searched recursively), sorted, with its format.

    With ``fmt`` None a folder yields both ``.csv`` files and SisFall-named ``.txt`` files; other files are
    ignored (SisFall's ``Readme.txt`` sits beside the trials).
    """
    path = Path(path)
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"format = {fmt!r} is not allowed; use one of {', '.join(FORMATS)}")
    if not path.exists():
        raise DataFormatError(f"{path}: no such file or folder")
    if path.is_file():
        return [(path, fmt or _detect_format(path))]
    found: List[Tuple[Path, str]] = []
    for file in sorted(p for p in path.rglob("*") if p.is_file()):
        if file.suffix.lower() == ".csv" and fmt in (None, "csv"):
            found.append((file, "csv"))
        elif file.suffix.lower() == ".txt" and _SISFALL_NAME.match(file.stem) and fmt in (None, "sisfall"):
            found.append((file, "sisfall"))
    return found


def load_recording(path: Union[str, Path], fmt: Optional[str] = None,
                   fall_runs: Optional[Dict[str, Tuple[int, int]]] = None) -> Recording:
    """Load one file in the given format (or the one its name tells)."""
    path = Path(path)
    fmt = fmt or _detect_format(path)
    if fmt == "sisfall":
        return load_sisfall_file(path, (fall_runs or {}).get(path.stem))
    if fmt == "csv":
        return load_csv(path)
    raise ValueError(f"format = {fmt!r} is not allowed; use one of {', '.join(FORMATS)}")


def iter_recordings(path: Union[str, Path], fmt: Optional[str] = None,
                    fall_runs: Optional[Dict[str, Tuple[int, int]]] = None) -> Iterator[Recording]:
    """Load every recording under ``path`` in turn (see :func:`find_recordings`)."""
    for file, file_fmt in find_recordings(path, fmt):
        yield load_recording(file, file_fmt, fall_runs)
