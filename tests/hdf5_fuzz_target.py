"""Fuzz target for intq's model loader, run in a subprocess by tests/test_hdf5.py.

    python tests/hdf5_fuzz_target.py FILE [FILE ...]

Loads each FILE with ``intq.io.hdf5.load_model`` and prints ``ok FILE`` once it has loaded or
raised ``FormatError``. Any other exception ends the process with status 1; a crash inside
HDF5 kills it (negative status); a hang is the caller's timeout. The first FILE without an
``ok`` line is the culprit.
"""

from __future__ import annotations

import sys

from intq.errors import FormatError
from intq.io.hdf5 import load_model


def main(paths: list[str]) -> int:
    """Load every file of ``paths`` in turn; 0 when each loads or raises ``FormatError``."""
    for path in paths:
        try:
            load_model(path)
        except FormatError:
            pass
        print(f"ok {path}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
