"""Feature blocks and their composition into one matrix."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydra.utils import instantiate

from segbench.features.base import FeatureBlock
from segbench.features.compose import (
    FeatureMatrix,
    FeaturePipeline,
    check_feedable,
    feedable_blocks,
    parse_expression,
)

__all__ = [
    "FeatureBlock",
    "FeatureMatrix",
    "FeaturePipeline",
    "build_blocks",
    "build_pipeline",
    "check_feedable",
    "feedable_blocks",
    "parse_expression",
]


def build_blocks(
    blocks_cfg: Mapping[str, Any], names: list[str] | None = None
) -> dict[str, FeatureBlock]:
    """Instantiate the named blocks (all when ``names`` is None) from their configs."""
    chosen = list(blocks_cfg) if names is None else names
    return {name: instantiate(blocks_cfg[name], _convert_="all") for name in chosen}


def build_pipeline(
    expression: str,
    blocks_cfg: Mapping[str, Any],
    preprocess_cfg: Mapping[str, Any],
    seed: int = 0,
) -> FeaturePipeline:
    """The feature pipeline for ``features=<expression>`` with the ``preprocess`` options."""
    names = parse_expression(expression, list(blocks_cfg))
    return FeaturePipeline(
        build_blocks(blocks_cfg, names),
        scaler=preprocess_cfg.get("scaler", "standard"),
        block_weighting=preprocess_cfg.get("block_weighting", True),
        reduce=preprocess_cfg.get("reduce"),
        n_components=preprocess_cfg.get("n_components"),
        seed=seed,
    )
