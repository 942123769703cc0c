"""Integer GEMM kernels of the fully connected family (TFLite FULLY_CONNECTED).

``out[m, n] = clamp(requantize(Σ_k (w[n, k] − w_zp)(x[m, k] − x_zp) + bias[n], M[n], shift[n])
+ out_zp)``, bit for bit as LiteRT's reference kernels
``tflite/kernels/internal/reference/integer_ops/fully_connected.h`` (int8 per-tensor and
per-channel, and the 16x8 ``FullyConnected<AccumScalar>``) and ``reference/fully_connected.h``
(uint8, with a weight offset); SEMANTICS.md §4.4.

Structure (gemmlowp / GotoBLAS; each stage its own ``@njit`` function):

1. ``pack_panels`` of the weights (once per layer): ``w`` (N, K) int8 → panels
   ``(N/NR, K/KU, NR, KU)``: NR output columns side by side, K in groups of KU consecutive
   values (each column's group one contiguous run that the micro-kernel's vectorized dot
   product streams), zero-padded at the N and K edges; plus the raw column sums
   ``col_sums[n] = Σ_k w[n, k]`` (eq. (8), ``a2``).
2. ``pack_panels`` of the activations (every call): ``x`` (M, K) int8/uint8/int16 → int16 panels
   ``(M/MR, K/KU, MR, KU)``, zero-padded; plus the raw row sums ``row_sums[m] = Σ_k x[m, k]``
   (eq. (8), ``ā1``).
3. ``micro_kernel``: one register tile ``acc (MR, NR) = Σ x·w`` over one K block of at most
   ``KC_MAX = 256`` values, in int32 (exact: ``|x·w| <= 2^15 · 2^7 = 2^22``, so a block sums to
   at most ``2^30``).
4. ``gemm_panels``: the cache-blocked loop nest for a block of NC columns: NR-wide panels, K
   blocks of KC, MR-row tiles (serial: Numba's ``prange`` scheduler uses float arithmetic, so
   threads, when they come, split panel ranges outside the kernel); block sums are
   added into an int64 tile ``acc64`` — exact (raw Σ x·w over any K below 2^40 fits int64).
5. ``requantize_epilogue``: the zero points by the row/column-sum expansion of
   Jacob et al. eq. (7) (``expand_zero_points``), then ``+ bias → requantize → + out_zp → clamp →
   store`` in TFLite's order.

Accumulator arithmetic: everything up to and including ``+ bias`` is exact in int64. The result
is then brought to the type of TFLite's accumulator: for DOUBLE_ROUNDING and SINGLE_ROUNDING
(``int32_t acc``), ``wrap_int32`` — the two's-complement value C's int32 adds produce, so the
result equals TFLite's whenever TFLite's int32 sum does not overflow (``intq.ops`` proves it
cannot) and is still a defined, oracle-checked value when it does; for INT64_ACCUMULATOR
(16x8 with int64 bias, ``int64_t acc``) it stays int64. Exact int64 terms make the eq. (7)
expansion safe even where its intermediate terms leave int32 (e.g. ``x_zp = −128`` with large
K); the result equals the literal ``Σ (w − w_zp)(x − x_zp)`` of the reference kernel.

Block sizes: ``MR``, ``NR``, ``KU`` are layout constants (the packed layout depends on them);
``KC_GROUPS`` (K block, in groups of KU) and ``NC_PANELS`` (N block, in panels of NR) are tuning
parameters that the ``*_packed`` entry points take as arguments; results never depend on them.

No floats: integer arrays and int64 scalars in, caller-allocated ``out`` last.
"""

import numpy as np
from numba import njit

from .fixed_point import INT32_MAX, INT32_MIN, INT64_ACCUMULATOR, requantize, wrap_int32

# Epilogue code beside fixed_point's rounding codes: store the int32 accumulator (after + bias)
# without requantization, zero point or clamp.
RAW_ACCUMULATOR = -1

MR = 4  # rows (batch) of a register tile
NR = 8  # columns (output channels) of a register tile: one packed weight panel
KU = 64  # consecutive K values per column in a panel: one vectorized dot product
KC_MAX = 256  # largest K block whose int32 tile sum is exact for int16 × int8 (256 · 2^22 = 2^30)
KC_GROUPS = KC_MAX // KU  # default K block, in groups of KU
NC_PANELS = 64  # default N block, in panels of NR (512 output channels)


