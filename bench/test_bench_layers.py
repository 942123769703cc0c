"""int8 GEMM and convolutions on MobileNet-sized layers, beside NumPy float32 on the same shapes.

GOP/s counts 2 operations per multiply-add. intq's numbers include requantization, zero-point
handling and the clamp (a whole fused layer); the float32 anchors are the bare product.
"""

import numpy as np
import pytest

import intq
from intq.ops import conv as conv_ops
from intq.ops import fully_connected as linear_ops

RNG = np.random.default_rng(0)
X_QP = intq.QuantParams(0.05, -3)
OUT_QP = intq.QuantParams(0.5, 2)

GEMM_SHAPES = [(1, 1024, 1024), (16, 1024, 1024), (256, 256, 256), (1024, 1024, 1024)]


def _int8(shape, lo=-128, hi=127):
    return RNG.integers(lo, hi + 1, shape, dtype=np.int8)


@pytest.mark.parametrize("m,k,n", GEMM_SHAPES, ids=lambda v: str(v))
def test_intq_linear(measure, m, k, n):
    x = _int8((m, k))
    w = _int8((n, k), -127, 127)
    w_qp = intq.QuantParams(np.full(n, 0.002), np.zeros(n, np.int64), axis=0, narrow_range=True)
    bias = RNG.integers(-1000, 1000, n, dtype=np.int32)
    measure(
        lambda: linear_ops.linear(x, w, bias, x_qparams=X_QP, w_qparams=w_qp, out_qparams=OUT_QP),
        2 * m * n * k,
        f"gemm {m}x{k}x{n}",
    )


@pytest.mark.parametrize("m,k,n", GEMM_SHAPES, ids=lambda v: str(v))
def test_numpy_float32_matmul(measure, m, k, n):
    a = RNG.standard_normal((m, k), dtype=np.float32)
    b = RNG.standard_normal((k, n), dtype=np.float32)
    measure(lambda: a @ b, 2 * m * n * k, f"gemm {m}x{k}x{n}")


# (name, input NHWC, weights, kind): MobileNet-sized layers at batch 1.
CONV_LAYERS = [
    ("conv3x3 56x56x64->64", (1, 56, 56, 64), (64, 3, 3, 64), "conv"),
    ("conv1x1 28x28x128->256", (1, 28, 28, 128), (256, 1, 1, 128), "conv"),
    ("depthwise3x3 112x112x32", (1, 112, 112, 32), (1, 3, 3, 32), "depthwise"),
]


def _conv_ops_count(x_shape, w_shape, kind):
    n, h, w, _ = x_shape
    if kind == "depthwise":
        return 2 * n * h * w * w_shape[1] * w_shape[2] * w_shape[3]
    return 2 * n * h * w * w_shape[0] * w_shape[1] * w_shape[2] * w_shape[3]


@pytest.mark.parametrize("name,x_shape,w_shape,kind", CONV_LAYERS, ids=[c[0] for c in CONV_LAYERS])
def test_intq_conv(measure, name, x_shape, w_shape, kind):
    x = _int8(x_shape)
    w = _int8(w_shape, -127, 127)
    channels = w_shape[0] if kind == "conv" else w_shape[3]
    axis = 0 if kind == "conv" else 3
    w_qp = intq.QuantParams(np.full(channels, 0.01), np.zeros(channels, np.int64), axis=axis)
    bias = RNG.integers(-1000, 1000, channels, dtype=np.int32)
    fn = conv_ops.conv2d if kind == "conv" else conv_ops.depthwise_conv2d
    measure(
        lambda: fn(x, w, bias, x_qparams=X_QP, w_qparams=w_qp, out_qparams=OUT_QP, padding="same"),
        _conv_ops_count(x_shape, w_shape, kind),
        name,
    )


@pytest.mark.parametrize("name,x_shape,w_shape,kind", CONV_LAYERS, ids=[c[0] for c in CONV_LAYERS])
def test_numpy_float32_conv_as_matmul(measure, name, x_shape, w_shape, kind):
    """The float32 anchor: im2col (excluded from the timing) and one float32 matmul."""
    n, h, w, c = x_shape
    kh, kw = w_shape[1], w_shape[2]
    x = RNG.standard_normal((n, h + kh - 1, w + kw - 1, c), dtype=np.float32)
    windows = np.lib.stride_tricks.sliding_window_view(x, (kh, kw), axis=(1, 2))
    if kind == "depthwise":
        cols = np.ascontiguousarray(windows.reshape(n * h * w, c, kh * kw))
        weights = RNG.standard_normal((c, kh * kw), dtype=np.float32)
        fn = lambda: np.einsum("pck,ck->pc", cols, weights, optimize=True)  # noqa: E731
    else:
        cols = np.ascontiguousarray(windows.transpose(0, 1, 2, 4, 5, 3).reshape(n * h * w, -1))
        weights = RNG.standard_normal((cols.shape[1], w_shape[0]), dtype=np.float32)
        fn = lambda: cols @ weights  # noqa: E731
    measure(fn, _conv_ops_count(x_shape, w_shape, kind), name)
