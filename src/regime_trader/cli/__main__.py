"""``python -m regime_trader.cli``: the same as the ``regime-trader`` command."""

from regime_trader.cli import main

main()
