"""Transparency of a segmentation: a surrogate decision tree with readable rules, the most
distinguishing features per segment, and the segment card that puts them together.

- :mod:`segbench.transparency.surrogate` — :func:`fit_surrogate`, rules, ``surrogate.fidelity``.
- :mod:`segbench.transparency.distinguishing` — standardised mean differences per segment.
- :mod:`segbench.transparency.card` — :class:`SegmentCard` (extensible) and its sections.
"""

from segbench.transparency.card import SegmentCard
from segbench.transparency.distinguishing import distinguishing_features
from segbench.transparency.surrogate import Rule, Surrogate, fit_surrogate

__all__ = ["Rule", "SegmentCard", "Surrogate", "distinguishing_features", "fit_surrogate"]
