"""Linear probes: logistic regression (labels) and ridge regression (targets).

Each searches its regularisation strength on the inner holdout of the training split (a
log-spaced grid), then refits on the whole training split; the test rows are never seen.
Features arrive standardised with the training split's statistics.
"""

from __future__ import annotations

import warnings

import numpy as np

C_GRID = tuple(float(c) for c in np.logspace(-4, 3, 8))
ALPHA_GRID = tuple(float(a) for a in np.logspace(-2, 5, 8))


class LogisticProbe:
    """Multinomial logistic regression with C chosen on the inner holdout (by accuracy)."""

    def __init__(self, *, seed: int = 0, grid: tuple[float, ...] = C_GRID) -> None:
        self.seed = seed
        self.grid = grid

    def fit(self, x: np.ndarray, y: np.ndarray, holdout: np.ndarray) -> LogisticProbe:
        """Choose C on ``x[holdout]`` after fitting ``x[~holdout]``, then refit on all rows."""
        fit_rows, val_rows = ~holdout, holdout
        model = self._model(self.grid[0], warm=True)
        scores = []
        for c in self.grid:  # from strong to weak regularisation, each fit warm-started
            _fit(model.set_params(C=c), x[fit_rows], y[fit_rows])
            scores.append(float(np.mean(model.predict(x[val_rows]) == y[val_rows])))
        self.C_ = self.grid[int(np.argmax(scores))]
        self.model_ = _fit(self._model(self.C_, warm=False), x, y)
        self.chosen_ = {"C": self.C_}
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model_.predict(x)

    def _model(self, c: float, *, warm: bool):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=c, max_iter=1000, warm_start=warm, random_state=self.seed)


class RidgeProbe:
    """Ridge regression with one alpha per target chosen on the inner holdout (by MSE)."""

    def __init__(self, *, grid: tuple[float, ...] = ALPHA_GRID) -> None:
        self.grid = grid

    def fit(self, x: np.ndarray, y: np.ndarray, holdout: np.ndarray) -> RidgeProbe:
        """Choose each target's alpha on ``x[holdout]``, then refit on all rows."""
        from sklearn.linear_model import Ridge

        fit_rows, val_rows = ~holdout, holdout
        y_val = y[val_rows]
        mse = np.stack(
            [
                (
                    (
                        _column_wise(Ridge(alpha=a).fit(x[fit_rows], y[fit_rows]), x[val_rows])
                        - y_val
                    )
                    ** 2
                ).mean(axis=0)
                for a in self.grid
            ]
        )
        self.alpha_ = np.asarray(self.grid)[np.argmin(mse, axis=0)]
        alpha = self.alpha_ if self.alpha_.size > 1 else float(self.alpha_[0])  # sklearn wants
        self.model_ = Ridge(alpha=alpha).fit(x, y)  # a scalar for a single target
        self.chosen_ = {"alpha": [float(a) for a in self.alpha_]}
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return _column_wise(self.model_, x)


def _column_wise(model, x: np.ndarray) -> np.ndarray:
    """Predictions as ``(n, targets)`` (scikit-learn flattens a single target's)."""
    return model.predict(x).reshape(len(x), -1)


def _fit(model, x: np.ndarray, y: np.ndarray):
    """Fit quietly: a grid's extreme C values may stop at max_iter, which is fine for a search."""
    from sklearn.exceptions import ConvergenceWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(x, y)
