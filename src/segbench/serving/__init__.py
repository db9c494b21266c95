"""Putting segments to use on new customers.

- :mod:`.assignment` — how each algorithm places a customer it was not fitted on, and how
  well that agrees with a refit (``assign.agreement``);
- :mod:`.model` — the logged MLflow pyfunc: canonical customer rows → features → segment.

``python -m segbench.assign`` (:mod:`segbench.assign`) applies a logged model to a raw file.
"""