def packed_weights_shape(n: int, k: int) -> tuple[int, int, int, int]:
    """Shape of the packed weights of an (n, k) weight matrix: ``(⌈n/NR⌉, ⌈k/KU⌉, NR, KU)``."""
    return (-(-n // NR), -(-k // KU), NR, KU)


def packed_activations_shape(m: int, k: int) -> tuple[int, int, int, int]:
    """Shape of the packed activations of an (m, k) input: ``(⌈m/MR⌉, ⌈k/KU⌉, MR, KU)``."""
    return (-(-m // MR), -(-k // KU), MR, KU)


_FC = (
    "void({x}[:, ::1], int64, int8[:, ::1], int64, {b}[::1], int32[::1], int32[::1], int64, "
    "int64, int64, int64, {o}[:, ::1])"
)
_FC_PACKED = (
    "void({x}[:, ::1], int64, int8[:, :, :, ::1], int64[::1], int64, {b}[::1], int32[::1], "
    "int32[::1], int64, int64, int64, int64, int64, int64, {o}[:, ::1])"
)
_FC_INT32 = "void({x}[:, ::1], int64, int8[:, ::1], int64, int32[::1], int32[:, ::1])"
_FC_INT32_PACKED = (
    "void({x}[:, ::1], int64, int8[:, :, :, ::1], int64[::1], int64, int32[::1], int64, int64, "
    "int32[:, ::1])"
)
_EPILOGUE = (
    "void(int64[:, ::1], int64[::1], int64[::1], int64, int64, int64, {b}[::1], int32[::1], "
    "int32[::1], int64, int64, int64, int64, int64, int64, {o}[:, ::1])"
)
_ACTIVATIONS = ("int8", "uint8", "int16")
# (activation, bias, output) dtypes: 8-bit and 16x8 with an int32 bias use int32 accumulators;
# 16x8 with an int64 bias uses int64 accumulators (rounding code INT64_ACCUMULATOR); the raw
# accumulator output (RAW_ACCUMULATOR) is int32.
_VARIANTS = (
    ("int8", "int32", "int8"),
    ("uint8", "int32", "uint8"),
    ("int16", "int32", "int16"),
    ("int16", "int64", "int16"),
    *((x, "int32", "int32") for x in _ACTIVATIONS),
)

SIGNATURES: dict[str, list[str]] = {
    "fully_connected": [_FC.format(x=x, b=b, o=o) for x, b, o in _VARIANTS],
    "fully_connected_packed": [_FC_PACKED.format(x=x, b=b, o=o) for x, b, o in _VARIANTS],
    "fully_connected_int32": [_FC_INT32.format(x=x) for x in _ACTIVATIONS],
    "fully_connected_int32_packed": [_FC_INT32_PACKED.format(x=x) for x in _ACTIVATIONS],
    "pack_panels": [
        "void(int8[:, ::1], int8[:, :, :, ::1], int64[::1])",
        *(f"void({x}[:, ::1], int16[:, :, :, ::1], int64[::1])" for x in _ACTIVATIONS),
    ],
    "micro_kernel": [
        "void(int16[:, :, :, ::1], int64, int8[:, :, :, ::1], int64, int64, int64, int32[:, ::1])"
    ],
    "gemm_panels": [
        "void(int16[:, :, :, ::1], int8[:, :, :, ::1], int64, int64, int64, int64[:, ::1])"
    ],
    "check_packed_shapes": ["void(" + ", ".join(["int64"] * 12) + ")"],
    "expand_zero_points": ["int64(int64, int64, int64, int64, int64, int64)"],
    "requantize_epilogue": [_EPILOGUE.format(b=b, o=o) for _, b, o in _VARIANTS],
}


# ---- packing --------------------------------------------------------------------------------


@njit(cache=True)
def pack_panels(src, packed, sums):
    """Pack the rows of ``src`` into panels and compute their raw sums (both operands).

    With ``R = packed.shape[2]`` rows per panel: ``packed[p, g, r, u] = src[p·R + r, g·KU + u]``
    (0 outside the matrix) and ``sums[i] = Σ_k src[i, k]`` in int64 (eq. (8)). Weights ``w``
    (N, K) int8 → ``packed_weights_shape`` (R = NR; ``sums`` are the column sums ``a2`` of
    ``wᵀ``), once per layer; activations ``x`` (M, K) int8/uint8/int16 → int16
    ``packed_activations_shape`` (R = MR; ``sums`` are the row sums ``ā1``), every call.
    """
    k_total = src.shape[1]
    rows = packed.shape[2]
    packed[...] = 0
    for i in range(src.shape[0]):
        p = i // rows
        total = np.int64(0)
        for g in range(packed.shape[1]):
            row = packed[p, g, i - p * rows]
            k0 = g * KU
            for u in range(min(KU, k_total - k0)):
                row[u] = src[i, k0 + u]
                total += np.int64(src[i, k0 + u])
        sums[i] = total


# ---- compute --------------------------------------------------------------------------------


@njit(cache=True)
def micro_kernel(a, q, b, p, g0, g1, acc):
    """Register tile: ``acc[i, j] = Σ_{g in [g0, g1)} Σ_u a[q, g, i, u] · b[p, g, j, u]`` (int32).

    One MR×NR tile of raw products (no zero points) over one K block of ``(g1 − g0)·KU <= KC_MAX``
    values: ``|x·w| <= 2^22``, so the int32 sum is exact. Padded rows/columns compute zeros.
    """
    # 2×2 sub-tiles of four int32 reductions over the K block: each loaded value feeds two
    # products. The u loop reads its trip count (KU) from the array so that LLVM vectorizes it
    # (vpmovsx + vpmulld/vpmaddwd + vpaddd) instead of unrolling it; the np.int32 casts keep the
    # sums in int32 lanes (Numba would otherwise widen the products to int64).
    ku = a.shape[3]
    for i in range(0, MR, 2):
        for j in range(0, NR, 2):
            s00 = np.int32(0)
            s01 = np.int32(0)
            s10 = np.int32(0)
            s11 = np.int32(0)
            for g in range(g0, g1):
                a0 = a[q, g, i]
                a1 = a[q, g, i + 1]
                b0 = b[p, g, j]
                b1 = b[p, g, j + 1]
                for u in range(ku):
                    x0 = np.int32(a0[u])
                    x1 = np.int32(a1[u])
                    w0 = np.int32(b0[u])
                    w1 = np.int32(b1[u])
                    s00 = np.int32(s00 + x0 * w0)
                    s01 = np.int32(s01 + x0 * w1)
                    s10 = np.int32(s10 + x1 * w0)
                    s11 = np.int32(s11 + x1 * w1)
            acc[i, j] = s00
            acc[i, j + 1] = s01
            acc[i + 1, j] = s10
            acc[i + 1, j + 1] = s11


@njit(cache=True)
def gemm_panels(a, b, kc_groups, p0, p1, acc64):
    """Raw ``Σ_k x[m, k] · w[n, k]`` for the columns of weight panels ``[p0, p1)``, all rows.

    ``acc64[m, (p − p0)·NR + j]`` (int64, shape ``(M, ≥ (p1 − p0)·NR)``) receives the sum for
    output column ``n = p·NR + j``. Loop nest: panels (a caller may split ``[p0, p1)`` across
    threads: each output column depends on its own panel only), then K blocks
    of ``kc_groups`` groups (the panel's K block stays in L1 while all MR-row tiles pass over it),
    then MR-row tiles through ``micro_kernel``; block sums are added in int64 (exact).
    """
    m_total = acc64.shape[0]
    k_groups = b.shape[1]
    q_total = a.shape[0]
    for pi in range(p1 - p0):
        p = p0 + pi
        col0 = pi * NR
        tile = np.empty((MR, NR), np.int32)
        for m in range(m_total):
            for j in range(NR):
                acc64[m, col0 + j] = 0
        for g0 in range(0, k_groups, kc_groups):
            g1 = min(g0 + kc_groups, k_groups)
            for q in range(q_total):
                micro_kernel(a, np.int64(q), b, np.int64(p), np.int64(g0), np.int64(g1), tile)
                m0 = q * MR
                rows = min(MR, m_total - m0)
                for i in range(rows):
                    for j in range(NR):
                        acc64[m0 + i, col0 + j] += np.int64(tile[i, j])


# ---- epilogues ------------------------------------------------------------------------------


@njit(cache=True)
def expand_zero_points(raw, row_sum, col_sum, x_zero_point, w_zero_point, depth):
    """``Σ_k (w − w_zp)(x − x_zp)`` from the raw ``Σ_k x·w`` (Jacob et al. eq. (7)):

    ``Σ x·w − x_zp · Σ_k w[n, k] − w_zp · Σ_k x[m, k] + K · x_zp · w_zp``, with the sums of
    eq. (8) (``col_sum = a2[n]``, ``row_sum = ā1[m]``). All int64: exact, no intermediate wraps.
    """
    return (
        np.int64(raw)
        - np.int64(x_zero_point) * np.int64(col_sum)
        - np.int64(w_zero_point) * np.int64(row_sum)
        + np.int64(depth) * np.int64(x_zero_point) * np.int64(w_zero_point)
    )


@njit(cache=True)
def requantize_epilogue(
    acc64, row_sums, col_sums, x_zero_point, w_zero_point, depth, bias, multiplier, shift,
    rounding, out_zero_point, act_min, act_max, n0, n1, out,
):  # fmt: skip
    """TFLite's FC output stage for output columns ``[n0, n1)`` (``acc64`` column ``n − n0``).

    ``acc = expand_zero_points(...) + bias[n]``; ``acc = wrap_int32(acc)`` unless ``rounding`` is
    INT64_ACCUMULATOR (C's ``int32_t`` accumulator; see the module docstring);
    with ``rounding == RAW_ACCUMULATOR`` that ``acc`` is stored as it is and nothing more happens;
    ``acc = requantize(acc, multiplier[n], shift[n], rounding)``; ``acc += out_zero_point``;
    ``clamp(acc, act_min, act_max)``; store.
    """
    m_total = out.shape[0]
    for m in range(m_total):
        for n in range(n0, n1):
            acc = expand_zero_points(
                acc64[m, n - n0], row_sums[m], col_sums[n], x_zero_point, w_zero_point, depth
            )
            acc += np.int64(bias[n])
            if rounding != INT64_ACCUMULATOR:
                acc = wrap_int32(acc)
            if rounding == RAW_ACCUMULATOR:
                out[m, n] = acc
                continue
            value = np.int64(requantize(acc, np.int64(multiplier[n]), np.int64(shift[n]), rounding))
            value += out_zero_point
            value = max(value, act_min)
            value = min(value, act_max)
            out[m, n] = value


# ---- entry points ---------------------------------------------------------------------------


@njit(cache=True)
def check_packed_shapes(
    rows, depth, out_rows, columns, panels, groups, panel_width, group_width, sums, biases,
    kc_groups, nc_panels,
):  # fmt: skip
    """Raise ``ValueError`` unless the shapes fit together: ``x`` (rows, depth), ``out``
    (out_rows, columns), packed weights (panels, groups, panel_width, group_width) =
    ``packed_weights_shape(columns, depth)``, ``sums`` col sums and ``biases`` bias entries (one
    per column), ``1 <= kc_groups <= KC_MAX / KU`` and ``nc_panels >= 1``."""
    if rows != out_rows:
        raise ValueError("gemm: x and out have different numbers of rows")
    if sums != columns or biases != columns:
        raise ValueError("gemm: col_sums and bias need one entry per output column")
    if panels != (columns + NR - 1) // NR or groups != (depth + KU - 1) // KU:
        raise ValueError("gemm: packed weights are not packed_weights_shape(N, K)")
    if panel_width != NR or group_width != KU:
        raise ValueError("gemm: packed weights are not (panels, groups, NR, KU)")
    if kc_groups < 1 or kc_groups * KU > KC_MAX or nc_panels < 1:
        raise ValueError("gemm: need 1 <= kc_groups <= KC_MAX / KU and nc_panels >= 1")


@njit(cache=True)
def fully_connected_packed(
    x, x_zero_point, packed_w, col_sums, w_zero_point, bias, multiplier, shift, rounding,
    out_zero_point, act_min, act_max, kc_groups, nc_panels, out,
):  # fmt: skip
    """FULLY_CONNECTED on pre-packed weights (``pack_panels``); see ``fully_connected``.

    ``kc_groups`` (K block, in groups of KU, at most KC_MAX / KU) and ``nc_panels`` (N block, in
    panels of NR) choose the cache blocking; the result does not depend on them.
    """
    check_packed_shapes(
        np.int64(x.shape[0]), np.int64(x.shape[1]), np.int64(out.shape[0]),
        np.int64(out.shape[1]), np.int64(packed_w.shape[0]), np.int64(packed_w.shape[1]),
        np.int64(packed_w.shape[2]), np.int64(packed_w.shape[3]), np.int64(col_sums.shape[0]),
        np.int64(bias.shape[0]), kc_groups, nc_panels,
    )  # fmt: skip
    m_total = x.shape[0]
    depth = x.shape[1]
    n_total = out.shape[1]
    a = np.empty(((m_total + MR - 1) // MR, (depth + KU - 1) // KU, MR, KU), np.int16)
    row_sums = np.empty(m_total, np.int64)
    pack_panels(x, a, row_sums)
    panels = packed_w.shape[0]
    acc64 = np.empty((m_total, min(nc_panels, max(panels, 1)) * NR), np.int64)
    for p0 in range(0, panels, nc_panels):
        p1 = min(p0 + nc_panels, panels)
        gemm_panels(a, packed_w, kc_groups, np.int64(p0), np.int64(p1), acc64)
        requantize_epilogue(
            acc64, row_sums, col_sums, x_zero_point, w_zero_point, np.int64(depth), bias,
            multiplier, shift, rounding, out_zero_point, act_min, act_max, np.int64(p0 * NR),
            np.int64(min(p1 * NR, n_total)), out,
        )  # fmt: skip


@njit(cache=True)
def fully_connected(
    x, x_zero_point, w, w_zero_point, bias, multiplier, shift, rounding, out_zero_point,
    act_min, act_max, out,
):  # fmt: skip
    """TFLite FULLY_CONNECTED (``reference/integer_ops/fully_connected.h``,
    ``reference/fully_connected.h``) with requantization.

    ``x`` (M, K) int8/uint8/int16, ``w`` (N, K) int8, ``bias`` (N,) int32 (int64 with rounding
    INT64_ACCUMULATOR, the 16x8 int64-bias kernel), ``multiplier``/``shift`` (N,) int32 per output
    channel; ``out`` (M, N) of x's dtype:
    ``out[m, n] = clamp(requantize(Σ_k (w[n, k] − w_zp)(x[m, k] − x_zp) + bias[n], M[n], shift[n],
    rounding) + out_zp, act_min, act_max)``, the accumulator as in the module docstring.
    Packs ``w`` on every call; use ``pack_panels`` + ``fully_connected_packed`` to pack once.
    """
    n_total = w.shape[0]
    if w.shape[1] != x.shape[1]:
        raise ValueError("fully_connected: x and w have different depths K")
    packed = np.empty(((n_total + NR - 1) // NR, (w.shape[1] + KU - 1) // KU, NR, KU), np.int8)
    col_sums = np.empty(n_total, np.int64)
    pack_panels(w, packed, col_sums)
    fully_connected_packed(
        x, x_zero_point, packed, col_sums, w_zero_point, bias, multiplier, shift, rounding,
        out_zero_point, act_min, act_max, np.int64(KC_GROUPS), np.int64(NC_PANELS), out,
    )  # fmt: skip


@njit(cache=True)
def fully_connected_int32_packed(
    x, x_zero_point, packed_w, col_sums, w_zero_point, bias, kc_groups, nc_panels, out
):
    """The raw int32 accumulator on pre-packed weights; see ``fully_connected_int32``."""
    unused = np.zeros(out.shape[1], np.int32)
    fully_connected_packed(
        x, x_zero_point, packed_w, col_sums, w_zero_point, bias, unused, unused,
        np.int64(RAW_ACCUMULATOR), np.int64(0), np.int64(INT32_MIN), np.int64(INT32_MAX),
        kc_groups, nc_panels, out,
    )  # fmt: skip


@njit(cache=True)
def fully_connected_int32(x, x_zero_point, w, w_zero_point, bias, out):
    """The raw accumulator of FULLY_CONNECTED:
    ``out[m, n] = wrap_int32(Σ_k (w[n, k] − w_zp)(x[m, k] − x_zp) + bias[n])`` (int32 ``out``),
    i.e. TFLite's ``int32_t acc`` after ``acc += bias``, before requantization."""
    unused = np.zeros(out.shape[1], np.int32)
    fully_connected(
        x, x_zero_point, w, w_zero_point, bias, unused, unused, np.int64(RAW_ACCUMULATOR),
        np.int64(0), np.int64(INT32_MIN), np.int64(INT32_MAX), out,
    )  # fmt: skip
