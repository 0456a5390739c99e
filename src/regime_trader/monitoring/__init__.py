"""Monitoring of a served model: validation bands, drift, alerts, SQLite records, reports.

See docs/monitoring.md for every metric and check.
"""

from regime_trader.monitoring.alerts import Alert, AlertSink
from regime_trader.monitoring.bands import Band, expected_bands, trend, window_metrics
from regime_trader.monitoring.drift import feature_drift, psi, regime_mix_shift
from regime_trader.monitoring.monitor import Expectations, ModelMonitor, MonitorConfig
from regime_trader.monitoring.store import MonitorStore

__all__ = [
    "Alert",
    "AlertSink",
    "Band",
    "Expectations",
    "ModelMonitor",
    "MonitorConfig",
    "MonitorStore",
    "expected_bands",
    "feature_drift",
    "psi",
    "regime_mix_shift",
    "trend",
    "window_metrics",
]
