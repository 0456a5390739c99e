"""`regime-trader monitor DB`: a text summary and an HTML report of a monitoring database."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from regime_trader.monitoring.bands import METRICS, trend
from regime_trader.monitoring.store import MonitorStore
from regime_trader.utils.io import atomic_write_text

_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}
td,th{border:1px solid #ccc;padding:4px 10px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
td:last-child{text-align:left}.bad{color:#b00020;font-weight:600}.ok{color:#1b7f3b}img{max-width:100%}"""


def _img(fig: Figure, alt: str) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def summary(store: MonitorStore) -> dict:
    """Counts, the latest value of each metric with its band, trends, alerts by kind."""
    dec, met, alerts = store.frame("decisions"), store.frame("metrics"), store.frame("alerts")
    latest, trends = {}, {}
    for name, rows in met.groupby("metric", sort=False):
        last = rows.iloc[-1]
        latest[name] = {"value": last["value"], "lo": last["lo"], "hi": last["hi"]}
        t = trend(str(name), rows["value"].to_numpy()[-10:])
        if t is not None:
            trends[name] = {"slope": t.slope, "pvalue": t.pvalue, "is_improving": t.is_improving}
    ret = dec["ret"].dropna().to_numpy()
    return {
        "decisions": len(dec),
        "first": dec["timestamp"].iloc[0] if len(dec) else None,
        "last": dec["timestamp"].iloc[-1] if len(dec) else None,
        "model_versions": sorted(set(dec["model_version"].dropna())) if len(dec) else [],
        "total_return": float(np.prod(1 + ret) - 1) if ret.size else 0.0,
        "latest": latest,
        "trends": trends,
        "alerts": alerts["kind"].value_counts().to_dict() if len(alerts) else {},
        "alert_summary": json.loads(store.info().get("alert_summary", "{}")),
    }


def summary_lines(s: dict) -> list[str]:
    """Human lines of ``summary``."""
    span = "-" if s["first"] is None else f"{_when(s['first'])} to {_when(s['last'])}"
    lines = [
        f"{s['decisions']:,} decisions, {span}; "
        f"model {', '.join(s['model_versions']) or '-'}; total return {s['total_return']:+.2%}"
    ]
    for name, v in s["latest"].items():
        band = "" if v["hi"] is None or pd.isna(v["hi"]) else _band_text(v)
        t = s["trends"].get(name)
        arrow = "" if t is None else (" improving" if t["is_improving"] else " worsening")
        lines.append(f"  {name:<16} {v['value']:>10.4g}{band}{arrow}")
    per_kind = s.get("alert_summary") or {}
    if not per_kind:
        alerts = ", ".join(f"{k} {n}" for k, n in s["alerts"].items()) or "none"
        return [*lines, f"alerts: {alerts}"]
    lines.append("alerts (sent / raised; the rest fell within the per-kind cooldown):")
    for kind, k in per_kind.items():
        top = ", ".join(
            f"{name} {n}" for name, n in sorted(k["subjects"].items(), key=lambda kv: -kv[1])[:3]
        )
        lines.append(
            f"  {kind:<16} {k['sent']:>4} / {k['raised']:<5} {_when(k['first'])} to "
            f"{_when(k['last'])}; {top}"
        )
    return lines


def _band_text(v: dict) -> str:
    lo = "" if v["lo"] is None or pd.isna(v["lo"]) else _num(v["lo"])
    inside = (v["lo"] is None or pd.isna(v["lo"]) or v["value"] >= v["lo"]) and v["value"] <= v[
        "hi"
    ]
    return f"  band [{lo}, {_num(v['hi'])}] {'ok' if inside else 'OUTSIDE'}"


def _equity_figure(dec: pd.DataFrame) -> Figure:
    fig = Figure(figsize=(10, 3.2))
    ax = fig.add_subplot()
    r = dec["ret"].fillna(0.0).to_numpy()
    ax.plot(pd.to_datetime(dec["timestamp"]), np.cumprod(1 + r), lw=1.2, color="#1f5fa8")
    ax.set_title("Equity of the monitored model (1 = start)")
    ax.grid(alpha=0.3)
    return fig


def _metrics_figure(met: pd.DataFrame) -> Figure:
    names = [m for m in METRICS if m in set(met["metric"])]
    fig = Figure(figsize=(10, 2.2 * max(len(names), 1)))
    for i, name in enumerate(names):
        ax = fig.add_subplot(len(names), 1, i + 1)
        rows = met[met["metric"] == name]
        x = pd.to_datetime(rows["timestamp"])
        ax.plot(x, rows["value"], lw=1.2, color="#222", label=name)
        if rows["lo"].notna().any():
            ax.fill_between(x, rows["lo"], rows["hi"], color="#2a9d8f", alpha=0.18, label="band")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle("Rolling metrics against the validation bands")
    fig.tight_layout()
    return fig


def _num(x: float) -> str:
    return "0" if abs(x) < 1e-12 else f"{x:.4g}"


def _when(ts: object) -> str:
    """``2010-02-06`` for midnight bars, else ``2010-02-06 14:30`` (UTC)."""
    t = pd.Timestamp(str(ts))
    if pd.isna(t):
        return "-"
    return str(t.date()) if t == t.normalize() else t.strftime("%Y-%m-%d %H:%M")


def _table(df: pd.DataFrame, max_rows: int = 50) -> str:
    if df.empty:
        return "<p>none</p>"
    df = df.tail(max_rows).copy()
    if "timestamp" in df:
        df["timestamp"] = df["timestamp"].map(_when)
    return df.to_html(index=False, float_format=_num, border=0, na_rep="")


def _latest_table(s: dict) -> str:
    rows = []
    for name, v in s["latest"].items():
        band = "" if v["hi"] is None or pd.isna(v["hi"]) else _band_text(v).strip()
        cls = "bad" if "OUTSIDE" in band else "ok"
        t = s["trends"].get(name)
        tr = (
            ""
            if t is None
            else f"{t['slope']:+.3g}/snapshot ({'improving' if t['is_improving'] else 'worsening'})"
        )
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td>{v['value']:.4g}</td><td class='{cls}'>{html.escape(band)}</td><td>{tr}</td></tr>"
        )
    head = "<tr><th>metric</th><th>latest</th><th>band</th><th>trend (last 10)</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def write_html(store: MonitorStore, path: str | Path) -> Path:
    """Write the HTML report (summary, charts, alerts, latest drift) to ``path``."""
    s = summary(store)
    dec, met = store.frame("decisions"), store.frame("metrics")
    drift, alerts = store.frame("drift"), store.frame("alerts")
    if len(drift):
        drift = drift[drift["step"] == drift["step"].max()].drop(columns=["step"])
    parts = [
        f"<h1>Monitoring report</h1><p>{html.escape(summary_lines(s)[0])}</p>",
        "<h2>Latest metrics</h2>",
        _latest_table(s),
        _img(_equity_figure(dec), "equity") if len(dec) else "",
        _img(_metrics_figure(met), "rolling metrics") if len(met) else "",
        f"<h2>Alerts ({len(alerts)})</h2>",
        _table(alerts.drop(columns=["model_version"], errors="ignore")),
        "<h2>Feature drift (latest check)</h2>",
        _table(drift),
        "<h2>Monitor settings</h2><pre>",
        html.escape(json.dumps(json.loads(store.info().get("config", "{}")), indent=1)),
        "</pre>",
    ]
    doc = f"<!doctype html><html><head><meta charset='utf-8'><title>Monitoring report</title><style>{_CSS}</style></head><body>{''.join(parts)}</body></html>"
    return atomic_write_text(path, doc)
