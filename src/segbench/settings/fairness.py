"""Settings of the fairness audit and the segment card (config group ``fairness``)."""

from __future__ import annotations

from pydantic import Field

from segbench.settings.base import Section


class ProxySettings(Section):
    """Proxy audit: how well the clustering features predict each sensitive attribute."""

    enabled: bool = True
    """Run the audit (once per run, never in tuning trials)."""
    sample_size: int = Field(2000, ge=20)
    """Customers used (a stratified sample above this; the cost is linear). 2000 × 3 folds
    keeps the audit near 1 s per attribute; raise both for a publication-grade estimate."""
    cv: int = Field(3, ge=2)
    """Cross-validation folds."""
    n_repeats: int = Field(5, ge=1)
    """Shuffles per feature of the permutation importance."""
    top_features: int = Field(5, ge=1)
    """Features named on the segment card per attribute."""


class SurrogateSettings(Section):
    """The surrogate decision tree that explains the segments in readable rules."""

    enabled: bool = True
    """Fit the tree (``surrogate.fidelity``, ``transparency/surrogate_rules.md``)."""
    max_depth: int = Field(3, ge=1)
    """Depth of the tree (rules have at most this many conditions)."""
    sample_size: int = Field(100_000, ge=100)
    """Above this many customers the tree is fitted on a seeded sample of this size; its
    fidelity and rules are still counted on every customer (bounded, linear cost)."""


class CardSettings(Section):
    """The segment card (``segment_card.md``)."""

    enabled: bool = True
    """Write the card."""
    top_features: int = Field(5, ge=1)
    """Most distinguishing profile features listed per segment."""


class FairnessSettings(Section):
    """Responsible segmentation: the fairness metrics of every run and tuning trial
    (``fairness.<attribute>.<metric>``, :mod:`segbench.fairness`), and once per run the proxy
    audit, the per-group tables, the surrogate tree and the segment card."""

    name: str = "default"
    """Name of the chosen option of the ``fairness`` group."""
    attributes: list[str] | None = None
    """Sensitive attributes to audit; null = every column of the dataset's sensitive part
    (none for a dataset without one); ``[]`` audits nothing."""
    silhouette_gap: bool = True
    """The per-group silhouette gap, on the main silhouette's sample."""
    flag_balance: float = Field(0.8, ge=0.0, le=1.0)
    """A segment whose balance for an attribute is below this is flagged on the segment card
    (0.8: the "four-fifths" rule of thumb)."""
    proxy: ProxySettings = ProxySettings()
    surrogate: SurrogateSettings = SurrogateSettings()
    card: CardSettings = CardSettings()
