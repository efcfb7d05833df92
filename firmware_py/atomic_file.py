"""Small files in the state dir on a card that may fail: replaced so that a power cut leaves the old one or the
new one, never half of one; looked for without letting a failing card (EIO from stat) raise."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Union


def write_atomically(path: Union[str, Path], text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, fsync it, rename it over ``path``, fsync the folder.

    Raises ``OSError`` (a full or read-only disk, a missing folder); ``path`` is then unchanged.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise
    try:  # the rename itself is only durable once the directory is on disk
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError:
        pass  # some file systems refuse fsync on a directory; the rename has happened
    return path


def exists(path: Union[str, Path]) -> bool:
    """``Path.exists()``, but False where the card cannot even tell (EIO, EACCES): that must not stop the monitor."""
    try:
        return Path(path).exists()
    except OSError:
        return False
