"""Segments over time: windows, matching across windows, migration, drift, online updates.

- :mod:`.windows` — calendar windows of the transactions and one segmentation per window;
- :mod:`.matching` — Hungarian matching of segment ids (member overlap or centroids);
- :mod:`.migration` — migration matrices, stability over time, drift flags;
- :mod:`.online` — mini-batch k-means ``partial_fit`` on the transaction stream vs a full refit;
- :mod:`.charts` — migration heat maps and share charts (drift in red).

Every metric name is documented in the module that computes it. Import the submodules
(this package imports nothing eagerly: :mod:`segbench.serving.assignment` uses
:mod:`.matching`, and :mod:`.windows` uses the assignment methods).
"""
