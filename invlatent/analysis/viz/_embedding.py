"""Two-dimensional embeddings (PCA, UMAP, t-SNE), seeded, that can also place extra points.

Extra points (orbit members) are placed the way the panel's data are: PCA and UMAP fit on the
data and ``transform`` the extras; t-SNE has no ``transform``, so it embeds data and extras
together. Extra rows that agree to within ``TOLERANCE`` (relative to the data's largest entry,
well above float32 rounding) are embedded once, so an orbit that an invariant projection maps to
one vector is drawn as exactly one point by every method.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np

from invlatent.errors import InvlatentError

METHODS = ("pca", "umap", "tsne")
NAMES = {"pca": "PCA", "umap": "UMAP", "tsne": "t-SNE"}
TOLERANCE = 1e-5
EXACT_TSNE = 1000  # below this many points exact t-SNE is faster than Barnes-Hut


@dataclass(frozen=True)
class Settings:
    """Method parameters; only those of the chosen method are used and recorded."""

    method: str = "pca"
    seed: int = 0
    n_neighbors: int = 15
    min_dist: float = 0.1
    perplexity: float = 30.0
    epochs: int | None = None

    def check(self) -> None:
        """Refuse, before any work, parameters the chosen method cannot use."""
        if self.method not in METHODS:
            raise InvlatentError(f"unknown method {self.method!r}: use {', '.join(METHODS)}")
        low = {"umap": {"n_neighbors": (self.n_neighbors, 2), "epochs": (self.epochs, 1)},
               "tsne": {"epochs": (self.epochs, 250)}}.get(self.method, {})  # fmt: skip
        for name, (value, least) in low.items():
            if value is not None and value < least:
                raise InvlatentError(f"{name} must be at least {least} for {self.method}")
        if self.method == "umap" and not 0.0 <= self.min_dist <= 1.0:
            raise InvlatentError(f"min_dist must be between 0 and 1, got {self.min_dist}")
        if self.method == "tsne" and not self.perplexity > 0:
            raise InvlatentError(f"perplexity must be positive, got {self.perplexity}")

    def params(self) -> dict:
        """The parameters of the chosen method, as recorded in figure metadata."""
        common = {"method": self.method, "seed": self.seed}
        if self.method == "umap":
            return {
                **common,
                "n_neighbors": self.n_neighbors,
                "min_dist": self.min_dist,
                "n_epochs": self.epochs,
            }
        if self.method == "tsne":
            return {
                **common,
                "perplexity": self.perplexity,
                "max_iter": self.epochs or 1000,
                "init": "pca",
            }
        return common


@dataclass
class Embedding:
    """2-D coordinates of the data rows and of the extra points, with what made them."""

    xy: np.ndarray
    extra_xy: np.ndarray
    params: dict
    axis_labels: tuple[str, str]
    explained: list[float] = field(default_factory=list)


def embed(x: np.ndarray, extra: np.ndarray, settings: Settings) -> Embedding:
    """Embed rows ``x`` of shape ``(n, D)`` in 2-D, and place ``extra`` ``(m, D)`` the same way."""
    settings.check()
    if x.shape[0] < 3 or x.shape[1] < 2:
        raise InvlatentError(
            f"an embedding needs at least 3 points with 2 features, got {x.shape[0]} x {x.shape[1]}"
        )
    first, back = _distinct(extra, TOLERANCE * (np.abs(x).max() or 1.0))
    run = {"pca": _pca, "umap": _umap, "tsne": _tsne}[settings.method]
    emb = run(x, extra[first], settings)
    emb.extra_xy = emb.extra_xy[back]
    return emb


def _distinct(rows: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Representatives of rows equal up to ``tol`` (on a grid), and each row's representative."""
    _, first, back = np.unique(np.round(rows / tol), axis=0, return_index=True, return_inverse=True)
    return first, back.reshape(-1)


def _pca(x: np.ndarray, extra: np.ndarray, s: Settings) -> Embedding:
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=s.seed).fit(x)
    ratio = [float(r) for r in pca.explained_variance_ratio_]
    labels = (f"PC1 ({100 * ratio[0]:.1f}%)", f"PC2 ({100 * ratio[1]:.1f}%)")
    params = {**s.params(), "explained_variance_ratio": ratio}
    return Embedding(pca.transform(x), _apply(pca.transform, extra), params, labels, ratio)


def _umap(x: np.ndarray, extra: np.ndarray, s: Settings) -> Embedding:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            import umap
        except ImportError:
            raise InvlatentError(
                "method umap needs umap-learn: pip install 'invlatent[viz]'"
            ) from None

        n_neighbors = min(s.n_neighbors, len(x) - 1)
        model = umap.UMAP(
            n_components=2,
            n_neighbors=n_neighbors,
            min_dist=s.min_dist,
            n_epochs=s.epochs,
            random_state=s.seed,
        )
        xy = model.fit_transform(x)
        extra_xy = _apply(model.transform, extra)
    params = {**s.params(), "n_neighbors": n_neighbors}
    return Embedding(xy, extra_xy, params, ("UMAP 1", "UMAP 2"))


def _tsne(x: np.ndarray, extra: np.ndarray, s: Settings) -> Embedding:
    from sklearn.manifold import TSNE

    both = np.concatenate([x, extra]) if len(extra) else x
    perplexity = min(s.perplexity, (len(both) - 1) / 3)
    solver = "exact" if len(both) <= EXACT_TSNE else "barnes_hut"
    model = TSNE(
        n_components=2,
        perplexity=perplexity,
        init="pca",
        max_iter=s.epochs or 1000,
        method=solver,
        random_state=s.seed,
    )
    xy = model.fit_transform(both)
    params = {**s.params(), "perplexity": perplexity, "solver": solver}
    return Embedding(xy[: len(x)], xy[len(x) :], params, ("t-SNE 1", "t-SNE 2"))


def _apply(transform, extra: np.ndarray) -> np.ndarray:
    return transform(extra) if len(extra) else np.zeros((0, 2))
