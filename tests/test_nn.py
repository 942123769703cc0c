"""intq.nn: every backward against float64 central finite differences, every windowed forward
against the float64 references of intq.reference.float_ops (and SAME padding against pinned
explicit paddings), batch-norm train/eval semantics, the module protocol, the optimizers on a
quadratic, and a tiny CNN trained to high accuracy on a separable synthetic dataset."""

from __future__ import annotations

import numpy as np
import pytest
from gradient_checks import numeric_grad
from hypothesis import assume, given
from hypothesis import strategies as st

from intq import nn
from intq.nn.im2col import window
from intq.reference.float_ops import conv as F_conv
from intq.reference.float_ops import gemm as F_gemm
from intq.reference.float_ops import pool as F_pool

F64 = {"dtype": np.float64}


# ---- finite differences -----------------------------------------------------------------------


def _assert_close(analytic: np.ndarray, numeric: np.ndarray, what: str) -> None:
    assert analytic.shape == numeric.shape, what
    scale = np.max(np.abs(numeric))
    assert scale > 1e-3, f"{what}: vacuous check, the gradient is (almost) zero"
    error = np.max(np.abs(analytic - numeric)) / scale
    assert error < 1e-6, f"{what}: relative error {error:.2e}"


def check_gradients(module: nn.Module, *inputs: np.ndarray, seed: int = 0) -> None:
    """Input and parameter gradients of ``Σ proj · module(*inputs)`` (a random projection of the
    output) from ``backward`` against central finite differences, in float64."""
    inputs = tuple(np.array(x, dtype=np.float64) for x in inputs)
    proj = np.random.default_rng(seed).standard_normal(module(*inputs).shape)

    def loss() -> float:
        return float(np.sum(module(*inputs) * proj))

    module.zero_grad()
    module(*inputs)
    grads = module.backward(proj)
    grads = grads if isinstance(grads, tuple) else (grads,)
    param_grads = [p.grad.copy() for p in module.parameters()]
    assert len(grads) == len(inputs)
    for i, (x, grad) in enumerate(zip(inputs, grads, strict=True)):
        _assert_close(grad, numeric_grad(loss, x), f"input {i}")
    for param, grad in zip(module.parameters(), param_grads, strict=True):
        assert param.grad.shape == param.value.shape
        _assert_close(grad, numeric_grad(loss, param.value), f"parameter {param.name}")


def _normal(shape, seed=1):
    return np.random.default_rng(seed).standard_normal(shape)


def _distinct(shape, seed=1):
    """Values 0.1 apart in random order: no ties within a max-pool window."""
    size = int(np.prod(shape))
    return np.random.default_rng(seed).permutation(size).reshape(shape) * 0.1 - size * 0.05


def _rng():
    return np.random.default_rng(3)


CONV_CASES = {
    "valid": (dict(kernel_size=3), (2, 6, 5, 3)),
    "same-stride2-odd": (dict(kernel_size=(3, 2), stride=2, padding="same"), (2, 7, 5, 3)),
    "same-dilation2": (dict(kernel_size=3, dilation=2, padding="same"), (1, 7, 8, 3)),
    "explicit-nobias": (
        dict(kernel_size=2, stride=(2, 1), padding=((1, 0), (2, 1)), bias=False),
        (2, 5, 4, 3),
    ),
}


@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_backward(case):
    kwargs, shape = CONV_CASES[case]
    layer = nn.Conv2d(3, 4, rng=_rng(), **kwargs, **F64)
    check_gradients(layer, _normal(shape))


DEPTHWISE_CASES = {
    "multiplier2-same-stride2": (
        dict(kernel_size=3, depth_multiplier=2, stride=2, padding="same"),
        (2, 7, 7, 3),
    ),
    "dilation-valid-nobias": (
        dict(kernel_size=(2, 3), dilation=(2, 1), bias=False),
        (2, 5, 6, 3),
    ),
}


@pytest.mark.parametrize("case", DEPTHWISE_CASES)
def test_depthwise_backward(case):
    kwargs, shape = DEPTHWISE_CASES[case]
    layer = nn.DepthwiseConv2d(3, rng=_rng(), **kwargs, **F64)
    check_gradients(layer, _normal(shape))


def test_linear_backward():
    check_gradients(nn.Linear(5, 3, rng=_rng(), **F64), _normal((4, 5)))


