"""segbench: customer segmentation experiments as Hydra config, tracked in MLflow."""

__version__ = "0.1.0"
