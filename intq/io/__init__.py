"""Model files: ``save``/``load`` choose the format from the file suffix."""

from __future__ import annotations

import os
from pathlib import Path

from ..graph import Graph
from . import hdf5, tflite

_WRITERS = {".h5": hdf5.save_model, ".hdf5": hdf5.save_model, ".tflite": tflite.save_tflite}
_READERS = {".h5": hdf5.load_model, ".hdf5": hdf5.load_model, ".tflite": tflite.load_tflite}


def _suffix(path: str | os.PathLike) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in _WRITERS:
        raise ValueError(
            f"{os.fspath(path)}: unknown model file suffix {suffix or '(none)'!r}; "
            f"intq reads and writes {', '.join(_WRITERS)}"
        )
    return suffix


def save(graph: Graph, path: str | os.PathLike) -> None:
    """Write ``graph`` to ``path`` in the format its suffix names: ``.h5``/``.hdf5`` intq's HDF5
    model file (docs/files.md), ``.tflite`` a TFLite flatbuffer (docs/tflite.md); another
    suffix is a ``ValueError`` naming it."""
    _WRITERS[_suffix(path)](graph, path)


def load(path: str | os.PathLike) -> Graph:
    """Read the model file ``path`` in the format its suffix names (as ``save``)."""
    return _READERS[_suffix(path)](path)
