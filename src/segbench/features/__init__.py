"""Feature blocks and their composition into one matrix.

A block (:class:`FeatureBlock`) turns :class:`~segbench.data.model.CustomerData` into numeric
columns; :class:`FeaturePipeline` composes the blocks of a feature expression
(``rfm+text``), scales, weights and optionally reduces them (:mod:`.compose`).
"""

from __future__ import annotations

from collections.abc import Mapping

from hydra.utils import instantiate

from segbench.errors import ConfigError
from segbench.features.base import FeatureBlock
from segbench.features.compose import (
    FeatureMatrix,
    FeaturePipeline,
    check_feedable,
    feedable_blocks,
    parse_expression,
)
from segbench.settings import BlockSettings, PreprocessSettings
from segbench.settings.base import coerce

__all__ = [
    "FeatureBlock",
    "FeatureMatrix",
    "FeaturePipeline",
    "build_block",
    "build_blocks",
    "build_pipeline",
    "check_feedable",
    "feedable_blocks",
    "parse_expression",
]


def build_block(name: str, settings: BlockSettings | Mapping) -> FeatureBlock:
    """The block ``name`` from its settings (``_target_`` + parameters), its parameters
    validated (scikit-learn's ``_parameter_constraints``)."""
    settings = coerce(BlockSettings, settings, f"blocks.{name}")
    try:
        block = instantiate({"_target_": settings.target, **settings.params}, _convert_="all")
    except Exception as err:  # Hydra wraps the block's TypeError
        cause = err.__cause__ or err
        raise ConfigError(f"blocks.{name}: cannot build {settings.target}: {cause}") from None
    if not isinstance(block, FeatureBlock):
        raise ConfigError(f"blocks.{name}: {settings.target} is not a FeatureBlock")
    try:
        block._validate_params()
    except (TypeError, ValueError) as err:
        raise ConfigError(f"blocks.{name}: {err}") from None
    return block


def build_blocks(
    blocks: Mapping[str, BlockSettings | Mapping], names: list[str] | None = None
) -> dict[str, FeatureBlock]:
    """The named blocks (all when ``names`` is None), built and validated."""
    chosen = list(blocks) if names is None else names
    return {name: build_block(name, blocks[name]) for name in chosen}


def build_pipeline(
    expression: str,
    blocks: Mapping[str, BlockSettings | Mapping],
    preprocess: PreprocessSettings | Mapping,
    seed: int = 0,
) -> FeaturePipeline:
    """The (unfitted) feature pipeline of ``features=<expression>``."""
    preprocess = coerce(PreprocessSettings, preprocess, "preprocess")
    names = parse_expression(expression, list(blocks))
    return FeaturePipeline(
        build_blocks(blocks, names),
        scaler=preprocess.scaler,
        block_weighting=preprocess.block_weighting,
        reduce=preprocess.reduce,
        n_components=preprocess.n_components,
        seed=seed,
    )
