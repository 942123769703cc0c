"""BN folding: the folded layer equals layer → BN (DESIGN contract 5), the guarded wrapper's
refusals, and the QAT block FoldedConvBN (batch statistics, correction, freeze, backward)."""

import copy

import numpy as np
import pytest
from gradient_checks import numeric_grad
from hypothesis import given
from hypothesis import strategies as st

from intq import choose_qparams, fake_quantize
from intq.fold import FoldedConvBN, fold_batch_norm, fold_bn
from intq.nn import BatchNorm2d, Conv2d, DepthwiseConv2d, Linear, Module
from intq.qat import weight_fake_quant
from intq.reference.float_ops.conv import conv2d, depthwise_conv2d
from intq.reference.float_ops.gemm import dense

EPS = 1e-3


def assert_close(actual, expected, rtol=1e-5):
    """Equal to ``rtol`` relative to each element, with an absolute floor of ``rtol`` times a
    millionth of the largest magnitude (for elements that cancel to ~0)."""
    atol = rtol * 1e-6 * float(np.max(np.abs(expected), initial=1.0))
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol)


def bn_eval(z, gamma, beta, mean, variance, eps=EPS):
    """Float64 batch norm over the last axis with fixed statistics."""
    return gamma * (z - mean) / np.sqrt(variance + eps) + beta


def bn_stats(rng, channels, tiny=False):
    """gamma (some negative), beta, mean, variance (some tiny when asked)."""
    gamma = rng.uniform(0.2, 2.0, channels) * rng.choice([-1.0, 1.0], channels)
    beta = rng.normal(size=channels)
    mean = rng.normal(size=channels)
    variance = rng.uniform(0.05, 3.0, channels)
    if tiny:
        variance[::2] = rng.uniform(0.0, 1e-9, variance[::2].shape)
    return gamma, beta, mean, variance


# Each kind: (make weight, layer forward, weight channel axis, input shape).
def _conv(rng, c_in, c_out, mult):
    w = rng.normal(size=(c_out, 3, 2, c_in))
    return w, lambda x, w_, b_: conv2d(x, w_, b_, padding=((1, 1), (0, 1))), 0, c_out


def _depthwise(rng, c_in, c_out, mult):
    w = rng.normal(size=(1, 3, 3, c_in * mult))
    fwd = lambda x, w_, b_: depthwise_conv2d(x, w_, b_, depth_multiplier=mult)  # noqa: E731
    return w, fwd, 3, c_in * mult


def _linear(rng, c_in, c_out, mult):
    w = rng.normal(size=(c_out, c_in))
    return w, lambda x, w_, b_: dense(x[:, 0, 0, :], w_, b_), 0, c_out


KINDS = {"conv": _conv, "depthwise": _depthwise, "linear": _linear}


@given(
    kind=st.sampled_from(sorted(KINDS)),
    seed=st.integers(0, 2**32 - 1),
    c_in=st.integers(1, 4),
    c_out=st.integers(1, 5),
    mult=st.integers(1, 2),
    has_bias=st.booleans(),
    tiny=st.booleans(),
)
def test_folded_layer_equals_layer_then_bn_in_eval(kind, seed, c_in, c_out, mult, has_bias, tiny):
    rng = np.random.default_rng(seed)
    w, forward, axis, channels = KINDS[kind](rng, c_in, c_out, mult)
    bias = rng.normal(size=channels) if has_bias else None
    gamma, beta, mean, variance = bn_stats(rng, channels, tiny)
    eps = 1e-5 if tiny else EPS
    x = rng.normal(size=(2, 5, 4, c_in))
    w_fold, b_fold = fold_batch_norm(w, bias, gamma, beta, mean, variance, eps, channel_axis=axis)
    assert w_fold.shape == w.shape and b_fold.shape == (channels,)
    assert w_fold.dtype == b_fold.dtype == np.float64
    expected = bn_eval(forward(x, w, bias), gamma, beta, mean, variance, eps)
    assert_close(forward(x, w_fold, b_fold), expected)


