"""Slow, obviously-correct Python-int oracles, one module per kernel family (as ``kernels/``).

Independent of ``intq.kernels``: tests are the only place where a kernel meets its oracle.
"""

from . import activations, conv, elementwise, gemm, pool
from .fixed_point import (
    DOUBLE_ROUNDING,
    INT64_ACCUMULATOR,
    SINGLE_ROUNDING,
    c_div,
    multiply_by_quantized_multiplier,
    multiply_by_quantized_multiplier_int64,
    multiply_by_quantized_multiplier_single_rounding,
    quantize_multiplier,
    requantize,
    rounding_divide_by_pot,
    saturating_rounding_multiply_by_pot,
    srdhm,
    wrap_int32,
)

__all__ = [
    "DOUBLE_ROUNDING",
    "INT64_ACCUMULATOR",
    "SINGLE_ROUNDING",
    "activations",
    "c_div",
    "conv",
    "elementwise",
    "gemm",
    "multiply_by_quantized_multiplier",
    "multiply_by_quantized_multiplier_int64",
    "multiply_by_quantized_multiplier_single_rounding",
    "pool",
    "quantize_multiplier",
    "requantize",
    "rounding_divide_by_pot",
    "saturating_rounding_multiply_by_pot",
    "srdhm",
    "wrap_int32",
]