POOLS = {
    "max-3-stride2-same": (nn.MaxPool2d(3, stride=2, padding="same"), (2, 7, 6, 3)),
    "max-2": (nn.MaxPool2d(2), (2, 4, 6, 2)),
    "avg-3-stride2-same": (nn.AvgPool2d(3, stride=2, padding="same"), (2, 7, 6, 3)),
    "avg-2x3-explicit": (nn.AvgPool2d((2, 3), stride=1, padding=((1, 1), (0, 2))), (1, 4, 5, 2)),
    "global-avg": (nn.GlobalAvgPool2d(), (2, 3, 4, 5)),
}


@pytest.mark.parametrize("case", POOLS)
def test_pool_backward(case):
    layer, shape = POOLS[case]
    check_gradients(layer, _distinct(shape))


def test_activation_and_flatten_backward():
    x = np.random.default_rng(2).uniform(-3.0, 9.0, size=(2, 3, 4, 5))
    for kink in (0.0, 6.0):  # keep finite differences off the kinks
        assert np.min(np.abs(x - kink)) > 1e-4
    check_gradients(nn.ReLU(), x)
    check_gradients(nn.ReLU6(), x)
    check_gradients(nn.Flatten(), x)


def test_batchnorm_backward_training_and_eval():
    bn = nn.BatchNorm2d(3, **F64)
    rng = np.random.default_rng(5)
    bn.gamma.value[:] = rng.uniform(0.5, 2.0, 3)
    bn.beta.value[:] = rng.standard_normal(3)
    x = _normal((3, 4, 2, 3)) * 2.0 + 1.0
    check_gradients(bn, x)  # training mode: through the batch statistics
    bn.moving_mean[:] = rng.standard_normal(3)
    bn.moving_variance[:] = rng.uniform(0.5, 2.0, 3)
    check_gradients(bn.eval(), x)


def test_residual_and_add_backward():
    rng = _rng()
    body = nn.Sequential(  # no conv bias before a training-mode BN: its gradient is exactly 0
        nn.Conv2d(3, 4, 3, padding="same", bias=False, rng=rng, **F64),
        nn.BatchNorm2d(4, **F64),
        nn.ReLU6(),
    )
    check_gradients(nn.Residual(body, nn.Conv2d(3, 4, 1, rng=rng, **F64)), _normal((2, 4, 5, 3)))
    identity = nn.Residual(nn.Sequential(nn.Conv2d(3, 3, 3, padding="same", rng=rng, **F64)))
    check_gradients(identity, _normal((2, 4, 5, 3)))
    check_gradients(nn.Add(), _normal((2, 3)), _normal((2, 3), seed=2))


