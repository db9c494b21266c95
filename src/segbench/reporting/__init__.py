"""What a run says about its segments, for people: profiles, plots, cards, transparency.

- :mod:`.profiles` — name, size, share and means of the readable columns per segment;
- :mod:`.names` — the run's one naming rule, and how a segment is written everywhere;
- :mod:`.plots` — projection, sizes, silhouette and profile heat map, segments named;
- :mod:`.sankey` — a Sankey diagram as one self-contained interactive HTML page;
- :mod:`.card` — the segment card (one Markdown page per run);
- :mod:`.surrogate`, :mod:`.distinguishing`, :mod:`.numbers` — readable rules, the features
  that set a segment apart, readable numbers;
- :mod:`.responsibility` — the fairness, privacy and transparency report of a run;
- :mod:`.fairness_charts` — the group-mix chart.

Everything here is computed from the run's values; :mod:`segbench.tracking` logs it.
"""
