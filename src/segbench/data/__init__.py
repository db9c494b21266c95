"""The data model and the rules for handling customer data.

- :mod:`.model` — :class:`CustomerData`, the canonical form every dataset adapter produces
  and everything downstream speaks;
- :mod:`.pseudonyms` — keyed pseudonyms of customer identifiers;
- :mod:`.disclosure` — which table cells describe too few customers to be shown;
- :mod:`.sampling` — the one seeded sample of rows used wherever a step is bounded;
- :mod:`.paths` — where the data is read from and caches are kept (environment).

The lowest room after :mod:`segbench.errors` and :mod:`segbench.settings`: it imports no
other part of segbench.
"""

from segbench.data.model import CleaningStep, CustomerData, DatasetMeta, fingerprint_frames

__all__ = ["CleaningStep", "CustomerData", "DatasetMeta", "fingerprint_frames"]
