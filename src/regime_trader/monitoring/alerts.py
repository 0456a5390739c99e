"""Alerts: one record type, rate-limited per kind, summarised, sent to the log and a webhook.

An alarm that stays on (a drifted feature, a model below its band) would raise an alert at
every check. `AlertSink` sends at most one alert of each kind (band, drift, regime_mix,
action_collapse, latency) per ``cooldown`` decisions and counts the rest; `AlertSummary` is
the per-kind record (raised, sent, suppressed, first and last time, subjects) that a replay
prints instead of one line per alert. A webhook that is down never stops monitoring: a failed
POST is logged and counted.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

log = logging.getLogger("regime_trader.monitoring")
KINDS = ("band", "drift", "regime_mix", "action_collapse", "latency")
COOLDOWN = 63  # decisions between two sent alerts of one kind (a quarter of daily bars)


@dataclass(frozen=True)
class Alert:
    """One alert. ``kind``: band, drift, regime_mix, action_collapse, latency."""

    timestamp: str
    kind: str
    subject: str  # the metric, feature or regime
    value: float
    lo: float | None
    hi: float | None
    message: str
    model_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        """The alert as JSON-safe fields."""
        return asdict(self)


@dataclass
class KindSummary:
    """Alerts of one kind: how many were raised, sent and held back by the cooldown."""

    kind: str
    raised: int = 0
    sent: int = 0
    first: str = ""
    last: str = ""
    subjects: Counter[str] = field(default_factory=Counter)

    @property
    def suppressed(self) -> int:
        """Alerts raised within the cooldown of a sent one (counted, not sent)."""
        return self.raised - self.sent

    def line(self, cooldown: int) -> str:
        """``drift: 9 raised, 2 sent, 7 within the 63-decision cooldown; ...``."""
        top = ", ".join(f"{s} {n}" for s, n in self.subjects.most_common(3))
        return (
            f"{self.kind}: {self.raised} raised, {self.sent} sent, {self.suppressed} within the "
            f"{cooldown}-decision cooldown; {self.first} to {self.last}; {top}"
        )


@dataclass
class AlertSummary:
    """Per-kind alert counts of a monitor (`AlertSink.summary`)."""

    cooldown: int
    kinds: dict[str, KindSummary] = field(default_factory=dict)

    @property
    def raised(self) -> int:
        return sum(k.raised for k in self.kinds.values())

    @property
    def sent(self) -> int:
        return sum(k.sent for k in self.kinds.values())

    def lines(self) -> list[str]:
        """One line per kind that raised anything (``["alerts: none"]`` otherwise)."""
        if not self.kinds:
            return ["alerts: none"]
        return [self.kinds[k].line(self.cooldown) for k in sorted(self.kinds)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe: ``{kind: {raised, sent, suppressed, first, last, subjects}}``."""
        return {
            k: {
                "raised": s.raised,
                "sent": s.sent,
                "suppressed": s.suppressed,
                "first": s.first,
                "last": s.last,
                "subjects": dict(s.subjects),
            }
            for k, s in sorted(self.kinds.items())
        }


class AlertSink:
    """Rate-limit alerts per kind; log and POST (JSON body, to ``webhook``) the sent ones."""

    def __init__(
        self, webhook: str | None = None, *, cooldown: int = COOLDOWN, timeout: float = 2.0
    ) -> None:
        self.webhook = webhook
        self.cooldown = cooldown
        self.timeout = timeout
        self.failures = 0
        self._last: dict[str, int] = {}
        self._summary = AlertSummary(cooldown)

    def should_send(self, alert: Alert, step: int) -> bool:
        """Count ``alert``; False when one of its kind was sent fewer than ``cooldown`` steps
        ago."""
        s = self._summary.kinds.setdefault(alert.kind, KindSummary(alert.kind))
        s.raised += 1
        s.first = s.first or alert.timestamp
        s.last = alert.timestamp
        s.subjects[alert.subject] += 1
        last = self._last.get(alert.kind)
        if last is not None and step - last < self.cooldown:
            return False
        self._last[alert.kind] = step
        s.sent += 1
        return True

    def summary(self) -> AlertSummary:
        """The per-kind counts so far."""
        return self._summary

    def send(self, alert: Alert) -> None:
        """Log ``alert`` (WARNING) and POST it to the webhook, if any."""
        log.warning("ALERT %s %s: %s", alert.kind, alert.subject, alert.message)
        if self.webhook:
            self._post(alert)

    def _post(self, alert: Alert) -> None:
        body = json.dumps({"alert": alert.to_dict()}).encode()
        req = urllib.request.Request(
            str(self.webhook),
            data=body,
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:  # noqa: S310 - user URL
                resp.read()
        except OSError as exc:  # URLError, timeouts, refused connections
            self.failures += 1
            log.error("alert webhook %s failed: %s", self.webhook, exc)
