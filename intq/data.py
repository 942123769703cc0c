"""The demo's data: the handwritten digits set that scikit-learn ships (no download).

1,797 grey 8×8 images of the digits 0–9 (UCI "Optical Recognition of Handwritten Digits"), with
pixel values 0..16. ``load_digits`` returns them as NHWC float32 images scaled to [0, 1] and
splits them once, stratified by class with a fixed seed, into disjoint train, calibration and
test sets: calibration images (for PTQ observers) never appear in training or in the test set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Split:
    """Images ``x`` (N, 8, 8, 1) float32 in [0, 1] and labels ``y`` (N,) int64 of each part."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_calibration: np.ndarray
    y_calibration: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def _stratified_indices(
    labels: np.ndarray, fractions: tuple[float, ...], rng: np.random.Generator
) -> list[np.ndarray]:
    """Split the indices of each class by ``fractions`` (the last part takes the rest)."""
    parts: list[list[np.ndarray]] = [[] for _ in range(len(fractions) + 1)]
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        bounds = np.cumsum([round(f * len(idx)) for f in fractions])
        for part, chunk in zip(parts, np.split(idx, bounds), strict=True):
            part.append(chunk)
    return [np.sort(np.concatenate(p)) for p in parts]


def load_digits(
    *, test_fraction: float = 0.25, calibration_fraction: float = 0.1, seed: int = 0
) -> Split:
    """The scikit-learn digits as a stratified train/calibration/test ``Split``.

    ``test_fraction`` and ``calibration_fraction`` of each class go to the test and calibration
    sets, the rest to training; the same ``seed`` gives the same split. Needs the ``demo``
    extra (``pip install 'intq[demo]'``): ``ImportError`` saying so otherwise.
    """
    try:
        from sklearn.datasets import load_digits as _sklearn_digits
    except ImportError:
        raise ImportError(
            "the digits data come with scikit-learn: pip install 'intq[demo]'"
        ) from None
    if not (
        0 < test_fraction and 0 < calibration_fraction and test_fraction + calibration_fraction < 1
    ):
        raise ValueError(
            f"test_fraction, calibration_fraction: expected positive fractions summing below 1, "
            f"got {test_fraction!r} and {calibration_fraction!r}"
        )
    digits = _sklearn_digits()
    x = (digits.images.astype(np.float32) / np.float32(16.0))[..., np.newaxis]
    y = digits.target.astype(np.int64)
    rng = np.random.default_rng(seed)
    test, calibration, train = _stratified_indices(y, (test_fraction, calibration_fraction), rng)
    return Split(x[train], y[train], x[calibration], y[calibration], x[test], y[test])


__all__ = ["Split", "load_digits"]
