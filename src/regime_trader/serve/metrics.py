"""Prometheus metrics of the service (its own registry, so several apps never collide)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
ENDPOINTS = (
    "/healthz",
    "/metrics",
    "/openapi.json",
    "/v1/decide",
    "/v1/model",
    "/v1/reload",
    "/v1/sessions",
)


class ServiceMetrics:
    """Request counts by endpoint and status, latency histograms, decisions by action."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "regime_trader_requests", "HTTP requests", ["endpoint", "status"], registry=r
        )
        self.latency = Histogram(
            "regime_trader_request_seconds",
            "Request latency",
            ["endpoint"],
            buckets=BUCKETS,
            registry=r,
        )
        self.inference = Histogram(
            "regime_trader_inference_seconds",
            "Decision compute time (features + net + rule)",
            ["mode"],
            buckets=BUCKETS,
            registry=r,
        )
        self.decisions = Counter(
            "regime_trader_decisions", "Decisions by action", ["action"], registry=r
        )
        self.refused = Counter(
            "regime_trader_refused_bars",
            "Stream bars refused, by reason (order: out of order or a gap; invalid: a field)",
            ["reason"],
            registry=r,
        )
        self.model = Gauge(
            "regime_trader_model_info", "Model in service (1)", ["name", "version"], registry=r
        )
        self.swaps = Counter(
            "regime_trader_model_swaps", "Model hot swaps (watcher, reload, API)", registry=r
        )
        self.storage_errors = Counter(
            "regime_trader_storage_errors", "Bar-log reads or writes that failed (503)", registry=r
        )
        self.sessions = Gauge(
            "regime_trader_sessions_in_memory", "Stream sessions held in memory", registry=r
        )

    def set_model(self, name: str, version: str) -> None:
        self.model.clear()
        self.model.labels(name, version).set(1)

    def swapped(self, name: str, version: str) -> None:
        """A swap from any source: the counter and the model in service."""
        self.swaps.inc()
        self.set_model(name, version)

    def endpoint(self, path: str) -> str:
        """A bounded label for ``path``."""
        for e in ENDPOINTS:
            if path == e or path.startswith(e + "/"):
                return e
        return "other"

    def text(self) -> bytes:
        """The Prometheus text exposition."""
        return generate_latest(self.registry)
