"""The machine's cores: how many a run may use, whether work can be forked, and independent
small fits run side by side (:mod:`segbench.parallel.side_by_side`).

A room of its own, below every stage that fits (``algorithms``, ``evaluation``,
``analyses``) and below ``reporting``, whose drawing process forks: importing it loads no
numerical library, so ``import segbench.cli`` stays light.
"""
