"""Evaluation: metrics (pure functions), batched backtests, baselines, reports."""
