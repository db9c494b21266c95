"""What a run says about its segments, for people: profiles, plots, cards, transparency.

- :mod:`.profiles` — size, share and means of the readable columns per segment;
- :mod:`.plots` — the projection and segment-size figures;
- :mod:`.card` — the segment card (one Markdown page per run);
- :mod:`.surrogate`, :mod:`.distinguishing`, :mod:`.numbers` — readable rules, the features
  that set a segment apart, readable numbers;
- :mod:`.responsibility` — the fairness, privacy and transparency report of a run;
- :mod:`.fairness_charts` — the group-mix chart.

Everything here is computed from the run's values; :mod:`segbench.tracking` logs it.
"""