def test_fold_scales_the_channel_axis_and_keeps_float32():
    w = np.ones((1, 1, 1, 4), np.float32)
    gamma = np.array([1.0, -2.0, 3.0, 0.5], np.float32)
    ones, zeros = np.ones(4, np.float32), np.zeros(4, np.float32)
    w_fold, b_fold = fold_batch_norm(w, None, gamma, zeros, ones, ones * 3, 1.0, channel_axis=-1)
    assert w_fold.dtype == b_fold.dtype == np.float32
    np.testing.assert_allclose(w_fold.ravel(), gamma / 2, rtol=1e-7)
    np.testing.assert_allclose(b_fold, -gamma / 2, rtol=1e-7)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"weight": np.ones(())}, "weight: expected an array"),
        ({"weight": np.full((3, 2), np.nan)}, "weight: must be finite"),
        ({"bias": np.ones(2)}, r"bias: expected shape \(3,\)"),
        ({"gamma": np.ones((3, 1))}, r"gamma: expected shape \(3,\)"),
        ({"beta": np.array([0.0, np.inf, 0.0])}, "beta: must be finite"),
        ({"mean": np.ones(4)}, r"mean: expected shape \(3,\)"),
        ({"variance": np.array([1.0, -0.5, 1.0])}, "variance: must be >= 0, got -0.5 at channel 1"),
        ({"variance": np.array(["a", "b", "c"])}, "variance: expected real numbers"),
        ({"eps": 0.0}, "eps: must be a finite number > 0"),
        ({"eps": float("nan")}, "eps: must be a finite number > 0"),
        ({"channel_axis": 2}, "channel_axis: 2 is out of range"),
        ({"channel_axis": 0.0}, "channel_axis: must be an int"),
    ],
)
def test_fold_batch_norm_rejects_bad_arguments_by_name(change, message):
    args = {
        "weight": np.ones((3, 2)),
        "bias": np.zeros(3),
        "gamma": np.ones(3),
        "beta": np.zeros(3),
        "mean": np.zeros(3),
        "variance": np.ones(3),
        "eps": EPS,
        "channel_axis": 0,
    } | change
    axis = args.pop("channel_axis")
    with pytest.raises(ValueError, match=message):
        fold_batch_norm(**args, channel_axis=axis)


# --- fold_bn and FoldedConvBN on intq.nn modules (float64) ---------------------------------


def make_layer(kind, seed=0, bias=True):
    """A float64 layer with 3 output channels (6 for depthwise: 3 inputs × multiplier 2), random
    weights and bias, and its input shape."""
    rng = np.random.default_rng(seed)
    f64 = {"dtype": np.float64, "rng": rng}
    if kind == "conv":
        layer = Conv2d(2, 3, (3, 2), padding=((1, 1), (0, 1)), bias=bias, **f64)
        x_shape = (3, 5, 4, 2)
    elif kind == "depthwise":
        layer = DepthwiseConv2d(3, 3, depth_multiplier=2, padding="same", bias=bias, **f64)
        x_shape = (3, 4, 4, 3)
    else:
        layer = Linear(4, 3, bias=bias, **f64)
        x_shape = (7, 4)
    if bias:
        layer.bias.value[...] = rng.normal(size=layer.bias.value.shape)
    return layer, x_shape


def make_bn(channels, seed=1, momentum=0.9):
    """A float64 BatchNorm2d with γ of both signs, random β and non-trivial moving statistics."""
    rng = np.random.default_rng(seed)
    bn = BatchNorm2d(channels, momentum=momentum, dtype=np.float64)
    bn.gamma.value[...], bn.beta.value[...], bn.moving_mean[...], bn.moving_variance[...] = (
        bn_stats(rng, channels)
    )
    return bn


