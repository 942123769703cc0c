"""Deterministic weight initialisation and the argument checks shared by the layers."""

from __future__ import annotations

import numpy as np
from numpy.typing import DTypeLike

from intq.ops._geometry import explicit_padding, is_int

INITS = ("he_uniform", "glorot_uniform")


def uniform_init(
    rng: np.random.Generator | None,
    shape: tuple[int, ...],
    fan_in: int,
    fan_out: int,
    init: str,
    dtype: DTypeLike,
) -> np.ndarray:
    """An array of ``shape`` drawn from U(−limit, limit) with ``rng`` (``default_rng(0)`` when
    None): ``limit = √(6 / fan_in)`` for ``"he_uniform"``, ``√(6 / (fan_in + fan_out))`` for
    ``"glorot_uniform"``."""
    if init == "he_uniform":
        limit = np.sqrt(6.0 / fan_in)
    elif init == "glorot_uniform":
        limit = np.sqrt(6.0 / (fan_in + fan_out))
    else:
        raise ValueError(f"init: expected one of {INITS}, got {init!r}")
    rng = np.random.default_rng(0) if rng is None else rng
    return rng.uniform(-limit, limit, size=shape).astype(dtype)


def positive_int(value: object, name: str) -> int:
    """``value`` as an int if it is a positive integer; else a ``ValueError`` naming ``name``."""
    if not is_int(value) or int(value) < 1:  # type: ignore[call-overload]
        raise ValueError(f"{name}: expected a positive int, got {value!r}")
    return int(value)  # type: ignore[call-overload]


def checked_padding(padding: object) -> str | tuple[tuple[int, int], tuple[int, int]]:
    """``"valid"``, ``"same"``, or explicit padding as ``((top, bottom), (left, right))`` ints;
    else a ``ValueError`` naming ``padding``."""
    if isinstance(padding, str):
        if padding not in ("valid", "same"):
            raise ValueError(
                f"padding: expected 'valid', 'same' or ((top, bottom), (left, right)), "
                f"got {padding!r}"
            )
        return padding
    top, bottom, left, right = explicit_padding(padding)
    return (top, bottom), (left, right)


def checked_input(x: np.ndarray, ndim: int, layer: str, channels: int | None) -> np.ndarray:
    """``x`` if it is a float array with ``ndim`` dimensions and ``channels`` in its last axis
    (any when None); else a ``ValueError`` naming ``layer``."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{layer}: input must be a float array, got dtype {x.dtype}")
    if x.ndim != ndim:
        raise ValueError(f"{layer}: input must have {ndim} dimensions, got shape {x.shape}")
    if channels is not None and x.shape[-1] != channels:
        raise ValueError(
            f"{layer}: input has {x.shape[-1]} channels in its last axis, expected {channels}"
        )
    return x


def checked_grad(grad_y: np.ndarray, shape: tuple[int, ...], layer: str) -> np.ndarray:
    """``grad_y`` if its shape is the last output's ``shape``; else a ``ValueError``."""
    grad_y = np.asarray(grad_y)
    if grad_y.shape != shape:
        raise ValueError(
            f"{layer}: backward got grad_y of shape {grad_y.shape}, the output was {shape}"
        )
    return grad_y
