"""The demo's digits split: disjoint, complete, stratified and reproducible."""

import numpy as np
import pytest

from intq.data import _stratified_indices, load_digits

pytest.importorskip("sklearn", reason="the digits data need the demo extra (scikit-learn)")


def test_split_is_disjoint_complete_stratified_and_reproducible():
    split = load_digits()
    parts = [
        (split.x_train, split.y_train),
        (split.x_calibration, split.y_calibration),
        (split.x_test, split.y_test),
    ]
    assert sum(len(y) for _, y in parts) == 1797
    for x, y in parts:
        assert x.shape == (len(y), 8, 8, 1) and x.dtype == np.float32
        assert 0.0 <= x.min() and x.max() <= 1.0
        # every class in every part, in about the population's proportion
        counts = np.bincount(y, minlength=10)
        assert counts.min() > 0 and counts.max() / counts.min() < 1.3
    assert len(split.y_test) == pytest.approx(0.25 * 1797, abs=10)
    assert len(split.y_calibration) == pytest.approx(0.1 * 1797, abs=10)
    again = load_digits()
    assert np.array_equal(again.x_test, split.x_test) and np.array_equal(
        again.y_train, split.y_train
    )
    assert not np.array_equal(load_digits(seed=1).y_test, split.y_test)


def test_stratified_indices_partition_every_class():
    labels = np.repeat(np.arange(4), [10, 7, 3, 25])
    parts = _stratified_indices(labels, (0.25, 0.1), np.random.default_rng(3))
    joined = np.concatenate(parts)
    assert np.array_equal(np.sort(joined), np.arange(len(labels)))  # disjoint and complete
    test, calibration, _ = parts
    assert np.bincount(labels[test], minlength=4).tolist() == [2, 2, 1, 6]  # round(0.25 n)
    assert np.bincount(labels[calibration], minlength=4).tolist() == [1, 1, 0, 2]


def test_bad_fractions_are_refused():
    with pytest.raises(ValueError, match="test_fraction, calibration_fraction"):
        load_digits(test_fraction=0.8, calibration_fraction=0.3)
