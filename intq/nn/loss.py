"""Softmax cross-entropy and accuracy for integer class labels."""

from __future__ import annotations

import numpy as np


def _checked_labels(logits: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    logits = np.asarray(logits)
    labels = np.asarray(labels)
    if logits.ndim != 2 or 0 in logits.shape:
        raise ValueError(f"logits: expected a non-empty (N, classes) array, got {logits.shape}")
    if labels.shape != logits.shape[:1] or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(
            f"labels: expected {logits.shape[0]} integer class indices, got {labels.dtype} "
            f"array of shape {labels.shape}"
        )
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise ValueError(f"labels: class indices must lie in [0, {logits.shape[1]})")
    return logits, labels


def softmax_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> tuple[float, np.ndarray]:
    """``(loss, grad_logits)``: the mean over the batch of ``−log softmax(logits)[label]`` and its
    gradient ``(softmax(logits) − onehot(labels)) / N``. Stable for large logits (the row
    maximum is subtracted first). ``logits`` ``(N, classes)`` float, ``labels`` ``(N,)`` int."""
    logits, labels = _checked_labels(logits, labels)
    n = logits.shape[0]
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_sum = np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    log_probs = shifted - log_sum
    rows = np.arange(n)
    loss = float(-log_probs[rows, labels].mean())
    grad = np.exp(log_probs)
    grad[rows, labels] -= 1.0
    return loss, grad / n


def accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    """The fraction of rows whose largest logit is at the label's index."""
    logits, labels = _checked_labels(logits, labels)
    return float((logits.argmax(axis=1) == labels).mean())