def bn_apply(bn, z):
    """``bn`` on a layer output (Linear outputs are seen as (N, 1, 1, C) images)."""
    return bn(z[:, None, None, :])[:, 0, 0, :] if z.ndim == 2 else bn(z)


def pair(kind, bias=True, seed=0):
    layer, x_shape = make_layer(kind, seed, bias)
    bn = make_bn(layer.weight.value.shape[3 if kind == "depthwise" else 0], seed + 1)
    x = np.random.default_rng(seed + 2).normal(size=x_shape) * 2 + 0.5
    return layer, bn, x


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("bias", [True, False])
def test_fold_bn_equals_layer_then_bn_in_eval(kind, bias):
    layer, bn, x = pair(kind, bias)
    bn.eval()
    before = copy.deepcopy((layer.weight.value, bn.moving_mean, bn.moving_variance))
    folded = fold_bn(layer, bn)
    assert type(folded) is type(layer) and folded is not layer
    assert folded.bias is not None and folded.weight.value.dtype == np.float64
    assert_close(folded(x), bn_apply(bn, layer(x)))
    np.testing.assert_array_equal(layer.weight.value, before[0])
    np.testing.assert_array_equal(bn.moving_mean, before[1])
    assert (layer.bias is None) == (not bias)


def test_fold_bn_refuses_training_mode_missing_statistics_and_mismatches():
    layer, bn, _ = pair("conv")
    with pytest.raises(ValueError, match=r"bn: BatchNorm2d is in training mode.*call \.eval\(\)"):
        fold_bn(layer, bn)
    fresh = BatchNorm2d(3, dtype=np.float64).eval()
    with pytest.raises(ValueError, match="bn: the moving statistics are still at their initial"):
        fold_bn(layer, fresh)
    with pytest.raises(ValueError, match="bn: normalizes 4 channels, but Conv2d has 3 output"):
        fold_bn(layer, make_bn(4).eval())
    with pytest.raises(ValueError, match="layer: expected a Conv2d, DepthwiseConv2d or Linear"):
        fold_bn(bn, bn)
    with pytest.raises(ValueError, match="bn: expected a BatchNorm2d, got Conv2d"):
        fold_bn(layer, layer)


def test_fold_bn_accepts_statistics_from_one_training_batch():
    layer, bn, x = pair("conv")
    bn.moving_mean[...], bn.moving_variance[...] = 0.0, 1.0
    bn_apply(bn, layer(x))  # one training batch moves the statistics
    bn.eval()
    assert_close(fold_bn(layer, bn)(x), bn_apply(bn, layer(x)))


def reference_train(layer, bn, x):
    """The unfolded pair on copies: ``bn(layer(x))`` in training mode and the BN copy."""
    layer, bn = copy.deepcopy(layer), copy.deepcopy(bn).train()
    return bn_apply(bn, layer(x)), bn


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_training_before_freeze_is_bn_with_batch_statistics(kind):
    layer, bn, x = pair(kind)
    block = FoldedConvBN(layer, bn, freeze_bn_delay=4)
    ref_bn = copy.deepcopy(bn)
    for step in range(1, 4):  # steps 1..3 < freeze_bn_delay
        assert not block.frozen
        xs = x * step - 0.3 * step
        expected, ref_bn = reference_train(layer, ref_bn, xs)
        assert_close(block(xs), expected)
        assert block.step == step
        assert_close(bn.moving_mean, ref_bn.moving_mean)
        assert_close(bn.moving_variance, ref_bn.moving_variance)
    assert block.frozen


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_frozen_training_and_eval_are_the_folded_layer_with_moving_statistics(kind):
    layer, bn, x = pair(kind)
    block = FoldedConvBN(layer, bn, freeze_bn_delay=2)
    block(x)  # step 1: batch statistics, moves the moving statistics
    frozen_stats = bn.moving_mean.copy(), bn.moving_variance.copy()
    w_fold, b_fold = block.folded_weight_and_bias()
    folded = fold_bn(layer, copy.deepcopy(bn).eval())
    assert_close(w_fold, folded.weight.value)
    assert_close(b_fold, folded.bias.value)
    expected = bn_apply(copy.deepcopy(bn).eval(), layer(x))
    for _ in range(2):  # steps 2, 3 ≥ freeze_bn_delay
        assert block.frozen
        assert_close(block(x + 1.0), bn_apply(copy.deepcopy(bn).eval(), layer(x + 1.0)))
        np.testing.assert_array_equal(bn.moving_mean, frozen_stats[0])
        np.testing.assert_array_equal(bn.moving_variance, frozen_stats[1])
    block.eval()
    assert not bn.training and block.frozen
    assert_close(block(x), expected)
    assert_close(block(x), folded(x))
    assert block.step == 3


