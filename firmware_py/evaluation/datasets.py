"""Recordings from disk: the project's own CSV, and finding and loading every recording under a folder.

Every loader returns a :class:`~firmware_py.evaluation.recording.Recording` in the *sensor's* axes together
with the mounting (``body_from_sensor``) when it is known, so the pipeline sees a recording exactly as it
would see the chip on the body. The class of a trial (``fall``, ``stumble``, ``walk`` or ``other``) comes
from the SisFall activity code (``sisfall.py``, the dataset's own text files), or from the CSV file name,
so a user labels their own trials by naming them.
"""
from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Dict, Iterable, Iterator, List, Optional, Tuple, Union

import numpy as np

from hal.types import SampleBlock

from . import csv_samples
# the CSV's columns and the checks on its samples live in csv_samples (CSV_COLUMNS re-exported here)
from .csv_samples import _CSV_HEADER, CSV_COLUMNS, check_samples, count_lines, parse_chunk
from .recording import Recording, peak_index
from .sisfall import is_sisfall_name, load_sisfall_file
from ..errors import DataFormatError

__all__ = [
    "load_csv", "open_csv", "load_recording", "find_recordings", "iter_recordings", "write_csv", "kind_from_name",
    "activity_from_name", "CSV_COLUMNS", "FORMATS",
]

FORMATS = ("sisfall", "csv")


def kind_from_name(name: str) -> str:
    """A CSV recording's class from its file name: ``fall…``, ``stumble…``, ``walk…``, else ``other``."""
    stem = Path(name).name.lower()
    for kind in ("fall", "stumble", "walk"):
        if stem.startswith(kind):
            return kind
    return "other"


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
            impact = peak_index(accel_g)
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
    if path.suffix.lower() == ".txt" and is_sisfall_name(path.stem):
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
        elif file.suffix.lower() == ".txt" and is_sisfall_name(file.stem) and fmt in (None, "sisfall"):
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
