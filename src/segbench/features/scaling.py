"""Scalers of the preprocessing stage that scikit-learn does not have.

:class:`CommonScaler` is the scaling of the clustbench benchmark (Gagolewski 2022, the
"original" space its published results were computed in): every column translated to mean 0,
then **all columns divided by one common factor** so that the variance of all entries together
is 1. Unlike per-column standardisation it keeps the columns' relative spreads, which is what a
benchmark's reference partitions were made on. ``preprocess.scaler=common``.

>>> import numpy as np
>>> X = np.array([[0.0, 10.0], [2.0, 10.0], [4.0, 40.0]])
>>> Z = CommonScaler().fit_transform(X)
>>> Z.mean(axis=0).round(12).tolist(), round(float(Z.var()), 12)
([0.0, 0.0], 1.0)
>>> bool(np.isclose(Z[:, 1].std() / Z[:, 0].std(), X[:, 1].std() / X[:, 0].std()))
True
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data


class CommonScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Centre every column; divide all by one factor so the entries' total variance is 1.

    Attributes
    ----------
    mean_
        The column means.
    scale_
        The common factor: the square root of the mean of the column variances (1 when all
        columns are constant).
    """

    def fit(self, X, y=None):  # scikit-learn's signature
        X = validate_data(self, X, dtype=np.float64)
        self.mean_ = X.mean(axis=0)
        spread = float(np.sqrt(X.var(axis=0).mean())) if X.size else 0.0
        self.scale_ = spread if spread > 0 else 1.0
        return self

    def transform(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return (X - self.mean_) / self.scale_
