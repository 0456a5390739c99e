"""Orchestration on top of every layer: the demo, evaluation suites, walk-forward, run verbs."""
