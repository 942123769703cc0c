"""Mini-batch training and batched prediction for classifiers built from ``intq.nn`` modules."""

from __future__ import annotations

import sys

import numpy as np
from tqdm import tqdm

from ._common import positive_int
from .loss import softmax_cross_entropy
from .module import Module
from .optim import Optimizer


def _batches(n: int, batch_size: int, order: np.ndarray | None = None) -> list[np.ndarray]:
    order = np.arange(n) if order is None else order
    return [order[start : start + batch_size] for start in range(0, n, batch_size)]


def fit(
    model: Module,
    x: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int,
    batch_size: int,
    optimizer: Optimizer,
    rng: np.random.Generator,
    progress: bool = True,
) -> list[float]:
    """Train ``model`` (set to training mode) on ``(x, y)`` with softmax cross-entropy:
    ``epochs`` passes over the data in an order shuffled by ``rng`` each epoch, one
    ``optimizer.step()`` per mini-batch of ``batch_size`` (the last one may be smaller). Shows a
    tqdm bar on stderr unless ``progress`` is False. Returns the mean loss of each epoch
    (weighted by batch size)."""
    epochs = positive_int(epochs, "epochs")
    batch_size = positive_int(batch_size, "batch_size")
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"x, y: expected the same non-zero number of rows, got {len(x)}, {len(y)}")
    model.train()
    steps = epochs * len(_batches(len(x), batch_size))
    history = []
    with tqdm(total=steps, file=sys.stderr, disable=not progress, unit="batch") as bar:
        for epoch in range(epochs):
            total = 0.0
            for rows in _batches(len(x), batch_size, rng.permutation(len(x))):
                optimizer.zero_grad()
                loss, grad_logits = softmax_cross_entropy(model(x[rows]), y[rows])
                model.backward(grad_logits)
                optimizer.step()
                total += loss * len(rows)
                bar.set_postfix(epoch=epoch + 1, loss=f"{loss:.4f}", refresh=False)
                bar.update()
            history.append(total / len(x))
    return history


def predict(model: Module, x: np.ndarray, batch_size: int = 256) -> np.ndarray:
    """``model``'s outputs for ``x``, computed in eval mode (the model is left in eval mode) in
    batches of ``batch_size`` and concatenated along the first axis."""
    batch_size = positive_int(batch_size, "batch_size")
    x = np.asarray(x)
    if len(x) == 0:
        raise ValueError("x: expected at least one row")
    model.eval()
    return np.concatenate([model(x[rows]) for rows in _batches(len(x), batch_size)])
