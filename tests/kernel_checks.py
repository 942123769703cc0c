"""What every kernel test module checks the same way: exact equality with the oracle, and that
its randomized tests were not vacuous (outputs hit both clamp bounds, fall between them, and
take many values), with the worst integer-vs-float gap kept for the report."""

import collections

import numpy as np


def assert_same(got: np.ndarray, want: np.ndarray, dtype) -> None:
    """``got`` has ``dtype``, ``want``'s shape and ``want``'s (int64 oracle) values exactly."""
    assert got.dtype == np.dtype(dtype), (got.dtype, np.dtype(dtype))
    assert got.shape == want.shape, (got.shape, want.shape)
    np.testing.assert_array_equal(got.astype(np.int64), want)


def i64(*values: int) -> list[np.int64]:
    """Kernel scalar arguments: int64, as the ops layer passes them."""
    return [np.int64(v) for v in values]


class OutputCoverage:
    """Counts, per named suite, outputs at ``act_min``, at ``act_max`` and strictly between, the
    distinct values seen, and the worst float gap; the module's last test asserts on them."""

    def __init__(self) -> None:
        self.seen: collections.Counter = collections.Counter()
        self.distinct: dict[str, set[int]] = collections.defaultdict(set)
        self.worst_float_gap: dict[str, float] = collections.defaultdict(float)

    def record(self, name: str, y: np.ndarray, act_min: int, act_max: int) -> None:
        """Count ``y``'s outputs for suite ``name`` (and check they lie in the clamp range)."""
        assert y.size == 0 or (int(y.min()) >= act_min and int(y.max()) <= act_max), (
            name,
            act_min,
            act_max,
        )
        self.seen[name, "min"] += int(np.sum(y == act_min))
        self.seen[name, "max"] += int(np.sum(y == act_max))
        self.seen[name, "mid"] += int(np.sum((y > act_min) & (y < act_max)))
        self.distinct[name].update(np.unique(y).tolist()[:64])
