"""Alerts: one record type, sent to the log and (optionally) to a webhook as JSON.

A webhook that is down never stops monitoring: a failed POST is logged and counted. The same
(kind, subject) alert is not re-sent within ``cooldown`` records, so a degraded model raises
one alert per episode, not one per bar.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from dataclasses import asdict, dataclass

log = logging.getLogger("regime_trader.monitoring")


@dataclass(frozen=True)
class Alert:
    """One alert. ``kind``: band, drift, regime_mix, action_collapse, latency."""

    timestamp: str
    kind: str
    subject: str  # the metric or feature
    value: float
    lo: float | None
    hi: float | None
    message: str
    model_version: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


class AlertSink:
    """Log every alert; POST it to ``webhook`` (JSON body) when one is given."""

    def __init__(self, webhook: str | None = None, *, cooldown: int = 50, timeout: float = 2.0):
        self.webhook = webhook
        self.cooldown = cooldown
        self.timeout = timeout
        self.failures = 0
        self._last: dict[tuple[str, str], int] = {}

    def should_send(self, alert: Alert, step: int) -> bool:
        """False when the same (kind, subject) was sent fewer than ``cooldown`` steps ago."""
        key = (alert.kind, alert.subject)
        last = self._last.get(key)
        if last is not None and step - last < self.cooldown:
            return False
        self._last[key] = step
        return True

    def send(self, alert: Alert) -> None:
        log.warning("ALERT %s %s: %s", alert.kind, alert.subject, alert.message)
        if self.webhook:
            self._post(alert)

    def _post(self, alert: Alert) -> None:
        body = json.dumps({"alert": alert.to_dict()}).encode()
        req = urllib.request.Request(
            self.webhook, data=body, headers={"Content-Type": "application/json"}, method="POST"
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - user URL
                resp.read()
        except OSError as exc:  # URLError, timeouts, refused connections
            self.failures += 1
            log.error("alert webhook %s failed: %s", self.webhook, exc)
