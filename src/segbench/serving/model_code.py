"""The code of the logged model (MLflow's *models from code*; :mod:`segbench.serving.model`).

MLflow runs this file when it loads a segbench model: it names the model class, and
:meth:`~segbench.serving.model.SegmentationModel.load_context` then reads the run's fitted
parts from the model's ``state`` artifact. Importing it only registers an empty model.
"""

from mlflow.models import set_model

from segbench.serving.model import SegmentationModel

set_model(SegmentationModel())
