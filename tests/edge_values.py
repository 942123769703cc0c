"""Edge sets of integer inputs for the fixed-point tests (TESTING.md, "Edge sets").

gemmlowp ``test/test_fixedpoint.cc`` tests its primitives on every ±2^i + {−2..2}, the values next
to INT32_MIN and INT32_MAX, and 1,000 values of a linear congruential generator; these builders
give the same sets as sorted, duplicate-free NumPy arrays so that every test can reuse them.
"""

import numpy as np

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def powers_of_two_and_neighbours(max_exponent: int) -> list[int]:
    """Every ±2^i + d for 0 <= i <= max_exponent and d in {−2, −1, 0, 1, 2} (Python ints)."""
    return [
        sign * 2**i + d for i in range(max_exponent + 1) for sign in (1, -1) for d in range(-2, 3)
    ]


def lcg_int32(n: int, seed: int) -> list[int]:
    """``n`` values of gemmlowp's generator ``r = r·1664525 + 1013904223 (mod 2^32)``, as int32.

    With ``seed=1`` these are exactly the 1,000 random values of gemmlowp's test_fixedpoint.cc.
    """
    values, r = [], seed % 2**32
    for _ in range(n):
        r = (r * 1664525 + 1013904223) % 2**32
        values.append(r - 2**32 if r >= 2**31 else r)
    return values


def int32_edge_values(n_random: int = 1000, seed: int = 1) -> np.ndarray:
    """gemmlowp's int32 test set: ±2^i + {−2..2} for i in 0..31 clipped to int32, INT32_MIN,
    INT32_MIN + 1, INT32_MIN + 2, INT32_MAX − 2, INT32_MAX − 1, INT32_MAX, 0, ±1, and ``n_random``
    values of gemmlowp's generator started at ``seed``. About 1,300 values with the defaults.
    """
    values = powers_of_two_and_neighbours(31)
    values += [INT32_MIN, INT32_MIN + 1, INT32_MIN + 2, INT32_MAX - 2, INT32_MAX - 1, INT32_MAX]
    values += [0, 1, -1]
    values += lcg_int32(n_random, seed)
    clipped = {min(max(v, INT32_MIN), INT32_MAX) for v in values}
    return np.array(sorted(clipped), dtype=np.int32)


def int64_edge_values(bits: int = 47, n_random: int = 300, seed: int = 1) -> np.ndarray:
    """The same construction in [−2^bits, 2^bits): ±2^i + {−2..2} for i in 0..bits (clipped), the
    two ends and their neighbours, 0, ±1, and ``n_random`` fixed-seed uniform values (int64).
    """
    lo, hi = -(2**bits), 2**bits - 1
    values = powers_of_two_and_neighbours(bits)
    values += [lo, lo + 1, lo + 2, hi - 2, hi - 1, hi, 0, 1, -1]
    values += np.random.default_rng(seed).integers(lo, hi, n_random, endpoint=True).tolist()
    clipped = {min(max(v, lo), hi) for v in values}
    return np.array(sorted(clipped), dtype=np.int64)
