"""Spatial geometry shared by the windowed ops (conv, depthwise, pools): strides, dilations,
and the padding of LiteRT ``kernels/padding.h`` (ComputeOutSize, ComputePaddingWithOffset)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

IntPair = int | Sequence[int]
Padding = str | Sequence[Sequence[int]]


def is_int(value: object) -> bool:
    """True for Python/NumPy integers, False for bools."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def int_pair(value: object, name: str) -> tuple[int, int]:
    """A positive int or a pair ``(h, w)`` of positive ints, as ``(h, w)``; else ``ValueError``."""
    if is_int(value):
        pair = (int(value), int(value))  # type: ignore[arg-type]
    elif isinstance(value, Sequence) and len(value) == 2 and all(is_int(v) for v in value):
        pair = (int(value[0]), int(value[1]))
    else:
        raise ValueError(f"{name}: expected a positive int or a pair (h, w) of them, got {value!r}")
    if min(pair) < 1:
        raise ValueError(f"{name}: must be positive, got {value!r}")
    return pair


def explicit_padding(padding: object) -> tuple[int, int, int, int]:
    """``((top, bottom), (left, right))`` → ``(top, bottom, left, right)``, non-negative ints."""
    try:
        (top, bottom), (left, right) = padding  # type: ignore[misc]
        values = (top, bottom, left, right)
        ok = all(is_int(v) for v in values)
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise ValueError(
            "padding: expected 'valid', 'same' or ((top, bottom), (left, right)) of "
            f"non-negative ints, got {padding!r}"
        )
    if min(values) < 0:
        raise ValueError(f"padding: explicit padding must be non-negative, got {padding!r}")
    return int(top), int(bottom), int(left), int(right)


def padding_along_axis(
    in_size: int,
    filter_size: int,
    stride: int,
    dilation: int,
    padding: str | tuple[int, int],
    axis: str,
) -> tuple[int, int, int]:
    """``(pad_before, pad_after, out_size)`` along one spatial axis.

    ``"same"``: ``out = ceil(in / stride)``, ``total = max((out − 1)·stride + eff − in, 0)`` with
    ``eff = (filter − 1)·dilation + 1``, ``before = total // 2`` (the extra tap goes after, as in
    LiteRT); ``"valid"``: no padding, ``out = (in − eff) // stride + 1``; explicit
    ``(before, after)``: ``out = (in + before + after − eff) // stride + 1``. An empty output is a
    ``ValueError`` naming ``axis``.
    """
    effective = (filter_size - 1) * dilation + 1
    if padding == "same":
        out_size = (in_size + stride - 1) // stride
        total = max((out_size - 1) * stride + effective - in_size, 0)
        before, after = total // 2, total - total // 2
    elif padding == "valid":
        before = after = 0
        out_size = (in_size - effective) // stride + 1 if in_size >= effective else 0
    else:
        before, after = padding  # type: ignore[misc]
        span = in_size + before + after - effective
        out_size = span // stride + 1 if span >= 0 else 0
    if out_size < 1:
        raise ValueError(
            f"padding: a {filter_size}-tap filter with dilation {dilation} spans {effective} "
            f"input {axis}s; with {padding!r} padding the input {axis} of {in_size} leaves an "
            "empty output"
        )
    return before, after, out_size


def window_geometry(
    x_shape: tuple[int, ...], filter_hw: tuple[int, int], stride: IntPair, dilation: IntPair,
    padding: Padding,
) -> tuple[int, ...]:  # fmt: skip
    """``(stride_h, stride_w, dilation_h, dilation_w, top, bottom, left, right, out_h, out_w)``
    of a ``filter_hw`` window over an NHWC input of ``x_shape``."""
    stride_h, stride_w = int_pair(stride, "stride")
    dilation_h, dilation_w = int_pair(dilation, "dilation")
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(
                "padding: expected 'valid', 'same' or ((top, bottom), (left, right)), "
                f"got {padding!r}"
            )
        pad_h: object = padding
        pad_w: object = padding
    else:
        top, bottom, left, right = explicit_padding(padding)
        pad_h, pad_w = (top, bottom), (left, right)
    top, bottom, out_h = padding_along_axis(
        x_shape[1], filter_hw[0], stride_h, dilation_h, pad_h, "row"
    )
    left, right, out_w = padding_along_axis(
        x_shape[2], filter_hw[1], stride_w, dilation_w, pad_w, "column"
    )
    return stride_h, stride_w, dilation_h, dilation_w, top, bottom, left, right, out_h, out_w
