"""Evaluation of a segmentation: internal, external and model-specific metrics."""

from segbench.evaluation.metrics import evaluate

__all__ = ["evaluate"]
