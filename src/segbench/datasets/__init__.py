"""Dataset adapters: each turns its raw source into one canonical ``CustomerData``."""

from segbench.datasets.base import DatasetAdapter, load_dataset

__all__ = ["DatasetAdapter", "load_dataset"]
