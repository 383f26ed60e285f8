"""A small MLP probe (one hidden layer of 128 ReLU units, Adam) with early stopping.

It trains one epoch at a time on the training split less its inner holdout, scores the holdout
after each epoch (accuracy, or MSE on standardised targets) and keeps the best weights; training
stops after ``patience`` epochs without improvement. The inner holdout is the protocol's own, so
copies of one object never straddle it (scikit-learn's built-in early stopping would split rows).
"""

from __future__ import annotations

import copy
import warnings

import numpy as np

HIDDEN = (128,)
PATIENCE = 10
MAX_EPOCHS = 200


class MlpProbe:
    """MLPClassifier / MLPRegressor with early stopping on the inner holdout."""

    def __init__(self, *, regression: bool, seed: int = 0) -> None:
        self.regression = regression
        self.seed = seed

    def fit(self, x: np.ndarray, y: np.ndarray, holdout: np.ndarray) -> MlpProbe:
        """Train on ``x[~holdout]``, keeping the weights that score best on ``x[holdout]``."""
        if self.regression:
            self.mean_, self.scale_ = y.mean(axis=0), np.where(y.std(axis=0) > 0, y.std(axis=0), 1)
            y = (y - self.mean_) / self.scale_
        xa, ya, xv, yv = x[~holdout], y[~holdout], x[holdout], y[holdout]
        model, best, best_score, since = self._model(len(xa)), None, -np.inf, 0
        for epoch in range(1, MAX_EPOCHS + 1):
            self._epoch(model, xa, ya, np.unique(y))
            score = self._score(model, xv, yv)
            if score > best_score:
                best, best_score, since, self.epochs_ = copy.deepcopy(model), score, 0, epoch
            elif (since := since + 1) >= PATIENCE:
                break
        self.model_ = best
        self.chosen_ = {"epochs": self.epochs_, "hidden": list(HIDDEN)}
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        out = self.model_.predict(x)
        if self.regression:
            return out.reshape(len(x), -1) * self.scale_ + self.mean_
        return out

    def _model(self, n: int):
        from sklearn.neural_network import MLPClassifier, MLPRegressor

        cls = MLPRegressor if self.regression else MLPClassifier
        rng = np.random.RandomState(self.seed)  # an instance, so each epoch reshuffles anew
        return cls(hidden_layer_sizes=HIDDEN, batch_size=min(256, n), random_state=rng)

    def _epoch(self, model, x, y, classes) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.regression:
                model.partial_fit(x, y)
            else:
                model.partial_fit(x, y, classes=classes)

    def _score(self, model, x, y) -> float:
        pred = model.predict(x)
        if self.regression:
            return -float(np.mean((pred.reshape(y.shape) - y) ** 2))
        return float(np.mean(pred == y))
