"""Helpers shared by the test files (exact neighbors, recall)."""
from __future__ import annotations

import numpy as np


def exact_knn(xb: np.ndarray, xq: np.ndarray, k: int, metric: str) -> np.ndarray:
    """Exact neighbors in float64 (ties → smaller id)."""
    b, q = xb.astype(np.float64), xq.astype(np.float64)
    if metric == "l2":
        score = -((q * q).sum(1)[:, None] - 2 * q @ b.T + (b * b).sum(1)[None, :])
    elif metric == "cosine":
        score = (q / np.linalg.norm(q, axis=1, keepdims=True)) @ (b / np.linalg.norm(b, axis=1, keepdims=True)).T
    else:
        score = q @ b.T
    return np.argsort(-score, axis=1, kind="stable")[:, :k]


def recall_at(ids: np.ndarray, gt: np.ndarray, k: int) -> float:
    """k-recall@k: mean fraction of the true top-k found in the returned top-k."""
    return float(np.mean([np.intersect1d(ids[i, :k], gt[i, :k]).size / k for i in range(len(ids))]))
