"""Segments over time: windows, matching across windows, migration, drift, online updates.

- :mod:`.windows` — calendar windows of the transactions and one segmentation per window;
- :mod:`.migration` — each window's segments matched to the run's (Hungarian matching,
  :mod:`segbench.evaluation.matching`), migration matrices, stability over time, drift flags;
- :mod:`.online` — mini-batch k-means ``partial_fit`` on the transaction stream vs a full refit;
- :mod:`.charts` — migration heat maps, the migration Sankey page and share charts (drift in
  red), segments named as the run names them.

Every metric name is documented in the module that computes it. Import the submodules
(this package imports nothing eagerly; :mod:`.windows` uses the assignment methods).
"""
