"""intq.ops: the functional API over the integer kernels.

Each op takes quantized arrays and their ``QuantParams``, validates them, derives its integer
parameters (multipliers, shifts, clamp bounds, tables) offline in float, and calls a kernel of
``intq.kernels`` that sees integers only. The ``*_params`` functions return those derived
integers, to print, to store in a model, or to feed to the oracles of ``intq.reference``.
"""

from .activations import (
    hard_swish,
    hard_swish_params,
    logistic,
    logistic_params,
    softmax,
    softmax_params,
    tanh,
    tanh_params,
)
from .conv import conv2d, conv2d_params, depthwise_conv2d, depthwise_conv2d_params
from .elementwise import (
    add,
    add_params,
    concat,
    mean,
    mean_params,
    mul,
    mul_params,
    pad,
    requantize,
    requantize_params,
    sub,
)
from .fully_connected import linear, linear_accumulate, linear_params
from .pool import avg_pool2d, max_pool2d, pool_params

__all__ = [
    "add",
    "add_params",
    "avg_pool2d",
    "concat",
    "conv2d",
    "conv2d_params",
    "depthwise_conv2d",
    "depthwise_conv2d_params",
    "hard_swish",
    "hard_swish_params",
    "linear",
    "linear_accumulate",
    "linear_params",
    "logistic",
    "logistic_params",
    "max_pool2d",
    "mean",
    "mean_params",
    "mul",
    "mul_params",
    "pad",
    "pool_params",
    "requantize",
    "requantize_params",
    "softmax",
    "softmax_params",
    "sub",
    "tanh",
    "tanh_params",
]
