"""``intq demo``: one quantized matrix product, step by step, as in Jacob et al. §2.

Quantize a random float matrix pair, multiply the integers with int32 accumulation using the
zero-point expansion (eq. (7)–(8)), requantize with a fixed-point multiplier (eq. (5)–(6)), and
report the error against the float product and the agreement with the pure-Python oracle.
"""

from __future__ import annotations

import numpy as np

from . import fixed_point
from .profiles import available_profiles, get_profile
from .qparams import choose_qparams
from .quantize import dequantize, quantize
from .reference import int_oracle


def integer_matmul(
    q1: np.ndarray, z1: int, q2: np.ndarray, z2: int
) -> tuple[np.ndarray, np.ndarray]:
    """``Σ_j (q1[i,j] − z1)(q2[j,k] − z2)`` two ways, in int64: direct, and by eq. (7)–(8).

    Eq. (7): ``N·z1·z2 − z1·a2[k] − z2·ā1[i] + Σ_j q1[i,j]·q2[j,k]`` with the column sums
    ``a2[k] = Σ_j q2[j,k]`` and row sums ``ā1[i] = Σ_j q1[i,j]`` of eq. (8).
    """
    a = q1.astype(np.int64)
    b = q2.astype(np.int64)
    direct = (a - z1) @ (b - z2)
    n = a.shape[1]
    row_sums = a.sum(axis=1, keepdims=True)  # ā1
    col_sums = b.sum(axis=0, keepdims=True)  # a2
    expanded = n * z1 * z2 - z1 * col_sums - z2 * row_sums + a @ b
    return direct, expanded


def run(m: int = 64, k: int = 256, n: int = 64, seed: int = 0) -> dict[str, float | int]:
    """Run the demo and print its report; returns the figures it printed."""
    rng = np.random.default_rng(seed)
    r1 = rng.normal(0.3, 1.0, (m, k)).astype(np.float32)  # asymmetric activations
    r2 = rng.normal(0.0, 0.05, (k, n)).astype(np.float32)  # weights
    reference = r1.astype(np.float64) @ r2.astype(np.float64)

    qp1 = choose_qparams(float(r1.min()), float(r1.max()))
    qp2 = choose_qparams(float(r2.min()), float(r2.max()), symmetric=True, narrow_range=True)
    qp3 = choose_qparams(float(reference.min()), float(reference.max()))
    q1, q2 = quantize(r1, qp1), quantize(r2, qp2)

    direct, expanded = integer_matmul(q1, qp1.zero_point, q2, qp2.zero_point)
    if np.abs(direct).max() >= 2**31:
        raise OverflowError("demo: the int32 accumulator would overflow; use a smaller k")
    acc = direct.astype(np.int32)

    real_multiplier = qp1.scale * qp2.scale / qp3.scale  # eq. (5), in double
    multiplier, shift = fixed_point.quantize_multiplier(real_multiplier)  # eq. (6)
    results = {}
    for name in available_profiles():
        scaled = get_profile(name).multiply_by_quantized_multiplier(acc, multiplier, shift)
        results[name] = np.clip(scaled.astype(np.int64) + qp3.zero_point, qp3.qmin, qp3.qmax)
    q3 = results["tflite"].astype(qp3.dtype)

    oracle_q3 = np.array(
        [
            [
                min(
                    max(
                        int_oracle.multiply_by_quantized_multiplier(int(v), multiplier, shift)
                        + qp3.zero_point,
                        qp3.qmin,
                    ),
                    qp3.qmax,
                )
                for v in row
            ]
            for row in acc.tolist()
        ]
    )
    # Two float yardsticks, in output steps: the product of the dequantized int8 inputs (what the
    # integers compute exactly, so only requantization and the output clamp differ), and the
    # product of the original floats (adds the error of quantizing the inputs).
    exact = dequantize(q1, qp1, dtype=np.float64) @ dequantize(q2, qp2, dtype=np.float64)

    def steps_off(real: np.ndarray) -> np.ndarray:
        wanted = np.clip(real / qp3.scale + qp3.zero_point, qp3.qmin, qp3.qmax)
        return np.abs(q3.astype(np.float64) - wanted)

    requant_error = steps_off(exact)
    total_error = steps_off(reference)
    double_vs_single = int(np.count_nonzero(results["tflite"] != results["tflite-single-rounding"]))

    figures = {
        "oracle_mismatches": int(np.count_nonzero(oracle_q3 != q3)),
        "expansion_mismatches": int(np.count_nonzero(direct != expanded)),
        "requantization_max_error_steps": float(requant_error.max()),
        "total_max_error_steps": float(total_error.max()),
        "total_mean_error_steps": float(total_error.mean()),
        "double_vs_single_rounding": double_vs_single,
    }
    lines = [
        "intq demo: one integer-only matrix product (Jacob et al. 2018, eq. (1)-(8))",
        f"  r3 = r1 @ r2 with r1 {m}x{k} (activations) and r2 {k}x{n} (weights), seed {seed}",
        f"  r1: scale {qp1.scale:.6g}, zero_point {qp1.zero_point}  (asymmetric int8)",
        f"  r2: scale {qp2.scale:.6g}, zero_point {qp2.zero_point}  (symmetric, [-127, 127])",
        f"  r3: scale {qp3.scale:.6g}, zero_point {qp3.zero_point}",
        f"  M = S1*S2/S3 = {real_multiplier:.10g} -> multiplier {multiplier}, shift {shift}"
        f"  (M0 = {multiplier / 2**31:.10f}, M0 * 2^{shift} = "
        f"{multiplier * 2.0 ** (shift - 31):.10g})",
        f"  int32 accumulators span [{acc.min()}, {acc.max()}]",
        "",
        f"  eq. (7) row/column-sum expansion vs direct sum: "
        f"{figures['expansion_mismatches']} mismatches of {acc.size}",
        f"  integer result vs pure-Python oracle:            "
        f"{figures['oracle_mismatches']} mismatches of {acc.size}",
        "  error in output steps (1 step = output scale):",
        f"    vs the float product of the dequantized inputs (requantization only): "
        f"max {figures['requantization_max_error_steps']:.3f}",
        f"    vs the float product of the original inputs (all quantization error): "
        f"max {figures['total_max_error_steps']:.3f}, mean {figures['total_mean_error_steps']:.3f}",
        f"  double vs single rounding (profiles 'tflite' and 'tflite-single-rounding'): "
        f"{double_vs_single} of {acc.size} outputs differ by one step",
    ]
    print("\n".join(lines))
    return figures
