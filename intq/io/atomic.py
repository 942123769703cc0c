"""Atomic file replacement: a crash or an exception mid-write never leaves a half-written file."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(folder: Path) -> None:
    """Persist the rename itself; not every platform can open a folder (Windows), so best effort."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_write(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary path in ``path``'s folder for the caller to write the file to.

    When the ``with`` body finishes, the temporary file is fsynced and renamed onto ``path`` with
    ``os.replace`` (atomic on POSIX and Windows). If the body raises (any exception, including
    ``KeyboardInterrupt``), the temporary file is removed, ``path`` is left exactly as it was,
    and the exception propagates. The temporary path does not exist yet when yielded.
    """
    target = Path(path)
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(8)}.tmp")
    try:
        yield tmp
        _fsync_file(tmp)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(target.parent)
