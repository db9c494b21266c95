"""The feature settings of a study, and the feature matrices of trials that vary them.

:class:`FeatureSpec` holds what builds a run's features (expression, blocks, preprocessing,
seed). When the search space covers ``blocks.*`` or ``preprocess.*`` values, a trial's
features are rebuilt from it with the trial's values put in; matrices are kept in a small
least-recently-used cache keyed by those values, so trials that draw the same values share one
build (text embeddings are cached on disk by the text block anyway).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from segbench.data.model import CustomerData
from segbench.features import FeatureMatrix, FeaturePipeline, build_pipeline
from segbench.settings import BlockSettings, PreprocessSettings

Key = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class FeatureSpec:
    """What builds a run's features: ``features=<expression>``, the blocks' settings, the
    preprocessing settings and the seed."""

    expression: str
    blocks: Mapping[str, BlockSettings]
    preprocess: PreprocessSettings = field(default_factory=PreprocessSettings)
    seed: int = 0

    def value(self, path: str, default: Any = None) -> Any:
        """The value at ``blocks.<block>.<key>`` or ``preprocess.<key>`` (``default`` if none)."""
        root, _, rest = path.partition(".")
        if root == "blocks":
            block, _, key = rest.partition(".")
            settings = self.blocks.get(block)
            if settings is None:
                return default
            return settings.params.get(key, default)
        if root == "preprocess" and rest in PreprocessSettings.model_fields:
            return getattr(self.preprocess, rest)
        return default

    def with_values(self, values: Mapping[str, Any]) -> FeatureSpec:
        """A copy with the feature/preprocessing ``values`` (path → value) put in."""
        blocks = dict(self.blocks)
        preprocess = self.preprocess
        for path, value in values.items():
            root, _, rest = path.partition(".")
            if root == "blocks":
                block, _, key = rest.partition(".")
                blocks[block] = blocks[block].model_copy(update={key: value})
            elif root == "preprocess":
                preprocess = preprocess.model_copy(update={rest: value})
        return FeatureSpec(self.expression, blocks, preprocess, self.seed)

    def pipeline(self) -> FeaturePipeline:
        """The (unfitted) pipeline these settings describe."""
        return build_pipeline(self.expression, self.blocks, self.preprocess, seed=self.seed)


def _key(values: Mapping[str, Any]) -> Key:
    return tuple(sorted((path, repr(value)) for path, value in values.items()))


class TrialFeatures:
    """Feature matrices by feature/preprocessing values (see the module docstring).

    Parameters
    ----------
    spec
        The run's feature settings.
    data
        The loaded dataset.
    base, base_pipeline
        The run's own feature matrix and the pipeline that built it (with the run's values of
        ``paths``).
    paths
        The feature/preprocessing paths the search space varies.
    size
        Matrices kept besides ``base``.
    """

    def __init__(
        self,
        spec: FeatureSpec,
        data: CustomerData,
        base: FeatureMatrix,
        base_pipeline: FeaturePipeline | None,
        paths: list[str],
        size: int = 4,
    ) -> None:
        self.spec = spec
        self.data = data
        self.size = max(0, int(size))
        self.base_key = _key({p: spec.value(p) for p in paths})
        self.base = (base_pipeline, base)
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
        pipeline = self.spec.with_values(values).pipeline()
        self.builds += 1
        return pipeline, pipeline.fit_transform(self.data)
