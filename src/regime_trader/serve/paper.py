"""Paper trading: replay a file bar by bar through the running service, as a live feed would.

Every bar is one ``POST /v1/decide`` of a stream session over real HTTP. The decisions are
accounted with the backtest's functions (`spec.fill_prices`, `growth_factors`,
`simulate_positions`: fills at the next open, costs on traded notional), and fed to a
`ModelMonitor` as they happen: a decision's return is known two bars later (next-open fills).
The record is one row per decision bar (``timestamp, action, side, position, return, cost,
latency_ms``), the per-bar table the A/B framework's sequential mode reads.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

import httpx
import numpy as np
import pandas as pd

from regime_trader.data import load_ohlcv
from regime_trader.envs import spec
from regime_trader.errors import ConfigError, DataError
from regime_trader.monitoring import Expectations, ModelMonitor, MonitorConfig
from regime_trader.policy.backtest import simulate
from regime_trader.policy.policy import ACTION_NAMES, Policy, check_out_of_sample, first_unseen
from regime_trader.utils.dates import utc


@dataclass(frozen=True)
class PaperResult:
    """The replay: the per-decision record and how long it took."""

    record: pd.DataFrame
    bars_sent: int
    seconds: float
    monitor: ModelMonitor | None


def _post(client: httpx.Client, body: dict) -> dict:
    resp = client.post("/v1/decide", json=body)
    if resp.status_code != 200:
        try:
            msg = resp.json().get("error", resp.text)
        except ValueError:
            msg = resp.text
        raise DataError(
            f"service refused the bar at {body['bar']['timestamp']}: {resp.status_code} {msg}"
        )
    return resp.json()


class _Ledger:
    """Decisions as they arrive; returns settled once the next fill is known."""

    def __init__(self, fill: str, cost_bps: float, monitor: ModelMonitor | None) -> None:
        self.fill, self.cost_bps, self.monitor = fill, cost_bps, monitor
        self.rows: list[dict] = []
        self.opens: list[float] = []
        self.closes: list[float] = []
        self._settled = 0
        self._held = 0.0

    def add_bar(self, bar: dict, out: dict) -> None:
        self.opens.append(float(bar["open"]))
        self.closes.append(float(bar["close"]))
        self._settle()
        if not out["ready"]:
            return
        row = {
            "timestamp": pd.Timestamp(out["timestamp"]),
            "bar": len(self.opens) - 1,
            "action": out["action_code"],
            "side": out["side"],
            "position": out["target_position"],
            "regime": int(out.get("regime_code", -1)),
            "latency_ms": out.get("latency_ms", np.nan),
        }
        self.rows.append(row)
        if self.monitor is not None:
            row["step"] = self.monitor.step + 1
            self.monitor.record(
                row["timestamp"].isoformat(),
                action=row["action"],
                position=row["position"],
                regime=row["regime"],
                latency_ms=row["latency_ms"],
                features=np.array(out["features"], dtype=float) if out.get("features") else None,
            )

    def _settle(self) -> None:
        fills = spec.fill_prices(np.array(self.opens), np.array(self.closes), self.fill)
        growth = spec.growth_factors(fills)
        while self._settled < len(self.rows):
            row = self.rows[self._settled]
            g = growth[row["bar"]]
            if not np.isfinite(g):
                return
            cost = spec.trade_cost(self._held, row["position"], self.cost_bps)
            row["return"] = float(spec.step_return(row["position"], g, cost))
            row["cost"] = float(cost)
            self._held = row["position"]
            if self.monitor is not None:
                self.monitor.add_return(row["step"], row["return"], row["position"])
            self._settled += 1

    def frame(self) -> pd.DataFrame:
        df = pd.DataFrame(self.rows)
        for col in ("return", "cost"):
            if col not in df:
                df[col] = np.nan
        df["action"] = [ACTION_NAMES[int(a)] for a in df["action"]] if len(df) else []
        cols = ["timestamp", "action", "side", "position", "return", "cost", "regime", "latency_ms"]
        return df[cols].set_index("timestamp") if len(df) else pd.DataFrame(columns=cols)


def paper_trade(
    url: str,
    token: str,
    bars: pd.DataFrame,
    *,
    env_cfg: Any,
    session_id: str | None = None,
    monitor: ModelMonitor | None = None,
    timeout: float = 30.0,
) -> PaperResult:
    """Send every bar of ``bars`` (OHLCV, oldest first) to the service at ``url``."""
    session_id = session_id or f"paper-{secrets.token_hex(4)}"
    ledger = _Ledger(env_cfg.fill, env_cfg.cost_bps, monitor)
    headers = {"Authorization": f"Bearer {token}"}
    start = time.perf_counter()
    with httpx.Client(base_url=url, headers=headers, timeout=timeout) as client:
        for ts, row in bars.iterrows():
            bar = {
                "timestamp": pd.Timestamp(str(ts)).isoformat(),
                **{k: float(row[k]) for k in ("open", "high", "low", "close")},
            }
            t0 = time.perf_counter()
            out = _post(client, {"bar": bar, "session_id": session_id})
            out["latency_ms"] = (time.perf_counter() - t0) * 1e3  # as the client saw it
            ledger.add_bar(bar, out)
    return PaperResult(ledger.frame(), len(bars), time.perf_counter() - start, monitor)


def paper_bars(
    model: Policy,
    bars: pd.DataFrame,
    source: str,
    *,
    start: str | None = None,
    end: str | None = None,
    allow_in_sample: bool = False,
) -> tuple[pd.DataFrame, bool]:
    """The bars to replay and whether the period is in sample.

    The first decision is at ``start`` (the bars before it feed the feature warm-up only);
    without ``start`` on the series the model trained on, it is ``env.window`` bars after
    the last bar the model trained or was selected on (``split.json``). A ``start`` inside
    those bars is refused unless ``allow_in_sample`` (the result is then labelled).

    Raises:
        ConfigError: an in-sample period without ``allow_in_sample``, or no bars left.
    """
    index = pd.DatetimeIndex(bars.index)
    unseen = first_unseen([model], source, index)
    in_sample = check_out_of_sample("paper", start, unseen, allow_in_sample)
    first = utc(start) if start else (None if unseen is None else unseen.first)
    lo = 0 if first is None else int(index.searchsorted(first))
    lo = max(0, lo - (model.min_bars - 3))  # warm-up bars: features and the window
    hi = len(index) if end is None else int(index.searchsorted(utc(end), "right"))
    out = bars.iloc[lo:hi]
    if len(out) < model.min_bars:
        raise ConfigError(
            f"paper: {len(out)} bars between {start or 'the out-of-sample start'} and "
            f"{end or 'the end'}; {model.name} needs at least {model.min_bars}"
        )
    return out, in_sample


def backtest_decisions(model: Policy, bars: pd.DataFrame) -> pd.DataFrame:
    """The backtest's decisions on the same bars (flat at the first full window)."""
    market = model.prepare(bars).market
    cfg = model.config.env
    first, last = cfg.window - 1, len(market) - 1
    path = model.decisions(market, first, last)
    res = simulate(market, path.positions, first, last, cfg.cost_bps, path.actions)
    return pd.DataFrame(
        {
            "action": [ACTION_NAMES[a] for a in path.actions],
            "position": path.positions,
            "return": res.returns,
        },
        index=market.index[first : last + 1],
    )


def validation_expectations(
    model: Policy, source: str | pd.DataFrame, mcfg: MonitorConfig
) -> Expectations:
    """Bands from the model's validation split of ``source`` (a dataset name, file or frame),
    drift reference from its training split (raw features and rule labels)."""
    cfg = model.config
    if isinstance(source, pd.DataFrame):
        data = model.prepare(source, source=cfg.data.source, split=True)
    else:
        data = model.prepare(load_ohlcv(str(source)), source=str(source), split=True)
    val = data.split.val
    first, last = val.start, val.stop - 2  # the last bar has no complete step
    if last - first + 1 < 2 * mcfg.window:
        raise ConfigError(
            f"validation split has {last - first + 1} bars; monitoring needs >= {2 * mcfg.window} "
            "(two windows): lower --window"
        )
    path = model.decisions(data.market, first, last)
    res = simulate(data.market, path.positions, first, last, cfg.env.cost_bps, path.actions)
    train, labels = data.split.train, data.market.regimes.cpu().numpy()
    return Expectations.from_validation(
        res.returns,
        res.positions,
        mcfg,
        features=data.features.values[train],
        names=list(data.features.names),
        regimes=labels[train],
        val_features=data.features.values[val],
        val_regimes=labels[val],
    )