def test_freeze_bn_delay_zero_or_one_freezes_from_the_first_step_and_none_never():
    for delay in (0, 1):
        layer, bn, x = pair("conv")
        stats = bn.moving_mean.copy()
        FoldedConvBN(layer, bn, freeze_bn_delay=delay)(x)
        np.testing.assert_array_equal(bn.moving_mean, stats)
    block = FoldedConvBN(*pair("conv")[:2])
    block.step = 10**9
    assert not block.frozen


def numeric_gradients(block, x, grad_y, h=1e-6):
    """Central differences of ``Σ grad_y · block(x)`` with respect to ``x`` and every
    parameter, each forward on a fresh copy of ``block`` (forwards move its state)."""

    def loss():
        return float(np.sum(grad_y * copy.deepcopy(block)(x)))

    return [numeric_grad(loss, arr, h) for arr in [x] + [p.value for p in block.parameters()]]


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize(("delay", "bias"), [(None, True), (None, False), (1, True)])
def test_backward_matches_central_differences_in_training(kind, delay, bias):
    layer, bn, x = pair(kind, bias, seed=5)
    block = FoldedConvBN(layer, bn, freeze_bn_delay=delay)
    grad_y = np.random.default_rng(9).normal(size=copy.deepcopy(block)(x).shape)
    expected = numeric_gradients(block, x, grad_y)
    assert block.frozen == (delay is not None)
    block.zero_grad()
    block(x)
    grad_x = block.backward(grad_y)
    actual = [grad_x] + [p.grad for p in block.parameters()]
    names = ["x"] + [p.name for p in block.parameters()]
    assert len(names) == (5 if bias else 4)
    for name, a, e in zip(names, actual, expected, strict=True):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6, err_msg=name)


class SymmetricWeightFakeQuant(Module):
    """Test stub: per-channel symmetric int8 fake quantization of the current weights
    (``choose_qparams`` of their min/max along ``axis``); straight-through backward."""

    def __init__(self, axis):
        super().__init__()
        self.axis = axis

    def qparams_of(self, w):
        other = tuple(i for i in range(w.ndim) if i != self.axis)
        lo, hi = w.min(axis=other), w.max(axis=other)
        return choose_qparams(lo, hi, symmetric=True, narrow_range=True, axis=self.axis)

    def forward(self, w):
        return fake_quantize(w, self.qparams_of(w))

    def backward(self, grad_y):
        return grad_y


def quantized_reference(layer, w_fold, b_fold, qparams, x):
    """``layer``'s geometry with weight ``fake_quantize(w_fold)`` and bias ``b_fold``."""
    folded = copy.copy(layer)
    folded.weight = type(layer.weight)(fake_quantize(w_fold, qparams), "weight")
    folded.bias = type(layer.weight)(b_fold, "bias")
    return folded(x)


