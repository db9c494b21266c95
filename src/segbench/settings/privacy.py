"""Settings of what may be disclosed about small groups of customers (section ``privacy``)."""

from __future__ import annotations

from pydantic import Field

from segbench.settings.base import Section


class PrivacySettings(Section):
    """Small-cell suppression of every table a run logs.

    This is *small-cell suppression*, the rule of official statistics (a published cell must
    describe at least ``min_cell_size`` people), not k-anonymity: segbench never publishes
    customer records, only aggregates, so there are no quasi-identifiers to generalise.
    """

    min_cell_size: int = Field(10, ge=0)
    """A table cell (a segment's figures, a segment × group count, a product or term) that
    describes fewer than this many customers is suppressed, and segments smaller than this are
    flagged. 0 turns suppression off."""
