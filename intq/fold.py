"""Batch-norm folding (Jacob et al. 2018, §3.2, eq. (14); docs/fold.md).

Three layers, as PyTorch splits ``fuse_conv_bn_weights`` from ``fuse_conv_bn_eval`` (STYLE 11):

* ``fold_batch_norm``: the pure array function that the int8 converter and everything else call;
* ``fold_bn``: the guarded wrapper that turns an eval-mode ``layer → BatchNorm2d`` pair into one
  layer;
* ``FoldedConvBN``: the QAT block that trains the folded weights, TF1's
  ``tensorflow/contrib/quantize/python/fold_batch_norms.py`` (``_FoldFusedBatchNorms``,
  ``_ComputeBatchNormCorrections``) in NumPy, with its forward and backward side by side.
"""

from __future__ import annotations

import copy

import numpy as np

from .nn import BatchNorm2d, Conv2d, DepthwiseConv2d, Linear, Module, Parameter


def _float_array(value: object, name: str) -> np.ndarray:
    """``value`` as a finite float ndarray; a ``ValueError`` naming ``name`` otherwise."""
    arr = np.asarray(value)
    if arr.dtype == bool or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise ValueError(f"{name}: expected real numbers, got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        i = int(np.argmax(~np.isfinite(arr.ravel())))
        raise ValueError(f"{name}: must be finite, got {arr.ravel()[i].item()!r} at flat index {i}")
    return arr


def _per_channel(value: object, name: str, channels: int) -> np.ndarray:
    """``value`` as a finite float vector of ``channels`` entries."""
    arr = _float_array(value, name)
    if arr.shape != (channels,):
        raise ValueError(
            f"{name}: expected shape ({channels},), one value per output channel, got {arr.shape}"
        )
    return arr


def fold_batch_norm(
    weight: np.ndarray,
    bias: np.ndarray | None,
    gamma: np.ndarray,
    beta: np.ndarray,
    mean: np.ndarray,
    variance: np.ndarray,
    eps: float,
    *,
    channel_axis: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The weight and bias of one layer equal to ``layer → BN`` with fixed statistics.

    Jacob et al. 2018, §3.2, eq. (14) (numbered as in docs/quantization.md §9): with
    ``k = γ / sqrt(σ² + ε)`` per output channel ``c``,

        w_fold[c] = w[c] · k[c]          (``c`` indexes ``weight`` along ``channel_axis``)
        b_fold[c] = β[c] + (b[c] − μ[c]) · k[c]          (``b = 0`` when ``bias`` is None)

    ``channel_axis`` is the output-channel axis of ``weight``: 0 for a Conv2d (OHWI) or Linear
    (out, in) weight, 3 (or −1) for a DepthwiseConv2d (1HWO) weight. ``bias``, ``gamma``,
    ``beta``, ``mean`` and ``variance`` are vectors with one entry per output channel. The
    arithmetic is float64; both results have the dtype the inputs promote to (at least
    float32), and the bias is always an array. A ``ValueError`` names the first argument that
    has the wrong shape, is not finite, or has ``variance < 0`` or ``eps ≤ 0``.
    """
    w = _float_array(weight, "weight")
    if w.ndim == 0:
        raise ValueError("weight: expected an array with an output-channel axis, got a scalar")
    if isinstance(channel_axis, bool) or not isinstance(channel_axis, (int, np.integer)):
        raise ValueError(f"channel_axis: must be an int, got {channel_axis!r}")
    if not -w.ndim <= channel_axis < w.ndim:
        raise ValueError(
            f"channel_axis: {channel_axis} is out of range for weight of ndim {w.ndim}"
        )
    axis = int(channel_axis) % w.ndim
    channels = w.shape[axis]
    b = None if bias is None else _per_channel(bias, "bias", channels)
    g = _per_channel(gamma, "gamma", channels)
    beta_ = _per_channel(beta, "beta", channels)
    mu = _per_channel(mean, "mean", channels)
    var = _per_channel(variance, "variance", channels)
    if np.any(var < 0):
        i = int(np.argmax(var < 0))
        raise ValueError(f"variance: must be >= 0, got {float(var[i])!r} at channel {i}")
    if isinstance(eps, bool) or not np.isscalar(eps) or not np.isfinite(eps) or not eps > 0:
        raise ValueError(f"eps: must be a finite number > 0, got {eps!r}")
    inputs = [w, g, beta_, mu, var] + ([] if b is None else [b])
    dtype = np.result_type(*inputs, np.float32)
    scale = g.astype(np.float64) / np.sqrt(var.astype(np.float64) + float(eps))
    view = [1] * w.ndim
    view[axis] = channels
    w_fold = w.astype(np.float64) * scale.reshape(view)
    b64 = np.zeros(channels) if b is None else b.astype(np.float64)
    b_fold = beta_.astype(np.float64) + (b64 - mu.astype(np.float64)) * scale
    return w_fold.astype(dtype), b_fold.astype(dtype)


_LAYERS = (Conv2d, DepthwiseConv2d, Linear)


def _channel_axis(layer: Module, name: str = "layer") -> int:
    """The output-channel axis of ``layer``'s weight: 3 for DepthwiseConv2d (1HWO), else 0."""
    if not isinstance(layer, _LAYERS):
        raise ValueError(
            f"{name}: expected a Conv2d, DepthwiseConv2d or Linear, got {type(layer).__name__}"
        )
    return 3 if isinstance(layer, DepthwiseConv2d) else 0


def _check_pair(layer: Module, bn: Module) -> int:
    """The weight's channel axis, after checking that ``bn`` is a BatchNorm2d over ``layer``'s
    output channels."""
    axis = _channel_axis(layer)
    if not isinstance(bn, BatchNorm2d):
        raise ValueError(f"bn: expected a BatchNorm2d, got {type(bn).__name__}")
    channels = layer.weight.value.shape[axis]
    if bn.channels != channels:
        raise ValueError(
            f"bn: normalizes {bn.channels} channels, but {type(layer).__name__} has "
            f"{channels} output channels"
        )
    return axis


def _with_parameters(layer: Module, weight: np.ndarray, bias: np.ndarray | None) -> Module:
    """A copy of ``layer`` (same geometry and mode) with new ``weight`` and ``bias`` Parameters
    and no cached forward."""
    clone = copy.copy(layer)
    clone.weight = Parameter(weight, "weight")
    clone.bias = None if bias is None else Parameter(bias, "bias")
    clone._cache = None
    return clone


def fold_bn(layer: Module, bn: BatchNorm2d) -> Module:
    """A new layer of ``layer``'s type equal to ``layer → bn`` with ``bn`` in eval mode.

    Its weight and bias are ``fold_batch_norm`` of ``layer``'s and ``bn``'s moving statistics,
    in ``layer``'s weight dtype; the bias exists even when ``layer`` had none. Neither input is
    modified. A ``ValueError`` when ``layer`` is not a Conv2d, DepthwiseConv2d or Linear, ``bn``
    is not a BatchNorm2d over its output channels, ``bn`` is in training mode (its forward uses
    batch statistics, which no folded layer reproduces), or ``bn`` never saw data.

    BatchNorm2d keeps no count of its updates, so "never saw data" is detected as moving
    statistics still exactly at their initial values, mean 0 and variance 1 in every channel.
    A BN whose statistics really are those folds with ``fold_batch_norm`` directly.
    """
    axis = _check_pair(layer, bn)
    if bn.training:
        raise ValueError(
            "bn: BatchNorm2d is in training mode, where it normalizes with batch statistics; "
            "call .eval() on it before folding"
        )
    if np.all(bn.moving_mean == 0) and np.all(bn.moving_variance == 1):
        raise ValueError(
            "bn: the moving statistics are still at their initial values (mean 0, variance 1); "
            "run training batches through the BatchNorm2d before folding it"
        )
    bias = None if layer.bias is None else layer.bias.value
    gamma, beta = bn.gamma.value, bn.beta.value
    w_fold, b_fold = fold_batch_norm(
        layer.weight.value, bias, gamma, beta, bn.moving_mean, bn.moving_variance, bn.eps,
        channel_axis=axis,
    )  # fmt: skip
    dtype = layer.weight.value.dtype
    return _with_parameters(layer, w_fold.astype(dtype), b_fold.astype(dtype))


class FoldedConvBN(Module):
    """``layer → bn`` trained as the folded layer the int8 converter will build (Jacob et al.
    2018, §3.2 and Figure C.8), exactly as TF1 builds it in
    ``tensorflow/contrib/quantize/python/fold_batch_norms.py`` (``_FoldFusedBatchNorms`` and
    ``_ComputeBatchNormCorrections``); docs/fold.md draws the graph.

    With ``σ = √(moving_variance + eps)``, ``μ = moving_mean`` and, in training, ``μ_B``,
    ``σ_B²`` the mean and biased variance of the unfolded output ``z = layer(x)`` over every
    axis but the last::

        w_fold = w · γ / σ                               moving statistics, eq. (14)
        u      = conv(x, fq(w_fold))                     fq = weight_fake_quant (identity if None)
        before the freeze:  y = (σ / σ_B) · u + β + γ · (b − μ_B) / σ_B
        frozen, and eval:   y = u + β + γ · (b − μ) / σ = conv(x, fq(w_fold)) + b_fold

    TF multiplies the weights by ``correction_scale = σ_B / σ`` before folding them with the
    batch σ_B and the conv output by ``correction_recip = σ / σ_B``; after the freeze it adds
    ``correction_offset = γ·(μ_B/σ_B − μ/σ)`` to the batch-statistics bias. Both are the formulas
    above, whose values and gradients are the same (the σ_B factors cancel). Without fake
    quantization the training output before the freeze is ``bn(z)`` with batch statistics.

    Each training-mode ``forward`` is one step: it increments ``step`` first and is frozen when
    ``step ≥ freeze_bn_delay`` (TF's ``greater_equal(quantization_step, delay)`` on the
    incremented step), so steps 1 … ``freeze_bn_delay − 1`` use batch statistics; None
    never freezes. Before the freeze it updates ``bn.moving_mean`` and ``bn.moving_variance``
    with the batch statistics as ``BatchNorm2d`` does, after it they stay fixed (TF sets the
    decay to 0). The weights are folded with the moving statistics read before the update.

    ``backward`` returns the gradient with respect to ``x`` and adds the gradients of
    ``layer.weight``, ``layer.bias``, ``bn.gamma``, ``bn.beta`` (and ``weight_fake_quant``'s own
    parameters, through its ``backward``), through the batch statistics before the freeze.
    """

    def __init__(
        self,
        layer: Module,
        bn: BatchNorm2d,
        *,
        weight_fake_quant: Module | None = None,
        freeze_bn_delay: int | None = None,
    ) -> None:
        super().__init__()
        self._axis = _check_pair(layer, bn)
        if weight_fake_quant is not None and not isinstance(weight_fake_quant, Module):
            raise ValueError(
                "weight_fake_quant: expected a Module or None, "
                f"got {type(weight_fake_quant).__name__}"
            )
        if freeze_bn_delay is not None and (
            isinstance(freeze_bn_delay, bool)
            or not isinstance(freeze_bn_delay, (int, np.integer))
            or freeze_bn_delay < 0
        ):
            raise ValueError(
                f"freeze_bn_delay: expected None or an int >= 0, got {freeze_bn_delay!r}"
            )
        self.layer = layer
        self.bn = bn
        self.weight_fake_quant = weight_fake_quant
        self.freeze_bn_delay = None if freeze_bn_delay is None else int(freeze_bn_delay)
        self.step = 0

    def folded_weight_and_bias(self) -> tuple[np.ndarray, np.ndarray]:
        """``fold_batch_norm`` of the layer with the BN's **moving** statistics: the float,
        unquantized ``(w_fold, b_fold)`` that the int8 converter quantizes."""
        layer, bn = self.layer, self.bn
        return fold_batch_norm(
            layer.weight.value, None if layer.bias is None else layer.bias.value,
            bn.gamma.value, bn.beta.value, bn.moving_mean, bn.moving_variance, bn.eps,
            channel_axis=self._axis,
        )  # fmt: skip

    @property
    def frozen(self) -> bool:
        """Whether the next ``forward`` uses the moving statistics: in eval mode, and in training
        from step ``freeze_bn_delay`` on."""
        delay = self.freeze_bn_delay
        return not self.training or (delay is not None and self.step + 1 >= delay)

    def _channel_view(self, v: np.ndarray) -> np.ndarray:
        """``v`` (one value per output channel) shaped to broadcast along the weight's axis."""
        view = [1] * self.layer.weight.value.ndim
        view[self._axis] = v.size
        return v.reshape(view)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``y`` as in the class docstring; one step in training mode."""
        frozen = self.frozen
        x = np.asarray(x)
        bn, dtype = self.bn, x.dtype
        gamma = bn.gamma.value.astype(dtype)
        bias = np.zeros(bn.channels, dtype) if self.layer.bias is None else self.layer.bias.value
        sigma = np.sqrt(bn.moving_variance.astype(dtype) + dtype.type(bn.eps))
        w_fold = self.folded_weight_and_bias()[0].astype(dtype)
        fq = self.weight_fake_quant
        conv = _with_parameters(self.layer, w_fold if fq is None else fq.forward(w_fold), None)
        u = conv.forward(x)
        if frozen:
            z = None
            mean, sigma_used, ratio = bn.moving_mean.astype(dtype), sigma, np.ones_like(sigma)
        else:
            z = self.layer.forward(x)
            axes = tuple(range(z.ndim - 1))
            mean = z.mean(axis=axes)
            variance = np.square(z - mean).mean(axis=axes)
            sigma_used = np.sqrt(variance + dtype.type(bn.eps))
            ratio = sigma / sigma_used
            _update_moving_statistics(bn, mean, variance)
        if self.training:
            self.step += 1
        offset = (bias.astype(dtype) - mean) / sigma_used
        self._cache = (conv, u, z, mean, sigma_used, ratio, sigma, gamma, offset)
        return ratio * u + bn.beta.value.astype(dtype) + gamma * offset

    def backward(self, grad_y: np.ndarray) -> np.ndarray:
        """The gradient with respect to the last forward's ``x``; parameter gradients added."""
        conv, u, z, mean, sigma_used, ratio, sigma, gamma, offset = self._saved()
        layer, bn = self.layer, self.bn
        g = np.asarray(grad_y)
        if g.shape != u.shape:
            raise ValueError(f"FoldedConvBN: backward got grad_y of shape {g.shape}, the output "
                             f"was {u.shape}")  # fmt: skip
        axes = tuple(range(g.ndim - 1))
        g_sum = g.sum(axis=axes)
        grad_x = conv.backward(ratio * g)
        grad_q = conv.weight.grad
        fq = self.weight_fake_quant
        grad_w_fold = grad_q if fq is None else fq.backward(grad_q)
        # w_fold = w · γ/σ with the moving σ, a constant.
        w = layer.weight.value
        layer.weight.grad += grad_w_fold * self._channel_view(gamma / sigma)
        other = tuple(i for i in range(w.ndim) if i != self._axis)
        bn.gamma.grad += (grad_w_fold * w).sum(axis=other) / sigma + g_sum * offset
        bn.beta.grad += g_sum
        if layer.bias is not None:
            layer.bias.grad += gamma / sigma_used * g_sum
        if z is None:
            return grad_x
        # Batch statistics: y depends on μ_B through γ(b − μ_B)/σ_B and on σ_B through both terms.
        count = z.size // z.shape[-1]
        grad_mean = -gamma / sigma_used * g_sum
        grad_sigma = -(sigma * (g * u).sum(axis=axes) / sigma_used + gamma * offset * g_sum)
        grad_sigma /= sigma_used
        grad_variance = grad_sigma / (2 * sigma_used)  # σ_B = √(σ_B² + ε)
        grad_z = (grad_mean + 2 * grad_variance * (z - mean)) / count
        return grad_x + layer.backward(grad_z)


def _update_moving_statistics(bn: BatchNorm2d, mean: np.ndarray, variance: np.ndarray) -> None:
    """``moving = momentum · moving + (1 − momentum) · batch`` for the mean and the biased
    variance, in place: ``BatchNorm2d``'s training-mode update."""
    for moving, batch in ((bn.moving_mean, mean), (bn.moving_variance, variance)):
        moving *= bn.momentum
        moving += (1.0 - bn.momentum) * batch
