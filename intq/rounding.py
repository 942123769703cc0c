"""Named rounding rules for float → integer steps done offline (quantization, multipliers).

Engines disagree on ties: TFLite rounds half away from zero (``std::round``), ONNX, fbgemm,
MLAS and XNNPACK round half to even, TF's FakeQuant rounds half up. Each rule is exact for
every finite float (no ``floor(x + 0.5)`` shortcut, which misrounds 0.49999999999999994 and
odd integers above 2^52), and the result keeps the input's float dtype.
"""

from typing import Literal

import numpy as np

RoundingMode = Literal["half_away_from_zero", "half_to_even", "half_up"]
ROUNDING_MODES: tuple[str, ...] = ("half_away_from_zero", "half_to_even", "half_up")


def _split(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # x − trunc(x) is exact in binary floating point, so the tie test below is exact too.
    whole = np.trunc(x)
    return whole, x - whole


def round_half_away_from_zero(x: np.ndarray) -> np.ndarray:
    """Round to nearest, ties away from zero (C's ``round``, TFLite's ``TfLiteRound``)."""
    x = np.asarray(x)
    whole, frac = _split(x)
    return whole + np.where(np.abs(frac) >= 0.5, np.sign(x), 0).astype(x.dtype)


def round_half_to_even(x: np.ndarray) -> np.ndarray:
    """Round to nearest, ties to even (IEEE 754 default; ``np.rint``; ONNX, fbgemm, XNNPACK)."""
    return np.rint(np.asarray(x))


def round_half_up(x: np.ndarray) -> np.ndarray:
    """Round to nearest, ties toward +infinity: the exact value of ``floor(x + 1/2)``."""
    x = np.asarray(x)
    whole = np.floor(x)
    return whole + (x - whole >= 0.5).astype(x.dtype)


_ROUNDERS = {
    "half_away_from_zero": round_half_away_from_zero,
    "half_to_even": round_half_to_even,
    "half_up": round_half_up,
}


def check_rounding(rounding: str) -> str:
    """Return ``rounding`` if it names a rounding rule, else raise ``ValueError`` listing them."""
    if rounding not in _ROUNDERS:
        raise ValueError(f"rounding: unknown mode {rounding!r}; expected one of {ROUNDING_MODES}")
    return rounding


def round_with(x: np.ndarray, rounding: str) -> np.ndarray:
    """Round ``x`` with the named rule (see ``ROUNDING_MODES``)."""
    return _ROUNDERS[check_rounding(rounding)](x)
