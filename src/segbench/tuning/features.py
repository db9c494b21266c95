"""Feature matrices of trials that tune feature or preprocessing values, cached by value.

When the search space covers ``blocks.*`` or ``preprocess.*`` values, a trial's features are
rebuilt from the run's config with the trial's values put in; matrices are kept in a small
least-recently-used cache keyed by those values, so trials that draw the same values share
one build (text embeddings are cached on disk by the text block anyway).
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from omegaconf import DictConfig, OmegaConf

from segbench.customer_data import CustomerData
from segbench.features import FeatureMatrix, FeaturePipeline, build_pipeline

Key = tuple[tuple[str, str], ...]


def _key(values: Mapping[str, Any]) -> Key:
    return tuple(sorted((path, repr(value)) for path, value in values.items()))


class TrialFeatures:
    """Feature matrices by feature/preprocessing values (see the module docstring).

    Parameters
    ----------
    cfg
        The run's config (features expression, blocks, preprocess, seed).
    data
        The loaded dataset.
    base, base_pipeline
        The run's own feature matrix and the pipeline that built it (with the config's
        values of ``paths``).
    paths
        The feature/preprocessing paths the search space varies.
    size
        Matrices kept besides ``base``.
    """

    def __init__(
        self,
        cfg: DictConfig,
        data: CustomerData,
        base: FeatureMatrix,
        base_pipeline: FeaturePipeline | None,
        paths: list[str],
        size: int = 4,
    ) -> None:
        self.cfg = cfg
        self.data = data
        self.size = max(0, int(size))
        self.base_key = _key({p: OmegaConf.select(cfg, p) for p in paths})
        self.base = (base_pipeline, base)
        self.tree = OmegaConf.to_container(cfg, resolve=True)
        self.cache: OrderedDict[Key, tuple[FeaturePipeline | None, FeatureMatrix]] = OrderedDict()
        self.builds = 0

    def get(self, values: Mapping[str, Any]) -> FeatureMatrix:
        """The feature matrix for ``values`` (path → value); built on a cache miss."""
        return self.get_with_pipeline(values)[1]

    def get_with_pipeline(
        self, values: Mapping[str, Any]
    ) -> tuple[FeaturePipeline | None, FeatureMatrix]:
        """The fitted pipeline and feature matrix for ``values``."""
        key = _key(values)
        if key == self.base_key:
            return self.base
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        built = self.build(values)
        if self.size:
            self.cache[key] = built
            while len(self.cache) > self.size:
                self.cache.popitem(last=False)
        return built

    def build(self, values: Mapping[str, Any]) -> tuple[FeaturePipeline, FeatureMatrix]:
        tree = copy.deepcopy({"blocks": self.tree["blocks"], "preprocess": self.tree["preprocess"]})
        for path, value in values.items():
            node = tree
            *parents, leaf = path.split(".")
            for part in parents:
                node = node[part]
            node[leaf] = value
        pipeline = build_pipeline(
            self.cfg.features, tree["blocks"], tree["preprocess"], seed=self.cfg.seed
        )
        self.builds += 1
        return pipeline, pipeline.fit_transform(self.data)