class _CubedWeight(nn.Module):
    """The QAT wrapping pattern of docs/nn.md with an elementwise transform of known derivative:
    the child computes with ``w³`` in place of its float weight ``w`` (a stand-in for a
    fake-quantized weight), and the wrapper maps the gradient back by the chain rule (3w²)."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: np.ndarray) -> np.ndarray:
        weight = self.layer.weight
        master = weight.value
        weight.value = master**3
        try:
            y = self.layer(x)
        finally:
            weight.value = master
        self._cache = (master,)
        return y

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        (master,) = self._saved()
        weight = self.layer.weight
        accumulated, weight.grad = weight.grad, np.zeros_like(weight.grad)
        grad_x = self.layer.backward(grad_y)
        accumulated += weight.grad * 3.0 * master**2
        weight.grad = accumulated
        return grad_x


def test_wrapping_a_layer_with_a_transformed_weight():
    rng = _rng()
    conv = nn.Conv2d(3, 2, 3, stride=2, padding="same", rng=rng, **F64)
    check_gradients(_CubedWeight(conv), _normal((2, 5, 5, 3)))
    depthwise = nn.DepthwiseConv2d(3, 3, depth_multiplier=2, padding="same", rng=rng, **F64)
    check_gradients(_CubedWeight(depthwise), _normal((2, 4, 4, 3)))
    check_gradients(_CubedWeight(nn.Linear(4, 3, rng=rng, **F64)), _normal((3, 4)))


def test_loss_gradient_and_stability():
    logits = _normal((5, 4)) * 3.0
    labels = np.array([0, 3, 1, 1, 2])
    loss, grad = nn.softmax_cross_entropy(logits, labels)
    _assert_close(
        grad, numeric_grad(lambda: nn.softmax_cross_entropy(logits, labels)[0], logits), "logits"
    )
    # Shifting every logit of a row changes nothing; huge logits do not overflow.
    shifted_loss, shifted_grad = nn.softmax_cross_entropy(logits + 1000.0, labels)
    assert shifted_loss == pytest.approx(loss, rel=1e-12)
    np.testing.assert_allclose(shifted_grad, grad, atol=1e-15)
    expected = -np.mean(np.log(np.exp(logits[np.arange(5), labels]) / np.exp(logits).sum(1)))
    assert loss == pytest.approx(expected, rel=1e-12)
    assert nn.accuracy(logits, logits.argmax(axis=1)) == 1.0
    with pytest.raises(ValueError, match="labels: class indices"):
        nn.softmax_cross_entropy(logits, np.array([0, 1, 2, 3, 4]))


# ---- forward against the float64 references ---------------------------------------------------


@st.composite
def conv_geometries(draw):
    n = draw(st.integers(1, 2))
    h, w, c = draw(st.integers(1, 9)), draw(st.integers(1, 9)), draw(st.integers(1, 3))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    stride = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dilation = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    padding = draw(
        st.one_of(
            st.sampled_from(["valid", "same"]),
            st.tuples(
                st.tuples(st.integers(0, 2), st.integers(0, 2)),
                st.tuples(st.integers(0, 2), st.integers(0, 2)),
            ),
        )
    )
    try:
        win = window((n, h, w, c), (kh, kw), stride, dilation, padding)
    except ValueError:
        assume(False)
    return (n, h, w, c), (kh, kw), stride, dilation, padding, win


def _explicit(win):
    return (win.top, win.bottom), (win.left, win.right)


@given(conv_geometries(), st.integers(1, 3), st.booleans())
def test_conv2d_forward_matches_reference(geometry, out_channels, bias):
    shape, kernel, stride, dilation, padding, win = geometry
    layer = nn.Conv2d(
        shape[3], out_channels, kernel, stride, padding, dilation, bias, rng=_rng(), **F64
    )
    if bias:
        layer.bias.value[:] = _normal(out_channels, seed=4)
    x = _normal(shape)
    b = None if layer.bias is None else layer.bias.value
    expected = F_conv.conv2d(x, layer.weight.value, b, stride, dilation, _explicit(win))
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-12)


@given(conv_geometries(), st.integers(1, 3))
def test_depthwise_forward_matches_reference(geometry, multiplier):
    shape, kernel, stride, dilation, padding, win = geometry
    layer = nn.DepthwiseConv2d(
        shape[3], kernel, multiplier, stride, padding, dilation, rng=_rng(), **F64
    )
    layer.bias.value[:] = _normal(layer.bias.value.shape, seed=4)
    x = _normal(shape)
    expected = F_conv.depthwise_conv2d(
        x, layer.weight.value, layer.bias.value, stride, dilation, _explicit(win), multiplier
    )
    y = layer(x)
    assert y.shape == (shape[0], win.out_h, win.out_w, shape[3] * multiplier)
    np.testing.assert_allclose(y, expected, rtol=1e-12, atol=1e-12)


@given(conv_geometries(), st.sampled_from(["max", "avg"]))
def test_pools_forward_match_reference(geometry, kind):
    shape, kernel, stride, _, padding, _ = geometry
    assume(isinstance(padding, str))  # TFLite pools take SAME or VALID only
    try:
        win = window(shape, kernel, stride, (1, 1), padding)
    except ValueError:
        assume(False)
    layer = (nn.MaxPool2d if kind == "max" else nn.AvgPool2d)(kernel, stride, padding)
    reference = F_pool.max_pool2d if kind == "max" else F_pool.avg_pool2d
    x = _normal(shape)
    expected = reference(x, *kernel, *stride, win.top, win.left, win.out_h, win.out_w)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12, atol=1e-12)


def test_pool_stride_defaults_to_kernel_and_empty_windows_are_rejected():
    x = np.arange(24.0).reshape(1, 4, 6, 1)  # each window's maximum is its bottom-right
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x)[0, :, :, 0], x[0, 1::2, 1::2, 0])
    with pytest.raises(ValueError, match="AvgPool2d: padding .* leaves a window with no input"):
        nn.AvgPool2d(2, stride=2, padding=((2, 0), (0, 0)))(x)


def test_linear_and_global_pool_forward():
    layer = nn.Linear(5, 3, rng=_rng(), **F64)
    layer.bias.value[:] = [1.0, -2.0, 0.5]
    x = _normal((4, 5))
    expected = F_gemm.dense(x, layer.weight.value, layer.bias.value)
    np.testing.assert_allclose(layer(x), expected, rtol=1e-12)
    x = _normal((2, 3, 4, 5))
    np.testing.assert_allclose(nn.GlobalAvgPool2d()(x), x.mean(axis=(1, 2)), rtol=1e-12)


@pytest.mark.parametrize(("size", "pads"), [(8, (0, 1)), (7, (1, 1)), (5, (1, 1)), (6, (0, 1))])
def test_same_padding_with_stride_2_is_tflite_same(size, pads):
    """TFLite SAME: out = ceil(in / 2), total = (out − 1)·2 + 3 − in, the odd tap after."""
    same = nn.Conv2d(2, 3, 3, stride=2, padding="same", rng=_rng(), **F64)
    explicit = nn.Conv2d(2, 3, 3, stride=2, padding=(pads, pads), rng=_rng(), **F64)
    x = _normal((1, size, size, 2))
    y = same(x)
    assert y.shape == (1, (size + 1) // 2, (size + 1) // 2, 3)
    np.testing.assert_array_equal(y, explicit(x))


def test_flatten_is_nhwc_order_with_channels_fastest():
    x = _normal((2, 3, 4, 5))
    y = nn.Flatten()(x)
    assert y.shape == (2, 60)
    assert y[1, (2 * 4 + 3) * 5 + 4] == x[1, 2, 3, 4]


def test_layouts_and_attributes():
    conv = nn.Conv2d(3, 8, (3, 2), stride=2, padding="same", dilation=1)
    assert conv.weight.value.shape == (8, 3, 2, 3) and conv.bias.value.shape == (8,)
    assert (conv.kernel_size, conv.stride, conv.dilation, conv.padding) == (
        (3, 2),
        (2, 2),
        (1, 1),
        "same",
    )
    dw = nn.DepthwiseConv2d(4, 3, depth_multiplier=2, bias=False)
    assert dw.weight.value.shape == (1, 3, 3, 8) and dw.bias is None
    assert dw.depth_multiplier == 2
    assert nn.Linear(6, 2).weight.value.shape == (2, 6)
    # Output channel i·multiplier + m reads input channel i only.
    dw = nn.DepthwiseConv2d(3, 1, depth_multiplier=2, bias=False, **F64)
    dw.weight.value[:] = 1.0
    x = _normal((1, 2, 2, 3))
    np.testing.assert_array_equal(dw(x), np.repeat(x, 2, axis=3))


def test_init_is_deterministic_and_he_or_glorot_bounded():
    a = nn.Conv2d(4, 6, 3, rng=np.random.default_rng(7))
    b = nn.Conv2d(4, 6, 3, rng=np.random.default_rng(7))
    np.testing.assert_array_equal(a.weight.value, b.weight.value)
    assert a.weight.value.dtype == np.float32
    limit = np.sqrt(6.0 / (3 * 3 * 4))
    assert np.abs(a.weight.value).max() <= limit < np.abs(a.weight.value).max() * 1.2
    w = nn.Linear(100, 50).weight.value
    assert np.abs(w).max() <= np.sqrt(6.0 / 150) < np.abs(w).max() * 1.2
    with pytest.raises(ValueError, match="init: expected one of"):
        nn.Linear(2, 2, init="zeros")


def test_dtype_follows_input():
    layer = nn.Sequential(nn.Conv2d(2, 3, 3, padding="same"), nn.BatchNorm2d(3), nn.ReLU())
    for dtype in (np.float32, np.float64):
        x = _normal((2, 5, 5, 2)).astype(dtype)
        y = layer(x)
        assert y.dtype == dtype
        assert layer.backward(np.ones_like(y)).dtype == dtype
    assert layer[0].weight.grad.dtype == np.float32


def test_bad_arguments_are_named():
    with pytest.raises(
        ValueError, match="Conv2d: input has 2 channels in its last axis, expected 3"
    ):
        nn.Conv2d(3, 4, 3)(np.zeros((1, 5, 5, 2), np.float32))
    with pytest.raises(ValueError, match="Conv2d: input must be a float array"):
        nn.Conv2d(3, 4, 3)(np.zeros((1, 5, 5, 3), np.int8))
    with pytest.raises(ValueError, match="padding: expected 'valid', 'same'"):
        nn.Conv2d(3, 4, 3, padding="SAME")
    with pytest.raises(ValueError, match="kernel_size"):
        nn.MaxPool2d(0)
    with pytest.raises(ValueError, match="out_channels: expected a positive int"):
        nn.Conv2d(3, 0, 3)
    with pytest.raises(ValueError, match="input row of 2 leaves an empty output"):
        nn.Conv2d(1, 1, 3)(np.zeros((1, 2, 5, 1), np.float32))
    with pytest.raises(RuntimeError, match="Linear: backward called before forward"):
        nn.Linear(2, 2).backward(np.zeros((1, 2)))
    layer = nn.Linear(2, 2)
    layer(np.zeros((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"Linear: backward got grad_y of shape \(2, 2\)"):
        layer.backward(np.zeros((2, 2)))


# ---- batch norm -------------------------------------------------------------------------------


def test_batchnorm_training_uses_batch_statistics_and_updates_moving_ones():
    bn = nn.BatchNorm2d(2, momentum=0.9, eps=1e-3, **F64)
    x = _normal((4, 3, 3, 2)) * np.array([2.0, 0.5]) + np.array([1.0, -3.0])
    y = bn(x)
    mean, var = x.mean(axis=(0, 1, 2)), x.var(axis=(0, 1, 2))
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-12)
    np.testing.assert_allclose(bn.moving_mean, 0.1 * mean, rtol=1e-12)
    # The moving variance accumulates the biased batch variance (Keras), not the unbiased one.
    np.testing.assert_allclose(bn.moving_variance, 0.9 + 0.1 * var, rtol=1e-12)
    assert not np.allclose(bn.moving_variance, 0.9 + 0.1 * x.var(axis=(0, 1, 2), ddof=1))


def test_batchnorm_eval_uses_moving_statistics_and_leaves_them():
    bn = nn.BatchNorm2d(2, **F64)
    bn.moving_mean[:] = [0.5, -1.0]
    bn.moving_variance[:] = [4.0, 0.25]
    bn.gamma.value[:] = [2.0, 3.0]
    bn.beta.value[:] = [0.1, 0.2]
    bn.eval()
    x = _normal((2, 2, 2, 2))
    expected = np.array([2.0, 3.0]) * (x - [0.5, -1.0]) / np.sqrt([4.001, 0.251]) + [0.1, 0.2]
    np.testing.assert_allclose(bn(x), expected, rtol=1e-12)
    np.testing.assert_array_equal(bn.moving_mean, [0.5, -1.0])
    np.testing.assert_array_equal(bn.moving_variance, [4.0, 0.25])


# ---- module protocol --------------------------------------------------------------------------


def _small_net():
    rng = _rng()
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding="same", rng=rng),
        nn.BatchNorm2d(4),
        nn.Residual(
            nn.Sequential(nn.Conv2d(4, 4, 3, padding="same", bias=False, rng=rng), nn.ReLU6())
        ),
        nn.GlobalAvgPool2d(),
        nn.Linear(4, 2, rng=rng),
    )


def test_module_tree_parameters_and_modes():
    net = _small_net()
    names = [name for name, _ in net.named_modules()]
    assert names == ["", "0", "1", "2", "2.body", "2.body.0", "2.body.1", "2.add", "3", "4"]
    params = net.parameters()
    assert [p.name for p in params] == [
        "weight",
        "bias",
        "gamma",
        "beta",
        "weight",
        "weight",
        "bias",
    ]
    assert params[0] is net[0].weight and params[-1] is net[-1].bias
    assert [p.name for p in net.parameters()] == [p.name for p in params]
    assert len(net) == 5 and list(net)[3] is net[3] and isinstance(net[2].add, nn.Add)
    assert all(m.training for _, m in net.named_modules())
    net.eval()
    assert not any(m.training for _, m in net.named_modules())
    net.train()
    assert all(m.training for _, m in net.named_modules())
    with pytest.raises(IndexError, match="index 5 out of range"):
        net[5]


def test_replacing_a_child_and_zero_grad():
    net = _small_net()
    x = _normal((2, 4, 4, 1)).astype(np.float32)
    net.backward(np.ones_like(net(x)))
    assert any(np.any(p.grad != 0) for p in net.parameters())
    net.zero_grad()
    assert all(np.all(p.grad == 0) for p in net.parameters())
    net[2].body[1] = nn.ReLU()
    assert isinstance(dict(net.named_modules())["2.body.1"], nn.ReLU)
    assert net(x).shape == (2, 2)


# ---- optimizers -------------------------------------------------------------------------------


def _quadratic():
    """``f(w) = ½ Σ a (w − t)²`` with a parameter starting at 0."""
    a, target = np.array([1.0, 4.0, 0.5]), np.array([1.0, -2.0, 3.0])
    param = nn.Parameter(np.zeros(3), "w")

    def set_grad():
        param.grad[:] = a * (param.value - target)

    return param, set_grad, target


@pytest.mark.parametrize(
    "make",
    [
        lambda ps: nn.SGD(ps, lr=0.2),
        lambda ps: nn.SGD(ps, lr=0.05, momentum=0.9),
        lambda ps: nn.Adam(ps, lr=0.05),
    ],
)
def test_optimizers_minimise_a_quadratic(make):
    param, set_grad, target = _quadratic()
    optimizer = make([param])
    for _ in range(1000):
        optimizer.zero_grad()
        set_grad()
        optimizer.step()
    np.testing.assert_allclose(param.value, target, atol=1e-4)


def test_optimizer_steps_are_exact():
    param, set_grad, _ = _quadratic()
    param.value[:] = [1.0, 1.0, 1.0]
    sgd = nn.SGD([param], lr=0.1, momentum=0.5, weight_decay=0.01)
    set_grad()  # a·(w − t) = [0, 12, −1]
    sgd.step()
    np.testing.assert_allclose(param.value, 1.0 - 0.1 * (np.array([0.0, 12.0, -1.0]) + 0.01))
    param, set_grad, _ = _quadratic()
    adam = nn.Adam([param], lr=0.01)
    set_grad()  # [−1, 8, −1.5]: the first Adam step is lr · sign(grad)
    adam.step()
    np.testing.assert_allclose(param.value, [0.01, -0.01, 0.01], rtol=1e-6)
    with pytest.raises(ValueError, match="lr: expected a positive"):
        nn.SGD([param], lr=0.0)


# ---- training ---------------------------------------------------------------------------------


def _bars(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """8×8 images of a horizontal, vertical, diagonal or anti-diagonal bar at a random offset,
    plus noise; the label is the orientation."""
    labels = rng.integers(0, 4, n)
    offsets = rng.integers(1, 7, n)
    images = rng.normal(0.0, 0.2, (n, 8, 8)).astype(np.float32)
    rows = np.arange(n)
    for i in range(8):
        images[rows[labels == 0], offsets[labels == 0], i] += 1.0
        images[rows[labels == 1], i, offsets[labels == 1]] += 1.0
        images[rows[labels == 2], i, i] += 1.0
        images[rows[labels == 3], i, 7 - i] += 1.0
    return images[..., None], labels


def test_tiny_cnn_learns_a_separable_dataset():
    rng = np.random.default_rng(0)
    x, y = _bars(640, rng)
    model = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding="same", rng=rng),
        nn.BatchNorm2d(8),
        nn.ReLU6(),
        nn.DepthwiseConv2d(8, 3, padding="same", rng=rng),
        nn.GlobalAvgPool2d(),
        nn.Linear(8, 4, rng=rng),
    )
    history = nn.fit(
        model,
        x[:512],
        y[:512],
        epochs=12,
        batch_size=32,
        optimizer=nn.Adam(model.parameters(), lr=1e-2),
        rng=rng,
        progress=False,
    )
    assert len(history) == 12 and history[-1] < 0.5 * history[0]
    logits = nn.predict(model, x[512:], batch_size=50)
    assert logits.shape == (128, 4) and not model.training
    assert nn.accuracy(logits, y[512:]) >= 0.95
