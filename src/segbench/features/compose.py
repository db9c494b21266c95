"""Feature expressions, composition of blocks, and the preprocessing stage.

``features="rfm+demographics+text"`` names blocks joined by ``+``. :func:`parse_expression`
checks the names, :func:`check_feedable` checks the dataset has the parts each block needs
(before any work), and :class:`FeaturePipeline` fits the blocks, scales every column, weights
each block to the same total variance (times its weight) and optionally reduces the composed
matrix with PCA. The result, :class:`FeatureMatrix`, remembers which columns came from which
block and keeps the human-readable source columns for segment profiles.

Block weighting: after scaling, block ``b`` with columns ``X_b`` is multiplied by
``w_b / sqrt(sum of the column variances of X_b)``, so every block contributes a total variance
of ``w_b**2`` whatever its number of columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.preprocessing import RobustScaler, StandardScaler

from segbench.data.model import CustomerData
from segbench.errors import ConfigError, DataError
from segbench.features.base import FeatureBlock
from segbench.features.scaling import CommonScaler

SCALERS = {
    "standard": StandardScaler,
    "robust": RobustScaler,
    "common": CommonScaler,
    "none": None,
}


def parse_expression(expression: str, valid: list[str] | tuple[str, ...]) -> list[str]:
    """Split ``"rfm+text"`` into block names, checking each against ``valid``.

    >>> parse_expression("rfm+text", ["rfm", "demographics", "text"])
    ['rfm', 'text']
    """
    names = [part.strip() for part in str(expression).split("+")]
    if not names or any(not n for n in names):
        raise ConfigError(
            f"features={expression!r} is not an expression of blocks joined by '+'; "
            f"valid blocks: {', '.join(sorted(valid))}"
        )
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise ConfigError(
            f"unknown feature block(s) {unknown} in features={expression!r}; "
            f"valid blocks: {', '.join(sorted(valid))}"
        )
    if len(set(names)) != len(names):
        raise ConfigError(f"features={expression!r} names a block twice")
    return names


def check_feedable(
    blocks: Mapping[str, FeatureBlock],
    data: CustomerData,
    candidates: Mapping[str, FeatureBlock] | None = None,
) -> None:
    """Fail before any work if ``data`` lacks a part some block needs.

    The message names the dataset, the block, the missing part and the blocks (of
    ``candidates``, default ``blocks``) that would work.
    """
    for name, block in blocks.items():
        missing = block.missing_part(data)
        if missing is not None:
            usable = feedable_blocks(candidates if candidates is not None else blocks, data)
            raise DataError(
                f"dataset '{data.name}' cannot feed the '{name}' block: it has no {missing} "
                f"(it has: {', '.join(data.parts())}). Blocks that work on this dataset: "
                f"{', '.join(usable) or 'none'}."
            )


def feedable_blocks(blocks: Mapping[str, FeatureBlock], data: CustomerData) -> list[str]:
    """Names of the blocks ``data`` can feed."""
    return [name for name, block in blocks.items() if block.missing_part(data) is None]


@dataclass
class FeatureMatrix:
    """The composed feature matrix of one run.

    ``X`` rows follow ``index`` (customer ids); ``blocks`` maps a block name to its column
    names in ``columns``; ``profile`` holds the human-readable source columns (recency,
    frequency, monetary, age, …) used by segment profiles.
    """

    X: np.ndarray
    index: pd.Index
    columns: list[str]
    blocks: dict[str, list[str]]
    profile: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def shape(self) -> tuple[int, int]:
        return self.X.shape

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.X, index=self.index, columns=self.columns)


class FeaturePipeline:
    """Blocks → scaling → block weighting → optional PCA, with scikit-learn's fit/transform.

    Parameters
    ----------
    blocks
        Block name → fitted-or-not :class:`FeatureBlock`, in expression order.
    scaler
        ``"standard"``, ``"robust"`` or ``"none"``, fitted per column.
    block_weighting
        Scale each block to total variance ``weight**2``.
    reduce, n_components
        ``"pca"`` to reduce the composed matrix (``n_components`` an int, or a float in
        (0, 1) for the share of variance kept); ``None`` to keep it.
    """

    def __init__(
        self,
        blocks: Mapping[str, FeatureBlock],
        scaler: str = "standard",
        block_weighting: bool = True,
        reduce: str | None = None,
        n_components: int | float | None = None,
        seed: int = 0,
    ) -> None:
        self.blocks = dict(blocks)
        self.scaler = scaler
        self.block_weighting = block_weighting
        self.reduce = reduce
        self.n_components = n_components
        self.seed = seed

    def unfitted(self) -> FeaturePipeline:
        """A copy with the same blocks and options and no fitted state (``sklearn.clone``
        of each block), to fit on other data: a time window, a training split."""
        from sklearn.base import clone

        return FeaturePipeline(
            {name: clone(block) for name, block in self.blocks.items()},
            scaler=self.scaler,
            block_weighting=self.block_weighting,
            reduce=self.reduce,
            n_components=self.n_components,
            seed=self.seed,
        )

    def _validate(self) -> None:
        if self.scaler not in SCALERS:
            raise ConfigError(f"preprocess.scaler={self.scaler!r}; expected one of {list(SCALERS)}")
        if self.reduce not in (None, "pca"):
            raise ConfigError(f"preprocess.reduce={self.reduce!r}; expected null or 'pca'")

    def fit_transform(self, data: CustomerData) -> FeatureMatrix:
        self._validate()
        check_feedable(self.blocks, data)
        both = {name: b.features_and_profile(data, fit=True) for name, b in self.blocks.items()}
        frames = {name: features for name, (features, _) in both.items()}
        self.scalers_: dict[str, object] = {}
        self.factors_: dict[str, float] = {}
        for name, frame in frames.items():
            values = frame.to_numpy(dtype=np.float64)
            scaler = SCALERS[self.scaler]
            if scaler is not None:
                self.scalers_[name] = scaler().fit(values)
                values = self.scalers_[name].transform(values)
            total = float(values.var(axis=0).sum())
            weight = float(self.blocks[name].weight)
            self.factors_[name] = (
                weight / np.sqrt(total) if self.block_weighting and total > 0 else weight
            )
        self.pca_ = None
        matrix = self._compose(frames, [profile for _, profile in both.values()], data)
        if self.reduce == "pca":
            n = self.n_components if self.n_components is not None else 0.9
            self.pca_ = PCA(n_components=n, random_state=self.seed).fit(matrix.X)
            matrix = self._reduce(matrix)
        return matrix

    def transform(self, data: CustomerData) -> FeatureMatrix:
        check_feedable(self.blocks, data)
        both = {name: b.features_and_profile(data, fit=False) for name, b in self.blocks.items()}
        frames = {name: features for name, (features, _) in both.items()}
        matrix = self._compose(frames, [profile for _, profile in both.values()], data)
        return self._reduce(matrix) if self.pca_ is not None else matrix

    def _compose(
        self, frames: dict[str, pd.DataFrame], profiles: list[pd.DataFrame], data: CustomerData
    ) -> FeatureMatrix:
        parts, columns, owners = [], [], {}
        for name, frame in frames.items():
            values = frame.to_numpy(dtype=np.float64)
            if name in self.scalers_:
                values = self.scalers_[name].transform(values)
            parts.append(values * self.factors_[name])
            names = [f"{name}.{c}" for c in frame.columns]
            columns += names
            owners[name] = names
        X = np.hstack(parts) if parts else np.zeros((data.n_customers, 0))
        if not np.isfinite(X).all():
            bad = [c for c, ok in zip(columns, np.isfinite(X).all(axis=0), strict=True) if not ok]
            raise DataError(f"dataset '{data.name}': non-finite feature values in {bad[:5]}")
        profile = pd.concat(profiles, axis=1)
        profile = profile.loc[:, ~profile.columns.duplicated()]
        return FeatureMatrix(X, data.customer_ids, columns, owners, profile)

    def _reduce(self, matrix: FeatureMatrix) -> FeatureMatrix:
        X = self.pca_.transform(matrix.X)
        names = [f"pca.pc{i + 1}" for i in range(X.shape[1])]
        return FeatureMatrix(X, matrix.index, names, {"pca": names}, matrix.profile)
