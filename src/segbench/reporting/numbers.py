"""How numbers are written on segment cards and in rules (one place, so they agree)."""

from __future__ import annotations

import math


def readable(value: float) -> str:
    """A short human form: thousands separators for large values, 4 significant digits else.

    >>> readable(31880.4), readable(104.25), readable(0.012345), readable(-2500.0)
    ('31,880', '104.2', '0.01235', '-2,500')
    """
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    value = float(value)
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"
