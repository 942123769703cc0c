"""Model files: ``save``/``load`` choose the format from the file suffix."""

from __future__ import annotations

import os
from pathlib import Path

from ..graph import Graph
from . import hdf5

_HDF5_SUFFIXES = (".h5", ".hdf5")


def _format_of(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in _HDF5_SUFFIXES:
        return "hdf5"
    if suffix == ".tflite":
        raise ValueError(
            f"{os.fspath(path)}: .tflite import/export is not implemented yet (issue 6); "
            "save as .h5 for intq's own model file"
        )
    raise ValueError(
        f"{os.fspath(path)}: unknown model file suffix {suffix or '(none)'!r}; "
        f"intq reads and writes {', '.join(_HDF5_SUFFIXES)}"
    )


def save(graph: Graph, path: str | os.PathLike) -> None:
    """Write ``graph`` to ``path`` in the format its suffix names (``.h5``/``.hdf5``: intq's
    HDF5 model file, see docs/files.md); another suffix is a ``ValueError`` naming it."""
    _format_of(path)
    hdf5.save_model(graph, path)


def load(path: str | os.PathLike) -> Graph:
    """Read the model file ``path`` in the format its suffix names (``.h5``/``.hdf5``: intq's
    HDF5 model file); another suffix is a ``ValueError`` naming it."""
    _format_of(path)
    return hdf5.load_model(path)
