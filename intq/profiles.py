"""Named arithmetic conventions: which engine's integer results intq reproduces.

"TFLite's answer" depends on which kernels ran (SEMANTICS.md §7): the reference kernels
double-round, ruy and TFLITE_SINGLE_ROUNDING builds single-round, ONNX Runtime and fbgemm
requantize in float with ties to even. A ``Profile`` names one such convention; every op takes
``profile=`` (a name or a ``Profile``) and asks it how to derive and apply its integer
parameters, so a new convention is a new registered ``Profile``, not a change to callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from . import fixed_point
from .kernels import fixed_point as _k
from .rounding import RoundingMode, check_rounding

Requantization = Literal["double", "single"]
ActivationMethod = Literal["table", "fixed_point"]


@dataclass(frozen=True)
class Profile:
    """One engine's integer arithmetic.

    ``requantization``: how an int32 accumulator is rescaled by ``(multiplier, shift)``:
    ``"double"`` (srdhm then rounding_divide_by_pot: TFLite reference, TFLM, CMSIS-NN) or
    ``"single"`` (one rounding shift: TFLITE_SINGLE_ROUNDING, ruy). ``quantize_rounding``: the
    rule for float → integer steps at conversion time (bias, weights, Quantize ops).
    ``logistic_tanh``: int8 logistic and tanh from a 256-entry table built in float32 at
    conversion time (``"table"``, LiteRT) or gemmlowp's fixed-point functions
    (``"fixed_point"``, TFLite Micro and CMSIS-NN); SEMANTICS.md §4.12.
    """

    name: str
    description: str
    requantization: Requantization = "double"
    quantize_rounding: RoundingMode = "half_away_from_zero"
    logistic_tanh: ActivationMethod = "table"

    def __post_init__(self) -> None:
        if not self.name or not isinstance(self.name, str):
            raise ValueError(f"name: a profile needs a non-empty name, got {self.name!r}")
        if self.requantization not in ("double", "single"):
            raise ValueError(
                f"requantization: expected 'double' or 'single', got {self.requantization!r}"
            )
        check_rounding(self.quantize_rounding)
        if self.logistic_tanh not in ("table", "fixed_point"):
            raise ValueError(
                f"logistic_tanh: expected 'table' or 'fixed_point', got {self.logistic_tanh!r}"
            )

    @property
    def rounding_code(self) -> int:
        """The integer code kernels receive (``intq.kernels.fixed_point.DOUBLE_ROUNDING``/...)."""
        return _k.SINGLE_ROUNDING if self.requantization == "single" else _k.DOUBLE_ROUNDING

    def quantize_multiplier(
        self, real: float | np.ndarray
    ) -> tuple[int, int] | tuple[np.ndarray, np.ndarray]:
        """``(multiplier, shift)`` for ``real`` as this engine derives it (offline, in double).

        Single-rounding builds saturate ``shift > 30`` to ``(2^31 − 1, 30)``.
        """
        return fixed_point.quantize_multiplier(
            real, single_rounding=self.requantization == "single"
        )

    def multiply_by_quantized_multiplier(
        self, x: np.ndarray, multiplier: int | np.ndarray, shift: int | np.ndarray
    ) -> np.ndarray:
        """Rescale int32 ``x`` by ``multiplier · 2^(shift − 31)`` with this engine's rounding."""
        return fixed_point.multiply_by_quantized_multiplier(
            x, multiplier, shift, rounding=self.requantization
        )


_REGISTRY: dict[str, Profile] = {}


def register_profile(profile: Profile, *, replace: bool = False) -> Profile:
    """Make ``profile`` selectable by name everywhere ``profile=`` is accepted."""
    if not isinstance(profile, Profile):
        raise TypeError(f"profile: expected a Profile, got {type(profile).__name__}")
    if profile.name in _REGISTRY and not replace:
        raise ValueError(f"profile: {profile.name!r} is already registered (pass replace=True)")
    _REGISTRY[profile.name] = profile
    return profile


def get_profile(profile: str | Profile) -> Profile:
    """The ``Profile`` named ``profile`` (or ``profile`` itself); else ``ValueError``."""
    if isinstance(profile, Profile):
        return profile
    try:
        return _REGISTRY[profile]
    except (KeyError, TypeError):
        raise ValueError(
            f"profile: unknown profile {profile!r}; registered: {', '.join(available_profiles())}"
        ) from None


def available_profiles() -> tuple[str, ...]:
    """Names of the registered profiles, in registration order."""
    return tuple(_REGISTRY)


TFLITE = register_profile(
    Profile(
        name="tflite",
        description=(
            "TFLite/LiteRT int8 reference kernels as built by default: double rounding "
            "(srdhm ties up, then rounding_divide_by_pot ties away from zero), "
            "quantization rounds half away from zero"
        ),
        requantization="double",
    )
)

TFLITE_SINGLE_ROUNDING = register_profile(
    Profile(
        name="tflite-single-rounding",
        description=(
            "TFLite built with TFLITE_SINGLE_ROUNDING, and ruy's optimized kernels: one int64 "
            "product and one rounding shift (ties up); shifts above 30 saturate the multiplier"
        ),
        requantization="single",
    )
)
