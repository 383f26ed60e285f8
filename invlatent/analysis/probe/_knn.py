"""k-nearest-neighbour probes as in DINO's evaluation: no training, only the latents' geometry.

``cosine`` (default): L2-normalised features, the k most similar training rows vote with weight
exp(similarity / T), T = 0.07 (Wu et al. 2018; Caron et al. 2021). ``euclidean``: uniform vote
(labels) or mean (targets) of the k nearest rows. k is chosen on the inner holdout of the training
split from a fixed grid; the neighbour search is exact (brute force, chunked, scikit-learn).
"""

from __future__ import annotations

import numpy as np

K_CLASSIFY = (10, 20, 100, 200)
K_REGRESS = (5, 10, 20, 50, 100)
TEMPERATURE = 0.07
METRICS = ("cosine", "euclidean")
MAX_TUNING_QUERIES = 2000  # holdout rows used to choose k; the search dominates the cost
_CHUNK = 4096


class KnnProbe:
    """Weighted kNN vote (labels) or weighted mean (targets) with k chosen on the inner holdout."""

    def __init__(self, *, regression: bool, metric: str = "cosine", seed: int = 0) -> None:
        self.regression = regression
        self.metric = metric
        self.seed = seed

    def fit(self, x: np.ndarray, y: np.ndarray, holdout: np.ndarray) -> KnnProbe:
        """Keep the training rows and choose k on (at most 2,000 rows of) the holdout."""
        x = self._prepare(x)
        val = np.flatnonzero(holdout)
        if val.size > MAX_TUNING_QUERIES:
            val = np.sort(np.random.default_rng(self.seed).choice(val, MAX_TUNING_QUERIES, False))
        ref = np.flatnonzero(~holdout)
        grid = self._grid(ref.size)
        preds = self._predict_all(x[ref], y[ref], x[val], grid)
        if self.regression:
            mse = np.stack([((p - y[val]) ** 2).mean(axis=0) for p in preds])
            self.k_ = np.asarray(grid)[np.argmin(mse, axis=0)]
        else:
            acc = [float(np.mean(p == y[val])) for p in preds]
            self.k_ = np.asarray([grid[int(np.argmax(acc))]])
        self.x_, self.y_ = x, y
        self.chosen_ = {"k": [int(k) for k in self.k_] if self.regression else int(self.k_[0])}
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        ks = tuple(int(k) for k in np.unique(self.k_))
        preds = dict(
            zip(ks, self._predict_all(self.x_, self.y_, self._prepare(x), ks), strict=True)
        )
        if not self.regression:
            return preds[int(self.k_[0])]
        return np.stack([preds[int(k)][:, t] for t, k in enumerate(self.k_)], axis=1)

    def _grid(self, n_ref: int) -> tuple[int, ...]:
        grid = K_REGRESS if self.regression else K_CLASSIFY
        return tuple(sorted({min(k, n_ref) for k in grid}))

    def _prepare(self, x: np.ndarray) -> np.ndarray:
        if self.metric == "euclidean":
            return x
        norm = np.linalg.norm(x, axis=1, keepdims=True)
        return x / np.where(norm > 0, norm, 1)

    def _predict_all(self, ref, y_ref, queries, ks: tuple[int, ...]) -> list[np.ndarray]:
        """Predictions for every k in ``ks`` from one neighbour search."""
        from sklearn.neighbors import NearestNeighbors

        nn = NearestNeighbors(n_neighbors=max(ks), algorithm="brute").fit(ref)
        parts = [
            self._vote(*nn.kneighbors(queries[i : i + _CHUNK]), y_ref, ks)
            for i in range(0, len(queries), _CHUNK)
        ]
        return [np.concatenate([p[j] for p in parts]) for j in range(len(ks))]

    def _vote(self, dist, idx, y_ref, ks) -> list[np.ndarray]:
        if (
            self.metric == "cosine"
        ):  # unit vectors: |a-b|² = 2 - 2cos, so exp(-|a-b|²/2T) ∝ exp(cos/T)
            w = np.exp(-(dist.astype(np.float64) ** 2) / (2 * TEMPERATURE))
        else:
            w = np.ones(dist.shape)
        if self.regression:
            return _weighted_means(w, y_ref[idx], ks)
        return _weighted_votes(w, y_ref[idx], int(y_ref.max()) + 1, ks)


def _weighted_means(w: np.ndarray, y_nb: np.ndarray, ks) -> list[np.ndarray]:
    """Weighted mean of the first k neighbours' targets ``y_nb`` (q, kmax, T), for each k."""
    num = np.cumsum(w[:, :, None] * y_nb, axis=1)
    den = np.cumsum(w, axis=1)
    return [num[:, k - 1] / den[:, k - 1, None] for k in ks]


def _weighted_votes(w: np.ndarray, y_nb: np.ndarray, n_classes: int, ks) -> list[np.ndarray]:
    """The class with the largest summed weight among the first k neighbours, for each k."""
    q = len(w)
    rows = np.arange(q)[:, None] * n_classes
    out = []
    for k in ks:
        flat = (rows + y_nb[:, :k]).ravel()
        votes = np.bincount(flat, weights=w[:, :k].ravel(), minlength=q * n_classes)
        out.append(votes.reshape(q, n_classes).argmax(axis=1))
    return out
