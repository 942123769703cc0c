"""Float64 reference of the fully connected layer (TFLite's float ``reference_ops::FullyConnected``
without the fused activation)."""

import numpy as np


def dense(x, w, bias=None):
    """``y[..., n] = Σ_k x[..., k] · w[n, k] + bias[n]`` in float64.

    ``x`` has shape ``(..., K)``, ``w`` ``(N, K)`` (TFLite's FC weight layout), ``bias`` ``(N,)`` or
    None; the result has shape ``(..., N)``.
    """
    x = np.asarray(x, dtype=np.float64)
    w = np.asarray(w, dtype=np.float64)
    if w.ndim != 2 or x.ndim < 1 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"dense: x {x.shape} and w {w.shape} do not match (x (..., K), w (N, K))")
    y = np.einsum("...k,nk->...n", x, w)
    if bias is not None:
        y = y + np.asarray(bias, dtype=np.float64)
    return y
