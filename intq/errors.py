"""Exceptions shared across intq's modules."""

from __future__ import annotations

import os


class FormatError(ValueError):
    """A malformed or truncated intq model or dump file.

    ``path`` is the file and ``field`` the HDF5-style path of the first bad field inside it
    (``"ops/0003/params/multiplier"``, ``"tensors/0001/scale"`` for an attribute, ``""`` when the
    file as a whole is unreadable). The message reads ``"{path}: {field}: {problem}"``.
    """

    def __init__(self, path: str | os.PathLike, field: str, problem: str) -> None:
        self.path = os.fspath(path)
        self.field = field
        self.problem = problem
        super().__init__(f"{self.path}: {field}: {problem}" if field else f"{self.path}: {problem}")

    def __reduce__(self):  # keep the three-argument constructor picklable
        return (type(self), (self.path, self.field, self.problem))
