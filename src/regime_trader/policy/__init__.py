"""The policy layer: bars -> MarketData, the decision rule, scoring, the walk, accounting.

Below evaluation, package, serve and workflows; see docs/architecture.md (layers)."""
