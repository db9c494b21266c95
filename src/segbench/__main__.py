"""``python -m segbench``: see :mod:`segbench.cli`."""

from segbench.cli import main

main()
