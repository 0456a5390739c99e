"""Monitoring of a served model: calibrated bands, drift and regime mix, alerts, gauges,
SQLite records, reports.

See docs/monitoring.md for every metric and check.
"""

from regime_trader.monitoring.alerts import Alert, AlertSink, AlertSummary
from regime_trader.monitoring.bands import Band, expected_bands, trend, window_metrics
from regime_trader.monitoring.drift import DriftReference, psi
from regime_trader.monitoring.expectations import Expectations, MonitorConfig
from regime_trader.monitoring.monitor import ModelMonitor, monitor_gauges
from regime_trader.monitoring.regime_mix import RegimeReference, regime_mix_shift
from regime_trader.monitoring.store import MonitorStore

__all__ = [
    "Alert",
    "AlertSink",
    "AlertSummary",
    "Band",
    "DriftReference",
    "Expectations",
    "ModelMonitor",
    "MonitorConfig",
    "MonitorStore",
    "RegimeReference",
    "expected_bands",
    "monitor_gauges",
    "psi",
    "regime_mix_shift",
    "trend",
    "window_metrics",
]
