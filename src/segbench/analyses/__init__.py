"""Analyses after the segmentation, in the same run: what the segments are good for.

- :mod:`.runner` — runs the enabled analyses (:func:`~segbench.analyses.runner.run_analyses`);
- :mod:`.predictive` — next-period spend and churn, response lift;
- :mod:`.personalisation` — products, terms, names and offers per segment;
- :mod:`.k_selection` — elbow and silhouette over k;
- :mod:`.temporal` — segments over time: windows, migration, drift, online updates.

Settings: :class:`segbench.settings.AnalysisSettings`. Submodules are imported when their
analysis runs.
"""