@pytest.mark.parametrize("kind", sorted(KINDS))
@pytest.mark.parametrize("real", [False, True], ids=["stub", "qat.weight_fake_quant"])
def test_eval_with_fake_quant_is_conv_with_fake_quantized_folded_weights(kind, real):
    layer, bn, x = pair(kind)
    axis = 3 if kind == "depthwise" else 0
    fq = weight_fake_quant(axis=axis) if real else SymmetricWeightFakeQuant(axis)
    block = FoldedConvBN(layer, bn, weight_fake_quant=fq, freeze_bn_delay=2)
    block(x)
    block.eval()
    w_fold, b_fold = block.folded_weight_and_bias()
    qparams = SymmetricWeightFakeQuant(axis).qparams_of(w_fold)
    y = block(x)
    assert_close(y, quantized_reference(layer, w_fold, b_fold, qparams, x))
    # The quantization is not vacuous: the float folded layer differs.
    assert np.max(np.abs(y - fold_bn(layer, bn)(x))) > 1e-6


def test_training_with_fake_quant_folds_with_moving_statistics_and_corrects_the_output():
    layer, bn, x = pair("conv")
    block = FoldedConvBN(layer, bn, weight_fake_quant=SymmetricWeightFakeQuant(0))
    w_fold, _ = block.folded_weight_and_bias()  # moving statistics before the step
    qparams = SymmetricWeightFakeQuant(0).qparams_of(w_fold)
    u = quantized_reference(layer, w_fold, np.zeros(3), qparams, x)
    z = layer(x)
    mean_b, sigma_b = z.mean(axis=(0, 1, 2)), np.sqrt(z.var(axis=(0, 1, 2)) + EPS)
    sigma = np.sqrt(bn.moving_variance + EPS)
    gamma, beta = bn.gamma.value, bn.beta.value
    expected = sigma / sigma_b * u + beta + gamma * (layer.bias.value - mean_b) / sigma_b
    y = block(x)
    assert_close(y, expected)
    assert np.max(np.abs(y - reference_train(layer, bn, x)[0])) > 1e-6  # quantization shows


def test_float32_block_computes_in_float32():
    layer = Conv2d(2, 3, 3, padding="same", rng=np.random.default_rng(0))
    bn = BatchNorm2d(3)
    x = np.random.default_rng(1).normal(size=(2, 4, 4, 2)).astype(np.float32)
    block = FoldedConvBN(layer, bn, weight_fake_quant=weight_fake_quant(), freeze_bn_delay=3)
    for _ in range(4):
        y = block(x)
        assert y.dtype == np.float32
        assert block.backward(np.ones_like(y)).dtype == np.float32
    assert bn.moving_mean.dtype == layer.weight.grad.dtype == bn.gamma.grad.dtype == np.float32


def test_fake_quant_backward_is_called_on_the_folded_weight_gradient():
    layer, bn, x = pair("conv")

    class Halve(SymmetricWeightFakeQuant):
        def backward(self, grad_y):
            return grad_y / 2

    grads = []
    for fq in (SymmetricWeightFakeQuant(0), Halve(0)):
        block = FoldedConvBN(copy.deepcopy(layer), copy.deepcopy(bn), weight_fake_quant=fq,
                             freeze_bn_delay=0)  # fmt: skip
        block.backward(np.ones_like(block(x)))
        grads.append(block.layer.weight.grad.copy())
    assert np.any(grads[0] != 0)
    assert_close(grads[1], grads[0] / 2)


def test_folded_conv_bn_rejects_bad_arguments():
    layer, bn, _ = pair("conv")
    with pytest.raises(ValueError, match="freeze_bn_delay: expected None or an int >= 0"):
        FoldedConvBN(layer, bn, freeze_bn_delay=-1)
    with pytest.raises(ValueError, match="weight_fake_quant: expected a Module or None"):
        FoldedConvBN(layer, bn, weight_fake_quant=lambda w: w)
    with pytest.raises(ValueError, match="bn: normalizes 4 channels"):
        FoldedConvBN(layer, make_bn(4))
